/*
 * Tests of the harness itself: the barriers, shuffles and failures the CUDA
 * kernels rely on behave as on a GPU. Run by ctest (Maven's test phase).
 */
#include <cstdio>
#include <cstring>
#include <vector>

#include "nf_harness.h"

#define NF_LAUNCH(kernel, grid, block, shared_bytes, ...)                                              \
    (nf_harness_launch((grid), (block), (shared_bytes), #kernel, [=] { kernel(__VA_ARGS__); }),       \
     cudaGetLastError())

static int failures = 0;

#define EXPECT(cond, ...)                                                                              \
    do {                                                                                               \
        if (!(cond)) {                                                                                 \
            std::printf("FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                               \
            std::printf(__VA_ARGS__);                                                                  \
            std::printf("\n");                                                                         \
            failures++;                                                                                \
        }                                                                                              \
    } while (0)

/* Each thread reads its neighbour's slot after a barrier, then the slot is overwritten after a second one. */
__global__ void rotate(int *out) {
    __shared__ int slots[256];
    const int t = threadIdx.x;
    slots[t] = t + 1000 * blockIdx.x;
    __syncthreads();
    const int neighbour = slots[(t + 1) % blockDim.x];
    __syncthreads();
    slots[t] = -1;
    out[blockIdx.x * blockDim.x + t] = neighbour;
}

/* A block sum: warp shuffles, one partial per warp in shared memory, the first warp adds the partials. */
__global__ void block_sum(float *out, const float *x) {
    __shared__ float partials[32];
    const int t = threadIdx.x;
    float v = x[blockIdx.x * blockDim.x + t];
    for (int offset = 16; offset > 0; offset /= 2) v += __shfl_xor_sync(0xffffffffu, v, offset);
    if (t % 32 == 0) partials[t / 32] = v;
    __syncthreads();
    if (t < 32) {
        v = t < (int)blockDim.x / 32 ? partials[t] : 0.0f;
        for (int offset = 16; offset > 0; offset /= 2) v += __shfl_down_sync(0xffffffffu, v, offset);
        if (t == 0) out[blockIdx.x] = v;
    }
}

__global__ void broadcast(int *out) {
    const int lane = threadIdx.x % 32;
    out[threadIdx.x] = __shfl_sync(0xffffffffu, lane * 10, 5) + __shfl_up_sync(0xffffffffu, lane, 1);
}

__global__ void divergent_barrier(int *out) {
    if (threadIdx.x < 32) __syncthreads();
    out[threadIdx.x] = 1;
}

__global__ void early_return(int *out) {
    if (threadIdx.x == 7) return;
    __syncthreads();
    out[threadIdx.x] = 1;
}

__global__ void partial_mask(int *out) { out[threadIdx.x] = __shfl_xor_sync(0x0000ffffu, (int)threadIdx.x, 1); }

__global__ void dims(int *out) {
    const int linear = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
    const int block = blockIdx.x + gridDim.x * blockIdx.y;
    out[block * 64 + linear] = (int)(threadIdx.x + 10 * threadIdx.y + 100 * threadIdx.z + 1000 * blockIdx.y);
}

int main() {
    {
        std::vector<int> out(3 * 256);
        int *p = out.data();
        EXPECT(NF_LAUNCH(rotate, dim3(3), dim3(256), 0, p) == cudaSuccess, "launch");
        for (int b = 0; b < 3; b++)
            for (int t = 0; t < 256; t++)
                EXPECT(out[b * 256 + t] == (t + 1) % 256 + 1000 * b, "rotate[%d,%d] = %d", b, t, out[b * 256 + t]);
    }
    {
        std::vector<float> x(2 * 1024), out(2);
        for (size_t i = 0; i < x.size(); i++) x[i] = (float)(i % 7);
        float *po = out.data();
        const float *px = x.data();
        EXPECT(NF_LAUNCH(block_sum, dim3(2), dim3(1024), 0, po, px) == cudaSuccess, "launch");
        for (int b = 0; b < 2; b++) {
            double expected = 0;
            for (int i = 0; i < 1024; i++) expected += x[b * 1024 + i];
            EXPECT(out[b] == (float)expected, "block %d sum %g, expected %g", b, out[b], expected);
        }
    }
    {
        std::vector<int> out(64);
        int *p = out.data();
        EXPECT(NF_LAUNCH(broadcast, dim3(1), dim3(64), 0, p) == cudaSuccess, "launch");
        for (int t = 0; t < 64; t++) {
            const int lane = t % 32;
            EXPECT(out[t] == 50 + (lane == 0 ? 0 : lane - 1), "broadcast[%d] = %d", t, out[t]);
        }
    }
    {
        std::vector<int> out(2 * 64);
        int *p = out.data();
        EXPECT(NF_LAUNCH(dims, dim3(1, 2), dim3(8, 4, 2), 0, p) == cudaSuccess, "launch");
        EXPECT(out[64 + 7 + 8 * (3 + 4 * 1)] == 7 + 30 + 100 + 1000, "dims = %d", out[64 + 7 + 8 * 7]);
    }
    std::vector<int> scratch(1024);
    int *s = scratch.data();
    cudaError_t e = NF_LAUNCH(divergent_barrier, dim3(1), dim3(64), 0, s);
    EXPECT(e == cudaErrorLaunchFailure && std::strstr(cudaGetErrorString(e), "__syncthreads"), "divergent: %s",
           cudaGetErrorString(e));
    e = NF_LAUNCH(early_return, dim3(1), dim3(64), 0, s);
    EXPECT(e == cudaErrorLaunchFailure, "early return: %s", cudaGetErrorString(e));
    e = NF_LAUNCH(partial_mask, dim3(1), dim3(32), 0, s);
    EXPECT(e == cudaErrorLaunchFailure && std::strstr(cudaGetErrorString(e), "mask"), "mask: %s",
           cudaGetErrorString(e));
    e = NF_LAUNCH(rotate, dim3(1), dim3(1056), 0, s);
    EXPECT(e == cudaErrorInvalidConfiguration, "1056 threads: %s", cudaGetErrorString(e));
    e = NF_LAUNCH(rotate, dim3(0), dim3(32), 0, s);
    EXPECT(e == cudaErrorInvalidConfiguration, "empty grid: %s", cudaGetErrorString(e));
    EXPECT(cudaGetLastError() == cudaSuccess, "the error is cleared once read");
    {
        std::vector<int> out(3 * 256);
        int *p = out.data();
        EXPECT(NF_LAUNCH(rotate, dim3(3), dim3(256), 0, p) == cudaSuccess, "a launch after failures works");
        EXPECT(out[5] == 6, "rotate after failures = %d", out[5]);
    }
    std::printf("%s: %d failures\n", failures ? "FAILED" : "passed", failures);
    return failures ? 1 : 0;
}
