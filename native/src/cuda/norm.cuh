/*
 * What the normalization kernels (layernorm.cu, batchnorm.cu) share: loads
 * and stores of groups of four floats (one float4 when the data allows it,
 * the same four elements one by one when not, so the arithmetic and its order
 * never depend on alignment), fixed column tiles whose per-column sums are
 * reduced in a fixed order, and the stream-ordered scratch buffer of a
 * two-stage reduction.
 */
#ifndef NF_CUDA_NORM_CUH
#define NF_CUDA_NORM_CUH

#include <initializer_list>

#include "common.cuh"

/*
 * Whether rows of n floats of every array given can be read by float4: n % 4
 * == 0 and every pointer 16-byte aligned (a NULL one, an absent array, is).
 */
static inline bool nf_vectorizable(int64_t n, std::initializer_list<const void *> arrays) {
    if (n % 4 != 0) return false;
    for (const void *p : arrays)
        if (!nf_aligned16(p)) return false;
    return true;
}

/*
 * Elements j..j+3 of a row of n (zero beyond n). vector: the row start is
 * 16-byte aligned and n % 4 == 0, so a group that starts inside the row is a
 * whole aligned float4.
 */
__device__ __forceinline__ void nf_load4(float v[4], const float *row, int64_t j, int64_t n, bool vector) {
    if (vector) {
        const float4 a = __ldg(reinterpret_cast<const float4 *>(row + j));
        v[0] = a.x;
        v[1] = a.y;
        v[2] = a.z;
        v[3] = a.w;
    } else {
        for (int i = 0; i < 4; i++) v[i] = j + i < n ? __ldg(row + j + i) : 0.0f;
    }
}

/* Stores the elements of j..j+3 that lie inside the row of n. */
__device__ __forceinline__ void nf_store4(float *row, int64_t j, int64_t n, const float v[4], bool vector) {
    if (vector) {
        *reinterpret_cast<float4 *>(row + j) = make_float4(v[0], v[1], v[2], v[3]);
    } else {
        for (int i = 0; i < 4; i++)
            if (j + i < n) row[j + i] = v[i];
    }
}

/*
 * Column tiles: a block of kColThreads threads covers kColTileCols columns
 * (lane l the four columns 4l..4l+3, so a warp reads 512 contiguous bytes of
 * a row) over kColChunkRows rows (warp w the rows w, w + 8, ...). The
 * partition depends only on the shape, so the partial sums, and what a second
 * kernel merges from them in chunk order, are the same on any device.
 */
constexpr int kColThreads = 256;
constexpr int kColWarps = kColThreads / 32;
constexpr int kColTileCols = 4 * 32;
constexpr int kColChunkRows = 128;

struct nf_col_tiling {
    int64_t rows, cols, chunks, col_tiles;
};

static inline nf_col_tiling nf_col_tiling_of(int64_t rows, int64_t cols) {
    return nf_col_tiling{rows, cols, (rows + kColChunkRows - 1) / kColChunkRows,
                         (cols + kColTileCols - 1) / kColTileCols};
}

/* A grid that gives each tile a block, capped (every block then strides over tiles; the sums do not change). */
static inline unsigned int nf_col_grid(const nf_col_tiling &t, int32_t device) {
    return nf_cuda_blocks(t.chunks * t.col_tiles, 1, (int64_t)nf_cuda_multiprocessors(device) * 8);
}

/*
 * Per-column sums of v (this thread's four columns' partial sums) over the
 * block's warps, in warp order, returned in v in every thread. scratch is the
 * caller's __shared__ array, reusable after the call.
 */
__device__ __forceinline__ void nf_col_block_sum(double v[4], double (*scratch)[kColTileCols]) {
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    __syncthreads();  // scratch may still be read by a previous call
    for (int i = 0; i < 4; i++) scratch[warp][4 * lane + i] = v[i];
    __syncthreads();
    for (int i = 0; i < 4; i++) {
        double s = 0;
        for (int w = 0; w < kColWarps; w++) s += scratch[w][4 * lane + i];
        v[i] = s;
    }
}

/*
 * A device allocation on the op's stream (cudaMallocAsync), freed on the
 * stream after the kernels that use it; on an early return (a failed launch)
 * the destructor frees it.
 */
class nf_cuda_scratch {
  public:
    explicit nf_cuda_scratch(cudaStream_t stream) : stream_(stream) {}
    nf_cuda_scratch(const nf_cuda_scratch &) = delete;
    nf_cuda_scratch &operator=(const nf_cuda_scratch &) = delete;
    ~nf_cuda_scratch() {
        if (ptr_ != nullptr) cudaFreeAsync(ptr_, stream_);
    }

    /* NF_OK, NF_ERR_OUT_OF_MEMORY or NF_ERR_CUDA, with op's message. */
    int32_t allocate(const char *op, int64_t bytes) {
        const cudaError_t error = cudaMallocAsync(&ptr_, (size_t)bytes, stream_);
        if (error == cudaErrorMemoryAllocation) {
            cudaGetLastError();
            ptr_ = nullptr;
            return nf_fail(NF_ERR_OUT_OF_MEMORY, "%s: cannot allocate %lld bytes of scratch: %s", op,
                           (long long)bytes, cudaGetErrorString(error));
        }
        if (error != cudaSuccess) ptr_ = nullptr;
        return nf_cuda_status(op, "cudaMallocAsync", error);
    }

    /* Frees the buffer after the work queued so far. */
    int32_t release(const char *op) {
        void *p = ptr_;
        ptr_ = nullptr;
        return nf_cuda_status(op, "cudaFreeAsync", cudaFreeAsync(p, stream_));
    }

    template <class T>
    T *as(int64_t offset_bytes = 0) const {
        return reinterpret_cast<T *>(static_cast<unsigned char *>(ptr_) + offset_bytes);
    }

  private:
    cudaStream_t stream_;
    void *ptr_ = nullptr;
};

#endif
