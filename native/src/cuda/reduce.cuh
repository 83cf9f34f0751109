/*
 * Warp and block reductions shared by the CUDA kernels. Each combines values
 * in a fixed tree (butterfly over lanes, then over warps in index order), so
 * a result depends only on the inputs and the block size, never on timing.
 * Every thread of the block must call the block reductions (they contain
 * __syncthreads), and blockDim.x must be a multiple of 32.
 */
#ifndef NF_CUDA_REDUCE_CUH
#define NF_CUDA_REDUCE_CUH

#include "common.cuh"
#include "../common/welford.h"

/* The sum over the warp's 32 lanes, in every lane (xor butterfly: every lane adds in the same order). */
template <class T>
__device__ __forceinline__ T nf_warp_sum(T v) {
    for (int offset = 16; offset > 0; offset /= 2) v += __shfl_xor_sync(NF_FULL_WARP, v, offset);
    return v;
}

/* The largest of the warp's values, in every lane; NaN wins, as in torch.max. */
__device__ __forceinline__ float nf_warp_max(float v) {
    for (int offset = 16; offset > 0; offset /= 2) {
        const float other = __shfl_xor_sync(NF_FULL_WARP, v, offset);
        v = (other > v || other != other) ? other : v;
    }
    return v;
}

/* Chan et al.'s merge of the warp's 32 partial statistics, in every lane. */
__device__ __forceinline__ nf_welford nf_warp_welford(nf_welford w) {
    for (int offset = 16; offset > 0; offset /= 2) {
        nf_welford other;
        other.count = __shfl_xor_sync(NF_FULL_WARP, w.count, offset);
        other.mean = __shfl_xor_sync(NF_FULL_WARP, w.mean, offset);
        other.m2 = __shfl_xor_sync(NF_FULL_WARP, w.m2, offset);
        /* Both lanes of a pair must merge in the same order to agree bit for bit. */
        const bool low = (threadIdx.x & offset) == 0;
        w = low ? nf_welford_merge(w, other) : nf_welford_merge(other, w);
    }
    return w;
}

/*
 * The sum over the block, in every thread: warp sums, then warp 0 adds the
 * per-warp partials. scratch holds 32 values in shared memory and may be
 * reused after the call returns.
 */
template <class T>
__device__ __forceinline__ T nf_block_sum(T v, T *scratch) {
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = blockDim.x / 32;
    v = nf_warp_sum(v);
    __syncthreads();  // scratch may still be read by a previous call
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    v = lane < warps ? scratch[lane] : T(0);
    return nf_warp_sum(v);
}

#endif
