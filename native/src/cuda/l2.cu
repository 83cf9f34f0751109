/*
 * The L2 penalty on the GPU: the sum of squares in double, in the summation
 * order of common/l2.h, so the result is cpu/l2.c's bit for bit; and the
 * penalty's gradient, element-wise as cpu/l2.c computes it.
 */
#include "common.cuh"
#include "../common/l2.h"

namespace {

constexpr int kThreads = 256;
/* A chunk's lanes are NF_L2_LANES consecutive threads of one warp, so a warp holds whole chunks. */
constexpr int kChunksPerBlock = kThreads / NF_L2_LANES;
static_assert(32 % NF_L2_LANES == 0, "a chunk's lanes must lie in one warp");

/*
 * partial[c] = the sum of chunk c. Thread l of a chunk's group sums lane l, a
 * chain of up to NF_L2_CHUNK / 8 dependent additions (the order forbids a
 * tree); the loads run ahead of it. Lane 0 adds the tail and then lanes 0..7,
 * read with shuffles. The loop bound is the same for a whole block, so every
 * lane reaches the shuffles.
 */
__global__ void __launch_bounds__(kThreads) l2_chunk_kernel(double *partial, const float *x, int64_t n,
                                                            int64_t chunks) {
    const int lane = (int)(threadIdx.x % NF_L2_LANES);
    const int group_base = (int)(threadIdx.x % 32) - lane;
    for (int64_t base = (int64_t)blockIdx.x * kChunksPerBlock; base < chunks;
         base += (int64_t)gridDim.x * kChunksPerBlock) {
        const int64_t c = base + threadIdx.x / NF_L2_LANES;
        double lane_sum = 0.0, sum = 0.0;
        if (c < chunks) {
            const int64_t start = c * NF_L2_CHUNK;
            const int64_t len = n - start < NF_L2_CHUNK ? n - start : NF_L2_CHUNK;
            const float *xc = x + start;
            const int64_t body = len / NF_L2_LANES * NF_L2_LANES;
            for (int64_t i = lane; i < body; i += NF_L2_LANES) {
                const double v = xc[i];
                lane_sum += v * v;
            }
            if (lane == 0) {
                for (int64_t i = body; i < len; i++) {
                    const double v = xc[i];
                    sum += v * v;
                }
            }
        }
        for (int l = 0; l < NF_L2_LANES; l++) sum += __shfl_sync(NF_FULL_WARP, lane_sum, group_base + l);
        if (lane == 0 && c < chunks) partial[c] = sum;
    }
}

/*
 * *total = the chunks' sums added in order, from 0, as the CPU adds them: the
 * block stages kThreads partials at a time in shared memory, so that thread 0's
 * chain of additions waits on shared memory rather than on a global load each.
 */
__global__ void __launch_bounds__(kThreads) l2_total_kernel(double *total, const double *partial, int64_t chunks) {
    __shared__ double tile[kThreads];
    double sum = 0.0;
    for (int64_t base = 0; base < chunks; base += kThreads) {
        const int64_t c = base + threadIdx.x;
        __syncthreads();  // thread 0 has added the previous tile
        tile[threadIdx.x] = c < chunks ? partial[c] : 0.0;
        __syncthreads();
        if (threadIdx.x == 0) {
            const int count = chunks - base < kThreads ? (int)(chunks - base) : kThreads;
            for (int i = 0; i < count; i++) sum += tile[i];
        }
    }
    if (threadIdx.x == 0) *total = sum;
}

/* Enqueues both stages into scratch ([0] the total, then the partials) and copies the total to *host. */
int32_t enqueue_sum_squares(const char *op, cudaStream_t stream, int32_t device, double *scratch, const float *x,
                    int64_t n, int64_t chunks, double *host) {
    const unsigned int grid =
        nf_cuda_blocks(chunks, kChunksPerBlock, (int64_t)nf_cuda_multiprocessors(device) * 64);
    NF_CUDA_LAUNCH_OR_FAIL(op, l2_chunk_kernel, grid, kThreads, 0, stream, scratch + 1, x, n, chunks);
    NF_CUDA_LAUNCH_OR_FAIL(op, l2_total_kernel, 1, kThreads, 0, stream, scratch, scratch + 1, chunks);
    return nf_cuda_status(op, "cudaMemcpyAsync",
                          cudaMemcpyAsync(host, scratch, sizeof *host, cudaMemcpyDeviceToHost, stream));
}

/* grad = 2 lambda x, or grad + 2 lambda x: one product and one sum, each rounded once, as cpu/l2.c. */
__global__ void __launch_bounds__(kThreads) l2_bwd_kernel(float *grad, const float *x, int64_t n, float factor,
                                                          bool accumulate, bool vector) {
    const int64_t stride = (int64_t)gridDim.x * blockDim.x;
    const int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    int64_t head = 0;
    if (vector) {
        head = n / 4 * 4;
        for (int64_t v = i; v < n / 4; v += stride) {
            const float4 a = reinterpret_cast<const float4 *>(x)[v];
            float4 g = make_float4(factor * a.x, factor * a.y, factor * a.z, factor * a.w);
            if (accumulate) {
                const float4 old = reinterpret_cast<const float4 *>(grad)[v];
                g = make_float4(old.x + g.x, old.y + g.y, old.z + g.z, old.w + g.w);
            }
            reinterpret_cast<float4 *>(grad)[v] = g;
        }
    }
    for (int64_t e = head + i; e < n; e += stride) {
        const float g = factor * x[e];
        grad[e] = accumulate ? grad[e] + g : g;
    }
}

}  // namespace

/* The chunk sums and their total live in stream-ordered scratch; the call waits for the total. */
NF_API int32_t nf_cuda_l2_fwd_f32(double *sum_squares, const float *x, int64_t n, int32_t device) {
    static const char op[] = "nf_cuda_l2_fwd_f32";
    NF_CHECK_PTR(op, sum_squares);
    NF_CHECK_PTR(op, x);
    NF_CHECK_POSITIVE(op, n);
    cudaStream_t stream = nullptr;
    NF_CUDA_ENTER(op, device, stream);
    const int64_t chunks = (n + NF_L2_CHUNK - 1) / NF_L2_CHUNK;
    double *scratch = nullptr;
    const cudaError_t allocated = cudaMallocAsync((void **)&scratch, (size_t)(chunks + 1) * sizeof *scratch, stream);
    if (allocated == cudaErrorMemoryAllocation) {
        cudaGetLastError();
        return nf_fail(NF_ERR_OUT_OF_MEMORY, "%s: cannot allocate %lld partial sums", op, (long long)chunks);
    }
    if (allocated != cudaSuccess) return nf_cuda_status(op, "cudaMallocAsync", allocated);
    double total = 0.0;
    int32_t status = enqueue_sum_squares(op, stream, device, scratch, x, n, chunks, &total);
    const cudaError_t freed = cudaFreeAsync(scratch, stream);
    if (status == NF_OK) status = nf_cuda_status(op, "cudaFreeAsync", freed);
    if (status == NF_OK) status = nf_cuda_status(op, "cudaStreamSynchronize", cudaStreamSynchronize(stream));
    if (status == NF_OK) *sum_squares = total;
    return status;
}

NF_API int32_t nf_cuda_l2_bwd_f32(float *grad, const float *x, int64_t n, float lambda, int32_t accumulate,
                                  int32_t device) {
    static const char op[] = "nf_cuda_l2_bwd_f32";
    const int32_t status = nf_l2_bwd_check(op, grad, x, n, lambda, accumulate);
    if (status != NF_OK) return status;
    cudaStream_t stream = nullptr;
    NF_CUDA_ENTER(op, device, stream);
    /* 2 * lambda is exact in float (a doubling): see cpu/l2.c. */
    const float factor = 2.0f * lambda;
    const bool vector = nf_aligned16(grad) && nf_aligned16(x);
    const unsigned int grid =
        nf_cuda_blocks(vector ? (n + 3) / 4 : n, kThreads, (int64_t)nf_cuda_multiprocessors(device) * 8);
    NF_CUDA_LAUNCH_OR_FAIL(op, l2_bwd_kernel, grid, kThreads, 0, stream, grad, x, n, factor, accumulate != 0,
                           vector);
    return NF_OK;
}
