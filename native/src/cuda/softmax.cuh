/*
 * Row routines of the softmax family on the GPU, shared by softmax.cu and
 * cross_entropy.cu (as cpu/softmax.h is by their CPU namesakes): the row's
 * maximum and its sum of exp(x - max) in double, by a warp per row for rows
 * of up to kWarpMaxCols columns and by a block per row above.
 *
 * Every thread of a row owns the same columns whatever the alignment, chunks
 * of four consecutive ones (4v .. 4v+3 for v = tid, tid + width, ...), read
 * as one float4 when the row is 16-byte aligned and cols % 4 == 0: a thread's
 * terms are added in the same order either way, and the tree over threads is
 * fixed by the width, so every sum depends only on cols.
 */
#ifndef NF_CUDA_SOFTMAX_CUH
#define NF_CUDA_SOFTMAX_CUH

#include "reduce.cuh"
#include "../common/softmax.h"

/* The widest row a warp handles: 32 columns a lane at most; wider rows get a block each. */
constexpr int64_t kSoftmaxWarpMaxCols = 1024;

/* Four rows per 128-thread block, a warp each; rows beyond the grid's are strided (warps never sync). */
struct SoftmaxWarpRows {
    static constexpr int kThreads = 128;
    static constexpr int kRowsPerBlock = kThreads / 32;
    static constexpr int kWidth = 32;
    static constexpr int kBlocksPerSm = 16;
    static __device__ __forceinline__ int64_t first() { return (int64_t)blockIdx.x * kRowsPerBlock + threadIdx.x / 32; }
    static __device__ __forceinline__ int64_t stride() { return (int64_t)gridDim.x * kRowsPerBlock; }
    static __device__ __forceinline__ int tid() { return threadIdx.x % 32; }
    static __device__ __forceinline__ float max(float v) { return nf_warp_max(v); }
    static __device__ __forceinline__ double sum(double v) { return nf_warp_sum(v); }
};

/* One row per 256-thread block; every thread of a block runs the same rows, so the block reductions are uniform. */
struct SoftmaxBlockRows {
    static constexpr int kThreads = 256;
    static constexpr int kRowsPerBlock = 1;
    static constexpr int kWidth = kThreads;
    static constexpr int kBlocksPerSm = 8;
    static __device__ __forceinline__ int64_t first() { return blockIdx.x; }
    static __device__ __forceinline__ int64_t stride() { return gridDim.x; }
    static __device__ __forceinline__ int tid() { return threadIdx.x; }
    static __device__ __forceinline__ float max(float v) {
        __shared__ float scratch[32];
        const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
        v = nf_warp_max(v);
        __syncthreads();  // scratch may still be read by a previous call
        if (lane == 0) scratch[warp] = v;
        __syncthreads();
        return nf_warp_max(lane < kThreads / 32 ? scratch[lane] : -INFINITY);
    }
    static __device__ __forceinline__ double sum(double v) {
        __shared__ double scratch[32];
        return nf_block_sum(v, scratch);
    }
};

/* A launch shape: rows per warp or per block, and whether rows are read as float4. */
template <class Rows, bool Vec>
struct SoftmaxShape : Rows {
    static constexpr bool kVec = Vec;
};

/* Calls f(j, x[j]) for each column j of the row x[0..cols) that the calling thread owns. */
template <class S, class F>
__device__ __forceinline__ void nf_softmax_row_each(const float *x, int64_t cols, F f) {
    for (int64_t j = 4 * (int64_t)S::tid(); j < cols; j += 4 * S::kWidth) {
        if constexpr (S::kVec) {
            const float4 a = *reinterpret_cast<const float4 *>(x + j);
            f(j, a.x);
            f(j + 1, a.y);
            f(j + 2, a.z);
            f(j + 3, a.w);
        } else {
            for (int k = 0; k < 4 && j + k < cols; k++) f(j + k, x[j + k]);
        }
    }
}

/*
 * y[j] = f(j, x[j]) over the calling thread's columns; y may be x (each
 * thread reads a chunk before writing it, and no other thread touches it).
 */
template <class S, class F>
__device__ __forceinline__ void nf_softmax_row_map(float *y, const float *x, int64_t cols, F f) {
    for (int64_t j = 4 * (int64_t)S::tid(); j < cols; j += 4 * S::kWidth) {
        if constexpr (S::kVec) {
            const float4 a = *reinterpret_cast<const float4 *>(x + j);
            *reinterpret_cast<float4 *>(y + j) = make_float4(f(j, a.x), f(j + 1, a.y), f(j + 2, a.z), f(j + 3, a.w));
        } else {
            for (int k = 0; k < 4 && j + k < cols; k++) y[j + k] = f(j + k, x[j + k]);
        }
    }
}

/* The row's largest element in every thread of the row; NaN wins, as cpu/softmax.c's nf_row_max. */
template <class S>
__device__ __forceinline__ float nf_softmax_row_max(const float *x, int64_t cols) {
    float m = -INFINITY;
    nf_softmax_row_each<S>(x, cols, [&](int64_t, float v) {
        if (v > m || v != v) m = v;
    });
    return S::max(m);
}

/* sum_j nf_exp_shifted(x[j], max) in double, in every thread of the row (cpu/softmax.c: nf_row_exp_sum). */
template <class S>
__device__ __forceinline__ double nf_softmax_row_exp_sum(const float *x, int64_t cols, float max) {
    double s = 0;
    nf_softmax_row_each<S>(x, cols, [&](int64_t, float v) { s += nf_exp_shifted(v, max); });
    return S::sum(s);
}

/* Blocks for rows rows, enough to fill the device; the rows beyond are strided and each row's result is the same. */
template <class S>
unsigned int nf_softmax_grid(int64_t rows, int32_t device) {
    return nf_cuda_blocks(rows, S::kRowsPerBlock, (int64_t)nf_cuda_multiprocessors(device) * S::kBlocksPerSm);
}

/* Calls launch(shape) with the SoftmaxShape for rows of cols columns; vec when every row is 16-byte aligned. */
template <class F>
int32_t nf_softmax_dispatch(int64_t cols, bool vec, F launch) {
    if (cols <= kSoftmaxWarpMaxCols)
        return vec ? launch(SoftmaxShape<SoftmaxWarpRows, true>{}) : launch(SoftmaxShape<SoftmaxWarpRows, false>{});
    return vec ? launch(SoftmaxShape<SoftmaxBlockRows, true>{}) : launch(SoftmaxShape<SoftmaxBlockRows, false>{});
}

#endif
