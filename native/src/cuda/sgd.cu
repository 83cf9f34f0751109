/*
 * The SGD step on the GPU: common/sgd.h's update element by element, so every
 * parameter and momentum buffer element gets cpu/sgd.c's bits.
 */
#include "common.cuh"
#include "../common/sgd.h"

namespace {

constexpr int kThreads = 256;

/*
 * Grid-stride over float4s when every pointer is 16-byte aligned, then the
 * scalar tail. Without momentum (buf NULL) no buffer is read or written; the
 * flag is a template argument so that the buffer values stay in registers.
 */
template <bool momentum>
__global__ void __launch_bounds__(kThreads)
    sgd_kernel(float *param, float *buf, const float *grad, int64_t n, nf_sgd_params s, float keep, bool vector) {
    const int64_t stride = (int64_t)gridDim.x * blockDim.x;
    const int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    int64_t head = 0;
    if (vector) {
        head = n / 4 * 4;
        for (int64_t v = i; v < n / 4; v += stride) {
            float4 p = reinterpret_cast<const float4 *>(param)[v];
            const float4 g = reinterpret_cast<const float4 *>(grad)[v];
            float4 b = momentum ? reinterpret_cast<const float4 *>(buf)[v] : make_float4(0.0f, 0.0f, 0.0f, 0.0f);
            p.x = nf_sgd_update(p.x, momentum ? &b.x : nullptr, g.x, s, keep);
            p.y = nf_sgd_update(p.y, momentum ? &b.y : nullptr, g.y, s, keep);
            p.z = nf_sgd_update(p.z, momentum ? &b.z : nullptr, g.z, s, keep);
            p.w = nf_sgd_update(p.w, momentum ? &b.w : nullptr, g.w, s, keep);
            reinterpret_cast<float4 *>(param)[v] = p;
            if (momentum) reinterpret_cast<float4 *>(buf)[v] = b;
        }
    }
    for (int64_t e = head + i; e < n; e += stride) {
        float b = momentum ? buf[e] : 0.0f;
        param[e] = nf_sgd_update(param[e], momentum ? &b : nullptr, grad[e], s, keep);
        if (momentum) buf[e] = b;
    }
}

}  // namespace

NF_API int32_t nf_cuda_sgd_step_f32(float *param, float *momentum_buffer, const float *grad, int64_t n, float lr,
                                    float momentum, float dampening, float weight_decay, int32_t nesterov,
                                    int32_t first_step, int32_t device) {
    static const char op[] = "nf_cuda_sgd_step_f32";
    const nf_sgd_params s = {lr, momentum, dampening, weight_decay, nesterov, first_step};
    const int32_t status = nf_sgd_check(op, param, momentum_buffer, grad, n, s);
    if (status != NF_OK) return status;
    cudaStream_t stream = nullptr;
    NF_CUDA_ENTER(op, device, stream);
    float *buf = momentum != 0.0f ? momentum_buffer : nullptr;
    const float keep = 1.0f - dampening;
    const bool vector = nf_aligned16(param) && nf_aligned16(grad) && (buf == nullptr || nf_aligned16(buf));
    const unsigned int grid =
        nf_cuda_blocks(vector ? (n + 3) / 4 : n, kThreads, (int64_t)nf_cuda_multiprocessors(device) * 8);
    if (buf != nullptr) {
        NF_CUDA_LAUNCH_OR_FAIL(op, sgd_kernel<true>, grid, kThreads, 0, stream, param, buf, grad, n, s, keep, vector);
    } else {
        NF_CUDA_LAUNCH_OR_FAIL(op, sgd_kernel<false>, grid, kThreads, 0, stream, param, buf, grad, n, s, keep, vector);
    }
    return NF_OK;
}
