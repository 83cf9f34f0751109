/*
 * Dropout forward, mask and backward on the GPU, on the Philox stream of
 * common/dropout.h: element i of a call takes stream draw offset + i, so the
 * masks are those of cpu/dropout.c bit for bit, whatever the launch shape.
 */
#include "common.cuh"
#include "../common/dropout.h"

namespace {

constexpr int kThreads = 256;

enum class Mode { kMask, kPlain, kInverted };

/*
 * Element `draw` decides: the mask's 1 or 0, or x kept or +0.0 (a select, not
 * x * mask, so a dropped NaN or inf is +0.0), then the inverted factor, in
 * cpu/dropout.c's order.
 */
template <Mode mode>
__device__ __forceinline__ float dropout_value(uint32_t draw, float v, float threshold, float scale) {
    const bool keep = nf_dropout_keep_draw(draw, threshold);
    if (mode == Mode::kMask) return keep ? 1.0f : 0.0f;
    if (mode == Mode::kPlain) return keep ? v : 0.0f;
    return (keep ? v : 0.0f) * scale;
}

/*
 * Thread t computes Philox block (offset >> 2) + t, whose four words are draws
 * 4 * ((offset >> 2) + t) + l (philox.h), that is elements
 * e0 + l = 4t - (offset & 3) + l: each block is computed once, and each thread
 * handles the elements of its own block, so any grid gives the same draws.
 * When offset is a multiple of 4 and x and y are 16-byte aligned, a block's
 * four elements are one float4.
 */
template <Mode mode>
__global__ void __launch_bounds__(kThreads)
    dropout_kernel(float *y, const float *x, int64_t n, int64_t blocks, uint64_t seed, uint64_t offset,
                   float threshold, float scale, bool vector) {
    const uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    const int64_t stride = (int64_t)gridDim.x * blockDim.x;
    const int64_t skew = (int64_t)(offset & 3);
    for (int64_t t = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; t < blocks; t += stride) {
        const uint64_t block = (offset >> 2) + (uint64_t)t;
        const uint32_t ctr[4] = {(uint32_t)block, (uint32_t)(block >> 32), 0, 0};
        uint32_t w[4];
        nf_philox4x32_10_block(ctr, key, w);
        const int64_t e0 = 4 * t - skew;
        if (vector && e0 + 4 <= n) {
            float4 v = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
            if (mode != Mode::kMask) v = reinterpret_cast<const float4 *>(x)[t];
            reinterpret_cast<float4 *>(y)[t] =
                make_float4(dropout_value<mode>(w[0], v.x, threshold, scale),
                            dropout_value<mode>(w[1], v.y, threshold, scale),
                            dropout_value<mode>(w[2], v.z, threshold, scale),
                            dropout_value<mode>(w[3], v.w, threshold, scale));
        } else {
            for (int l = 0; l < 4; l++) {
                const int64_t e = e0 + l;
                if (e < 0 || e >= n) continue;
                const float v = mode == Mode::kMask ? 0.0f : x[e];
                y[e] = dropout_value<mode>(w[l], v, threshold, scale);
            }
        }
    }
}

/* Launches the kernel for n elements from stream draw offset (the caller has checked the arguments). */
int32_t dropout_launch(const char *op, int32_t device, float *y, const float *x, int64_t n, uint64_t seed,
                       uint64_t offset, float p, Mode mode) {
    cudaStream_t stream = nullptr;
    NF_CUDA_ENTER(op, device, stream);
    const float threshold = nf_dropout_threshold(p);
    /* p == 1 keeps nothing; a finite factor there keeps 0 * scale a zero instead of NaN (cpu/dropout.c). */
    const float scale = mode == Mode::kInverted && p < 1.0f ? nf_dropout_scale(p) : 1.0f;
    /* The Philox blocks that hold draws offset .. offset + n - 1 (no wrap: nf_dropout_check). */
    const int64_t blocks = (int64_t)(((offset + (uint64_t)(n - 1)) >> 2) - (offset >> 2)) + 1;
    const bool vector = (offset & 3) == 0 && nf_aligned16(y) && (x == nullptr || nf_aligned16(x));
    const unsigned int grid = nf_cuda_blocks(blocks, kThreads, (int64_t)nf_cuda_multiprocessors(device) * 8);
    switch (mode) {
    case Mode::kMask:
        NF_CUDA_LAUNCH_OR_FAIL(op, dropout_kernel<Mode::kMask>, grid, kThreads, 0, stream, y, x, n, blocks, seed,
                               offset, threshold, scale, vector);
        break;
    case Mode::kPlain:
        NF_CUDA_LAUNCH_OR_FAIL(op, dropout_kernel<Mode::kPlain>, grid, kThreads, 0, stream, y, x, n, blocks, seed,
                               offset, threshold, scale, vector);
        break;
    case Mode::kInverted:
        NF_CUDA_LAUNCH_OR_FAIL(op, dropout_kernel<Mode::kInverted>, grid, kThreads, 0, stream, y, x, n, blocks,
                               seed, offset, threshold, scale, vector);
        break;
    }
    return NF_OK;
}

/* cpu/dropout.c's checks of the forward and the backward after their NULL checks. */
int32_t check_map(const char *op, int64_t n, uint64_t offset, float p, int32_t inverted) {
    const int32_t status = nf_dropout_check(op, n, offset, p);
    if (status != NF_OK) return status;
    NF_CHECK_FLAG(op, inverted);
    return NF_OK;
}

/* The forward, and the backward, which is the same map applied to dy (dropout's Jacobian is diagonal). */
int32_t dropout_map(const char *op, float *y, const float *x, int64_t n, uint64_t seed, uint64_t offset, float p,
                    int32_t inverted, int32_t device) {
    /* PyTorch returns the input itself when p == 0: an exact copy, NaN payloads and -0.0 included. */
    if (p == 0.0f) {
        cudaStream_t stream = nullptr;
        NF_CUDA_ENTER(op, device, stream);
        if (y == x) return NF_OK;
        return nf_cuda_status(op, "cudaMemcpyAsync",
                              cudaMemcpyAsync(y, x, (size_t)n * sizeof *y, cudaMemcpyDeviceToDevice, stream));
    }
    return dropout_launch(op, device, y, x, n, seed, offset, p, inverted ? Mode::kInverted : Mode::kPlain);
}

}  // namespace

NF_API int32_t nf_cuda_dropout_fwd_f32(float *y, const float *x, int64_t n, uint64_t seed, uint64_t offset, float p,
                                       int32_t inverted, int32_t device) {
    static const char op[] = "nf_cuda_dropout_fwd_f32";
    NF_CHECK_PTR(op, y);
    NF_CHECK_PTR(op, x);
    const int32_t status = check_map(op, n, offset, p, inverted);
    if (status != NF_OK) return status;
    /* One check more than the CPU's: GPU threads run in no set order, so y may be x but not overlap it otherwise. */
    if (y != x) NF_CHECK_DISJOINT(op, y, n, x, n);
    return dropout_map(op, y, x, n, seed, offset, p, inverted, device);
}

/* No mask is kept between the passes: (seed, offset) draws it again, for the cost of the Philox rounds. */
NF_API int32_t nf_cuda_dropout_bwd_f32(float *dx, const float *dy, int64_t n, uint64_t seed, uint64_t offset,
                                       float p, int32_t inverted, int32_t device) {
    static const char op[] = "nf_cuda_dropout_bwd_f32";
    NF_CHECK_PTR(op, dx);
    NF_CHECK_PTR(op, dy);
    const int32_t status = check_map(op, n, offset, p, inverted);
    if (status != NF_OK) return status;
    if (dx != dy) NF_CHECK_DISJOINT(op, dx, n, dy, n);
    return dropout_map(op, dx, dy, n, seed, offset, p, inverted, device);
}

NF_API int32_t nf_cuda_dropout_mask_fwd_f32(float *mask, int64_t n, uint64_t seed, uint64_t offset, float p,
                                            int32_t device) {
    static const char op[] = "nf_cuda_dropout_mask_fwd_f32";
    NF_CHECK_PTR(op, mask);
    const int32_t status = nf_dropout_check(op, n, offset, p);
    if (status != NF_OK) return status;
    return dropout_launch(op, device, mask, nullptr, n, seed, offset, p, Mode::kMask);
}
