/* ReLU on the GPU: the CPU backend's rule (cpu/relu.c), element-wise, four elements per thread. */
#include "common.cuh"

namespace {

constexpr int kThreads = 256;

/* `x <= 0 ? 0 : x`, as cpu/relu.c: a NaN passes through, as torch.relu keeps it. */
__device__ __forceinline__ float relu(float x) { return x <= 0.0f ? 0.0f : x; }

/* Grid-stride over float4s when every pointer is 16-byte aligned, then the scalar tail. */
__global__ void __launch_bounds__(kThreads) relu_fwd_kernel(float *y, const float *x, int64_t n, bool vector) {
    const int64_t stride = (int64_t)gridDim.x * blockDim.x;
    int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    int64_t head = 0;
    if (vector) {
        head = n / 4 * 4;
        for (int64_t v = i; v < n / 4; v += stride) {
            float4 a = reinterpret_cast<const float4 *>(x)[v];
            reinterpret_cast<float4 *>(y)[v] = make_float4(relu(a.x), relu(a.y), relu(a.z), relu(a.w));
        }
    }
    for (int64_t e = head + i; e < n; e += stride) y[e] = relu(x[e]);
}

/* PyTorch's threshold_backward(grad, result, 0), as cpu/relu.c: `y <= 0 ? 0 : dy`. */
__global__ void __launch_bounds__(kThreads) relu_bwd_kernel(float *dx, const float *dy, const float *y, int64_t n) {
    const int64_t stride = (int64_t)gridDim.x * blockDim.x;
    for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < n; e += stride) {
        dx[e] = y[e] <= 0.0f ? 0.0f : dy[e];
    }
}

/* Enough blocks to fill the device a few times over; each thread then strides through the rest. */
unsigned int grid_for(int64_t work, int32_t device) {
    return nf_cuda_blocks(work, kThreads, (int64_t)nf_cuda_multiprocessors(device) * 8);
}

}  // namespace

NF_API int32_t nf_cuda_relu_fwd_f32(float *y, const float *x, int64_t n, int32_t device) {
    static const char op[] = "nf_cuda_relu_fwd_f32";
    NF_CHECK_PTR(op, y);
    NF_CHECK_PTR(op, x);
    NF_CHECK_POSITIVE(op, n);
    if (y != x) NF_CHECK_DISJOINT(op, y, n, x, n);
    cudaStream_t stream = nullptr;
    NF_CUDA_ENTER(op, device, stream);
    const bool vector = nf_aligned16(y) && nf_aligned16(x);
    NF_CUDA_LAUNCH_OR_FAIL(op, relu_fwd_kernel, grid_for(vector ? (n + 3) / 4 : n, device), kThreads, 0, stream, y,
                           x, n, vector);
    return NF_OK;
}

NF_API int32_t nf_cuda_relu_bwd_f32(float *dx, const float *dy, const float *y, int64_t n, int32_t device) {
    static const char op[] = "nf_cuda_relu_bwd_f32";
    NF_CHECK_PTR(op, dx);
    NF_CHECK_PTR(op, dy);
    NF_CHECK_PTR(op, y);
    NF_CHECK_POSITIVE(op, n);
    if (dx != dy) NF_CHECK_DISJOINT(op, dx, n, dy, n);
    NF_CHECK_DISJOINT(op, dx, n, y, n);
    cudaStream_t stream = nullptr;
    NF_CUDA_ENTER(op, device, stream);
    NF_CUDA_LAUNCH_OR_FAIL(op, relu_bwd_kernel, grid_for(n, device), kThreads, 0, stream, dx, dy, y, n);
    return NF_OK;
}
