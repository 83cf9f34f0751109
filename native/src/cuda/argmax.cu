/*
 * Row-wise argmax on the GPU, a warp per row, with cpu/argmax.c's rule
 * (torch.argmax's): the first index of the largest value, and the first NaN
 * when there is one. Comparisons only, so the result is exact.
 */
#include "common.cuh"

namespace {

constexpr int kThreads = 256;
constexpr int kWarps = kThreads / 32;

/* A candidate: value and index; index -1 is none (a lane with no column). */
struct Candidate {
    float value;
    int64_t index;
};

__device__ __forceinline__ bool is_nan(float v) { return v != v; }

/*
 * Whether a beats b under the rule: a NaN beats every number, then the larger
 * value, and of equal values (or two NaNs) the smaller index. A strict total
 * order on the indices' candidates, so both lanes of a butterfly pair pick the
 * same one.
 */
__device__ __forceinline__ bool beats(Candidate a, Candidate b) {
    if (b.index < 0) return true;
    if (a.index < 0) return false;
    const bool a_nan = is_nan(a.value), b_nan = is_nan(b.value);
    if (a_nan != b_nan) return a_nan;
    if (!a_nan && a.value != b.value) return a.value > b.value;
    return a.index < b.index;
}

/* Element j after the lane's earlier (smaller) indices: strict >, and a NaN is kept once found. */
__device__ __forceinline__ void scan(Candidate &best, float v, int64_t j) {
    if (best.index < 0 || (!is_nan(best.value) && (is_nan(v) || v > best.value))) best = Candidate{v, j};
}

/*
 * Each warp takes rows warp, warp + warps, ...; lane l scans columns
 * l, l + 32, ... (or the float4s l, l + 32, ... when vector) in ascending
 * order, then the warp's 32 candidates meet in a butterfly.
 */
__global__ void __launch_bounds__(kThreads)
    argmax_kernel(int64_t *index, const float *x, int64_t rows, int64_t cols, bool vector) {
    const int lane = (int)(threadIdx.x % 32);
    const int64_t warps = (int64_t)gridDim.x * kWarps;
    for (int64_t r = (int64_t)blockIdx.x * kWarps + threadIdx.x / 32; r < rows; r += warps) {
        const float *row = x + r * cols;
        Candidate best{0.0f, -1};
        if (vector) {
            for (int64_t q = lane; q < cols / 4; q += 32) {
                const float4 v = reinterpret_cast<const float4 *>(row)[q];
                scan(best, v.x, 4 * q);
                scan(best, v.y, 4 * q + 1);
                scan(best, v.z, 4 * q + 2);
                scan(best, v.w, 4 * q + 3);
            }
        } else {
            for (int64_t j = lane; j < cols; j += 32) scan(best, row[j], j);
        }
        for (int offset = 16; offset > 0; offset /= 2) {
            const Candidate other{__shfl_xor_sync(NF_FULL_WARP, best.value, offset),
                                  __shfl_xor_sync(NF_FULL_WARP, best.index, offset)};
            if (beats(other, best)) best = other;
        }
        if (lane == 0) index[r] = best.index;
    }
}

}  // namespace

NF_API int32_t nf_cuda_argmax_fwd_f32(int64_t *index, const float *x, int64_t rows, int64_t cols, int32_t device) {
    static const char op[] = "nf_cuda_argmax_fwd_f32";
    NF_CHECK_PTR(op, index);
    NF_CHECK_PTR(op, x);
    NF_CHECK_POSITIVE(op, rows);
    NF_CHECK_POSITIVE(op, cols);
    cudaStream_t stream = nullptr;
    NF_CUDA_ENTER(op, device, stream);
    /* Every row starts 16-byte aligned when x does and cols is a multiple of 4. */
    const bool vector = cols % 4 == 0 && nf_aligned16(x);
    const unsigned int grid = nf_cuda_blocks(rows, kWarps, (int64_t)nf_cuda_multiprocessors(device) * 8);
    NF_CUDA_LAUNCH_OR_FAIL(op, argmax_kernel, grid, kThreads, 0, stream, index, x, rows, cols, vector);
    return NF_OK;
}
