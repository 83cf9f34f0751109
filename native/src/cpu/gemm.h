/*
 * The matrix products of the linear layers, forward and backward, and the
 * column sums of their bias gradients, shared by linear.c, linear_ln_relu.c
 * and layernorm.c. Internal: hidden symbols, not part of the ABI; callers
 * validate pointers and sizes.
 *
 * One engine computes every product c[rows, cols] = a[rows, inner] b[inner, cols]:
 * b packed into panels of NF_GEMM_PANEL columns (a weight once per update,
 * with nf_gemm_pack_weight_f32, or per call), a packed per block of rows, and
 * a register-blocked micro-kernel per SIMD level (dispatch.h) over cache
 * blocks of c.
 *
 * Determinism contract: element (i, j) starts from 0 and adds the products
 * a[i, k] * b[k, j] one at a time in ascending k, then the bias; at the
 * scalar level each product is rounded before it is added, at the avx2 and
 * avx512 levels each step is one fused multiply-add. Partial sums wait in
 * memory between blocks of k, which is exact, so at a given level the result
 * depends on inner alone: never on the tiling, the other dimensions, the
 * batch a row comes in or the threads. Levels may differ in the last bits.
 *
 * Work-sharing: the routines split their work by orphaned `omp for` loops
 * (each ending in a barrier), so a caller inside a parallel region shares it
 * among the team, and every thread of the team must call the routine; outside
 * a parallel region the calling thread does it all.
 */
#ifndef NF_CPU_GEMM_H
#define NF_CPU_GEMM_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Columns of b per packed panel; a packed b has its columns padded with zeros to a multiple of it. */
#define NF_GEMM_PANEL 16

/*
 * Stores a gradient as PyTorch does: accumulate = 1 adds it to the old value
 * (.grad += g, one float addition), accumulate = 0 overwrites.
 */
static inline void nf_store_grad(float *c, float g, int accumulate) { *c = accumulate ? *c + g : g; }

/* Floats of b[inner, cols] packed into panels, or -1 when that overflows int64_t. */
int64_t nf_gemm_packed_numel(int64_t inner, int64_t cols);

/*
 * Packs the weight w[cols, inner] (PyTorch's [out, in] layout) as the b of
 * c = a w^T: panel p holds b[k, j] = w[p * 16 + j, k] at
 * packed[p * 16 * inner + k * 16 + j], zero past the last column; the code
 * of `level` moves the data, and the bytes are the same at every level.
 * Team-shared.
 */
void nf_gemm_pack_weight_f32(int level, float *packed, const float *w, int64_t inner, int64_t cols);

/* Packs b[inner, cols] (row-major, as stored) into the same panels. Team-shared. */
void nf_gemm_pack_rows_f32(float *packed, const float *b, int64_t inner, int64_t cols);

/* The left operand: element (i, k) at p[i * row_stride + k * k_stride]. */
typedef struct {
    const float *p;
    int64_t row_stride, k_stride;
} nf_gemm_operand;

/*
 * Called when rows [r0, r1) of c hold their final values: by the thread that
 * computed them, right after, when its block spans every column; otherwise
 * after the team's barrier, shared among the team by rows.
 */
typedef struct {
    void (*run)(const void *context, int64_t r0, int64_t r1);
    const void *context;
} nf_gemm_epilogue;

/*
 * Scratch of one call, allocated before the parallel region for at most
 * `threads` threads: each thread's packed block of a and its partial sums of
 * an accumulated product, and a packed b when the call packs b itself.
 */
typedef struct {
    float *memory;
    float *packed_b;
    float *thread_memory;
    int64_t a_block_numel, partial_numel;
    int threads;
    int level;
} nf_gemm_workspace;

/*
 * Allocates the scratch of products at `level` (an NF_CPU_LEVEL_*) run by up
 * to `threads` threads, with up to max_rows rows and max_inner terms, room
 * for a packed b of packed_b_numel floats (0: none), and for partial sums
 * when a product accumulates (accumulate = 1). On failure records op's
 * NF_ERR_OUT_OF_MEMORY and returns it.
 */
int32_t nf_gemm_workspace_alloc(nf_gemm_workspace *ws, const char *op, int level, int threads, int64_t max_rows,
                                int64_t max_inner, int64_t packed_b_numel, int accumulate);

void nf_gemm_workspace_free(nf_gemm_workspace *ws);

/*
 * c[i, j] = sum_k a[i, k] b[k, j] + bias[j] over c[rows, cols] (leading
 * dimension cols), b packed (nf_gemm_pack_*), bias NULL for none; then, if
 * epilogue is not NULL, the epilogue on every row. c must not overlap the
 * operands. Team-shared.
 */
void nf_gemm_f32(const nf_gemm_workspace *ws, float *c, nf_gemm_operand a, const float *packed_b,
                 const float *bias, int64_t rows, int64_t inner, int64_t cols, const nf_gemm_epilogue *epilogue);

/*
 * c = a w^T + bias for a[rows, inner] and the weight w[cols, inner] as
 * stored, without packing it, when the level has a kernel for so few rows
 * (a batch of up to 8, inner up to 512): returns 1 having computed c, the
 * same bits as nf_gemm_f32 on the packed weight, else 0 and the caller packs
 * w. For a call on one thread (not team-shared).
 */
int nf_gemm_nt_small_f32(const nf_gemm_workspace *ws, float *c, const float *a, const float *w, const float *bias,
                         int64_t rows, int64_t inner, int64_t cols);

/*
 * c = a b for a[rows, inner] and b[inner, cols]: dX = dY W in the backward
 * pass (b a weight in PyTorch's [out, in] layout, inner = out), packing b
 * into ws->packed_b first. Team-shared.
 */
void nf_gemm_nn_f32(const nf_gemm_workspace *ws, float *c, const float *a, const float *b, int64_t rows,
                    int64_t inner, int64_t cols);

/*
 * c = a^T b for a[inner, rows] and b[inner, cols]: dW = dY^T X in the
 * backward pass, the reduction running over the batch (inner = batch rows),
 * packing b into ws->packed_b first. The sums are stored by nf_store_grad,
 * accumulate = 1 adding each one to c with one float addition. Team-shared.
 */
void nf_gemm_tn_f32(const nf_gemm_workspace *ws, float *c, const float *a, const float *b, int64_t rows,
                    int64_t inner, int64_t cols, int accumulate);

/*
 * c[j] = sum_r a[r, j] over a[rows, cols]: the bias gradient, the product of
 * a row of ones and a. Summed in double in ascending r, rounded once and
 * stored by nf_store_grad. c must not overlap a. Team-shared.
 */
void nf_gemm_column_sums_f32(float *c, const float *a, int64_t rows, int64_t cols, int accumulate);

/*
 * Whether a product c[rows, cols] with a reduction of length inner is big
 * enough to pay for a parallel region.
 */
int nf_gemm_worth_parallel(int64_t rows, int64_t inner, int64_t cols);

#ifdef __cplusplus
}
#endif

#endif
