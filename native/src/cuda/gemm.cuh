/*
 * The matrix products of the linear layers on the GPU, forward and backward,
 * and the column sums of their bias gradients, shared by linear.cu and
 * linear_ln_relu.cu.
 *
 * One tiled product c[m, n] = sum_k a(m, k) b(k, n): each block stages a
 * BK-deep slice of a BM x BK tile of a and a BK x BN tile of b in shared
 * memory (zero past the matrices' edges, so any size works), and each thread
 * keeps a TM x TN micro-tile of c in registers, updated with fmaf
 * (register blocking: every shared value it reads feeds TN or TM
 * multiply-adds). Either operand may be stored transposed, which gives the
 * three products of a linear layer: y = x W^T (NT), dx = dy W (NN) and
 * dW = dy^T x (TN).
 *
 * Determinism and agreement with the CPU backend (cpu/gemm.h's contract):
 * element (m, n) starts from 0 and takes one fused multiply-add per k in
 * ascending k, then the bias, whatever the tile sizes and the grid: the
 * arithmetic of the CPU's avx2 and avx512 levels, bit for bit. The zeros past
 * the edge of k add +0 to a sum that started from +0 and so is never -0:
 * they change nothing.
 */
#ifndef NF_CUDA_GEMM_CUH
#define NF_CUDA_GEMM_CUH

#include "common.cuh"
#include "../common/host_device.h"

/*
 * Full unrolling of the micro-tile loops keeps the accumulators in registers;
 * the harness's compiler has no such pragma.
 */
#ifdef NF_CUDA_HARNESS
#define NF_UNROLL
#else
#define NF_UNROLL _Pragma("unroll")
#endif

/* How an operand is stored: as the product reads it (N) or transposed (T); see nf_gemm_args. */
enum nf_gemm_layout { NF_GEMM_N = 0, NF_GEMM_T = 1 };

/*
 * The shape of one block's product: BM x BN of c per block, BK terms of k per
 * stage, TM x TN per thread; blockDim.x = kThreads.
 */
template <int BM_, int BN_, int BK_, int TM_, int TN_>
struct nf_gemm_tile {
    static constexpr int BM = BM_, BN = BN_, BK = BK_, TM = TM_, TN = TN_;
    static constexpr int kThreadsN = BN / TN;
    static constexpr int kThreads = (BM / TM) * kThreadsN;
    static_assert(BM % TM == 0 && BN % TN == 0, "the micro-tiles cover the tile");
    static_assert(kThreads % 32 == 0 && kThreads <= 1024, "whole warps, at most 1024 threads");
};

/*
 * The operands of c[m, n] = sum_k a(m, k) b(k, n):
 *  a(m, k) is a[m * lda + k] when A = NF_GEMM_N, a[k * lda + m] when A = NF_GEMM_T;
 *  b(k, n) is b[k * ldb + n] when B = NF_GEMM_N, b[n * ldb + k] when B = NF_GEMM_T.
 */
struct nf_gemm_args {
    const float *a, *b;
    int64_t lda, ldb;
    int64_t m, n, k;
};

/*
 * Copies the rows x BK slice at (first row, k0) of an operand into
 * s[kk * stride + row], zero outside [0, limit) x [0, k): the k-major layout
 * the inner loop reads. kContiguousK says the operand's rows run along k in
 * memory (a of NF_GEMM_N, b of NF_GEMM_T); the threads then walk k fastest,
 * the other way rows fastest, so that neighbouring threads read neighbouring
 * addresses either way.
 */
template <int ROWS, int BK, int THREADS, bool kContiguousK>
__device__ __forceinline__ void nf_gemm_stage(float *s, int stride, const float *p, int64_t ld, int64_t first,
                                              int64_t limit, int64_t k0, int64_t k) {
    for (int idx = threadIdx.x; idx < ROWS * BK; idx += THREADS) {
        const int row = kContiguousK ? idx / BK : idx % ROWS;
        const int kk = kContiguousK ? idx % BK : idx / ROWS;
        const int64_t r = first + row, kg = k0 + kk;
        float v = 0.0f;
        if (r < limit && kg < k) v = kContiguousK ? p[r * ld + kg] : p[kg * ld + r];
        s[kk * stride + row] = v;
    }
}

/* Floats of shared memory that nf_gemm_block_product needs for Tile. */
template <class Tile>
constexpr int nf_gemm_shared_floats() {
    return Tile::BK * (Tile::BM + 1) + Tile::BK * (Tile::BN + 1);
}

/*
 * acc = the thread's TM x TN micro-tile of the product's block at (m0, n0):
 * rows m0 + tm * TM + i and columns n0 + tn * TN + j, tm and tn the thread's
 * place in the block (nf_gemm_thread_row / _col). smem holds
 * nf_gemm_shared_floats<Tile>() floats. Every thread of the block must call it
 * (it synchronizes); on return smem may be reused.
 */
template <class Tile, int A, int B>
__device__ __forceinline__ void nf_gemm_block_product(float (&acc)[Tile::TM][Tile::TN], const nf_gemm_args &g,
                                                      int64_t m0, int64_t n0, float *smem) {
    constexpr int BM = Tile::BM, BN = Tile::BN, BK = Tile::BK, TM = Tile::TM, TN = Tile::TN;
    /* One float of padding per k row: a transposing copy then writes to distinct banks. */
    constexpr int kStrideA = BM + 1, kStrideB = BN + 1;
    float *as = smem;
    float *bs = smem + BK * kStrideA;
    const int tm = threadIdx.x / Tile::kThreadsN, tn = threadIdx.x % Tile::kThreadsN;
    for (int i = 0; i < TM; i++)
        for (int j = 0; j < TN; j++) acc[i][j] = 0.0f;
    for (int64_t k0 = 0; k0 < g.k; k0 += BK) {
        nf_gemm_stage<BM, BK, Tile::kThreads, A == NF_GEMM_N>(as, kStrideA, g.a, g.lda, m0, g.m, k0, g.k);
        nf_gemm_stage<BN, BK, Tile::kThreads, B == NF_GEMM_T>(bs, kStrideB, g.b, g.ldb, n0, g.n, k0, g.k);
        __syncthreads();
NF_UNROLL
        for (int kk = 0; kk < BK; kk++) {
            float av[TM], bv[TN];
NF_UNROLL
            for (int i = 0; i < TM; i++) av[i] = as[kk * kStrideA + tm * TM + i];
NF_UNROLL
            for (int j = 0; j < TN; j++) bv[j] = bs[kk * kStrideB + tn * TN + j];
NF_UNROLL
            for (int i = 0; i < TM; i++)
NF_UNROLL
                for (int j = 0; j < TN; j++) acc[i][j] = fmaf(av[i], bv[j], acc[i][j]);
        }
        __syncthreads();
    }
}

/* The first row and column of the calling thread's micro-tile within its block. */
template <class Tile>
__device__ __forceinline__ int nf_gemm_thread_row() {
    return threadIdx.x / Tile::kThreadsN * Tile::TM;
}
template <class Tile>
__device__ __forceinline__ int nf_gemm_thread_col() {
    return threadIdx.x % Tile::kThreadsN * Tile::TN;
}

/*
 * Stores a gradient as PyTorch accumulates .grad, as cpu/gemm.h's
 * nf_store_grad: accumulate adds it to the old value (one float addition),
 * otherwise it overwrites.
 */
__device__ __forceinline__ void nf_cuda_store_grad(float *c, float g, bool accumulate) {
    *c = accumulate ? *c + g : g;
}

/* The tile of the plain products: 64 x 64 per block of 256 threads, 4 x 4 per thread. */
typedef nf_gemm_tile<64, 64, 16, 4, 4> nf_gemm_plain_tile;

/*
 * c[m, n] = product + bias[n] (bias may be NULL), stored by nf_cuda_store_grad
 * with `accumulate`; ldc is c's row stride. Grid: (ceil(m / BM), ceil(n / BN)).
 */
template <int A, int B>
__global__ void __launch_bounds__(nf_gemm_plain_tile::kThreads)
    nf_gemm_kernel(float *c, int64_t ldc, nf_gemm_args g, const float *bias, bool accumulate) {
    typedef nf_gemm_plain_tile Tile;
    __shared__ float smem[nf_gemm_shared_floats<Tile>()];
    const int64_t m0 = (int64_t)blockIdx.x * Tile::BM, n0 = (int64_t)blockIdx.y * Tile::BN;
    float acc[Tile::TM][Tile::TN];
    nf_gemm_block_product<Tile, A, B>(acc, g, m0, n0, smem);
    const int64_t row = m0 + nf_gemm_thread_row<Tile>(), col = n0 + nf_gemm_thread_col<Tile>();
    for (int i = 0; i < Tile::TM; i++) {
        if (row + i >= g.m) break;
        for (int j = 0; j < Tile::TN; j++) {
            if (col + j >= g.n) break;
            const float v = bias != nullptr ? acc[i][j] + bias[col + j] : acc[i][j];
            nf_cuda_store_grad(c + (row + i) * ldc + col + j, v, accumulate);
        }
    }
}

/* Launches nf_gemm_kernel<A, B> for the whole of c[m, n] on stream; the launch's cudaError_t. */
template <int A, int B>
cudaError_t nf_gemm_launch(float *c, const nf_gemm_args &g, const float *bias, bool accumulate,
                           cudaStream_t stream) {
    typedef nf_gemm_plain_tile Tile;
    (void)stream;  // the harness's launch has no stream
    const dim3 grid((unsigned int)((g.m + Tile::BM - 1) / Tile::BM), (unsigned int)((g.n + Tile::BN - 1) / Tile::BN));
    const auto kernel = nf_gemm_kernel<A, B>;  // a name without a comma for the launch macro
    return NF_LAUNCH(kernel, grid, Tile::kThreads, 0, stream, c, g.n, g, bias, accumulate);
}

/*
 * Column sums over rows x cols, sum_r term(r, j), in double: rows are split
 * into fixed chunks of NF_COLUMN_CHUNK (a partition that depends on rows
 * alone), each chunk summed in ascending r by one thread per column, then
 * the chunks' partials added in ascending chunk order. With one chunk the sum
 * is the CPU backend's (ascending r in double), bit for bit. One pass may
 * make several sums of the same rows (Term::kSums), e.g. dgamma, dbeta and
 * dbias, each in that same order.
 */
constexpr int64_t NF_COLUMN_CHUNK = 256;
constexpr int NF_COLUMN_THREADS = 256;

/* Chunks of NF_COLUMN_CHUNK rows covering rows. */
static inline NF_HOST_DEVICE int64_t nf_column_chunks(int64_t rows) {
    return (rows + NF_COLUMN_CHUNK - 1) / NF_COLUMN_CHUNK;
}

/* Where the K sums go: out[s][cols], each NULL when that sum is not wanted. */
template <int K>
struct nf_column_outputs {
    float *out[K];
};

/*
 * One chunk of rows per blockIdx.y (striding by gridDim.y), one column per
 * thread. Term is a functor with kSums sums: term(r, j, acc) adds element
 * (r, j)'s term of each sum s to acc[s]. With a single chunk each sum is
 * rounded and stored (nf_cuda_store_grad); otherwise it goes to
 * partial[(s * chunks + chunk) * cols + j].
 */
template <class Term>
__global__ void __launch_bounds__(NF_COLUMN_THREADS)
    nf_column_sums_kernel(nf_column_outputs<Term::kSums> o, double *partial, Term term, int64_t rows, int64_t cols,
                          bool accumulate) {
    constexpr int K = Term::kSums;
    const int64_t j = (int64_t)blockIdx.x * NF_COLUMN_THREADS + threadIdx.x;
    if (j >= cols) return;
    const int64_t chunks = nf_column_chunks(rows);
    for (int64_t c = blockIdx.y; c < chunks; c += gridDim.y) {
        const int64_t r1 = (c + 1) * NF_COLUMN_CHUNK < rows ? (c + 1) * NF_COLUMN_CHUNK : rows;
        double acc[K];
        for (int s = 0; s < K; s++) acc[s] = 0.0;
        for (int64_t r = c * NF_COLUMN_CHUNK; r < r1; r++) term(r, j, acc);
        for (int s = 0; s < K; s++) {
            if (chunks == 1) {
                if (o.out[s] != nullptr) nf_cuda_store_grad(o.out[s] + j, (float)acc[s], accumulate);
            } else {
                partial[(s * chunks + c) * cols + j] = acc[s];
            }
        }
    }
}

/* Each wanted sum s: the partials of its chunks added in ascending order, rounded once and stored. */
template <int K>
__global__ void __launch_bounds__(NF_COLUMN_THREADS)
    nf_column_sums_finish_kernel(nf_column_outputs<K> o, const double *partial, int64_t chunks, int64_t cols,
                                 bool accumulate) {
    const int64_t j = (int64_t)blockIdx.x * NF_COLUMN_THREADS + threadIdx.x;
    if (j >= cols) return;
    for (int s = 0; s < K; s++) {
        if (o.out[s] == nullptr) continue;
        double sum = 0.0;
        for (int64_t c = 0; c < chunks; c++) sum += partial[(s * chunks + c) * cols + j];
        nf_cuda_store_grad(o.out[s] + j, (float)sum, accumulate);
    }
}

/* The term of a plain column sum: a[r, j]. */
struct nf_column_of {
    static constexpr int kSums = 1;
    const float *a;
    int64_t cols;
    __device__ __forceinline__ void operator()(int64_t r, int64_t j, double *acc) const { acc[0] += a[r * cols + j]; }
};

/* Doubles of scratch the column sums of Term over rows x cols need (0: none, one chunk). */
template <class Term>
int64_t nf_column_partial_numel(int64_t rows, int64_t cols) {
    const int64_t chunks = nf_column_chunks(rows);
    return chunks > 1 ? Term::kSums * chunks * cols : 0;
}

/*
 * Launches the column sums of term into o; partial is scratch of
 * nf_column_partial_numel<Term>(rows, cols) doubles (NULL when that is 0).
 * The launches' cudaError_t.
 */
template <class Term>
cudaError_t nf_column_sums_launch(nf_column_outputs<Term::kSums> o, double *partial, Term term, int64_t rows,
                                  int64_t cols, bool accumulate, cudaStream_t stream) {
    (void)stream;  // the harness's launch has no stream
    const int64_t chunks = nf_column_chunks(rows);
    const dim3 grid((unsigned int)((cols + NF_COLUMN_THREADS - 1) / NF_COLUMN_THREADS),
                    (unsigned int)(chunks < 65535 ? chunks : 65535));
    cudaError_t error = NF_LAUNCH(nf_column_sums_kernel<Term>, grid, NF_COLUMN_THREADS, 0, stream, o, partial, term,
                                  rows, cols, accumulate);
    if (error != cudaSuccess || chunks == 1) return error;
    return NF_LAUNCH(nf_column_sums_finish_kernel<Term::kSums>, grid.x, NF_COLUMN_THREADS, 0, stream, o, partial,
                     chunks, cols, accumulate);
}

#endif
