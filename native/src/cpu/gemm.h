/*
 * The matrix products of the linear layers, forward and backward, and the
 * column sums of their bias gradients, shared by linear.c, linear_ln_relu.c
 * and layernorm.c. Internal: hidden symbols, not part of the ABI; callers
 * validate pointers and sizes.
 *
 * Determinism contract of every routine here: each output element is summed
 * in one fixed order that depends on the reduction length alone, so it is
 * bit-identical whatever the tiling, the other dimensions and the threads.
 *
 * Work-sharing: the tiles are split by an orphaned `omp for` (with its barrier
 * at the end), so a caller inside a parallel region shares them among the
 * team, and every thread of the team must call the routine; outside a
 * parallel region the calling thread computes them all.
 */
#ifndef NF_CPU_GEMM_H
#define NF_CPU_GEMM_H

#include <stdint.h>

/*
 * Stores a gradient as PyTorch does: accumulate = 1 adds it to the old value
 * (.grad += g, one float addition), accumulate = 0 overwrites.
 */
static inline void nf_store_grad(float *c, float g, int accumulate) { *c = accumulate ? *c + g : g; }

/*
 * c[r, j] = sum_k a[r, k] * b[j, k] + bias[j] for a[rows, inner],
 * b[cols, inner] (a weight in PyTorch's [out, in] layout) and c[rows, cols];
 * bias may be NULL. c must not overlap a, b or bias. The forward product.
 */
void nf_gemm_nt_f32(float *c, const float *a, const float *b, const float *bias, int64_t rows,
                    int64_t inner, int64_t cols);

/*
 * c[r, j] = sum_k a[r, k] * b[k, j] for a[rows, inner], b[inner, cols] and
 * c[rows, cols]: dX = dY W in the backward pass (b a weight in PyTorch's
 * [out, in] layout, inner = out). c must not overlap a or b.
 */
void nf_gemm_nn_f32(float *c, const float *a, const float *b, int64_t rows, int64_t inner, int64_t cols);

/*
 * c[i, j] = sum_k a[k, i] * b[k, j] for a[inner, rows], b[inner, cols] and
 * c[rows, cols]: dW = dY^T X in the backward pass, the reduction running over
 * the batch (inner = batch rows). The sums are stored by nf_store_grad.
 * c must not overlap a or b.
 */
void nf_gemm_tn_f32(float *c, const float *a, const float *b, int64_t rows, int64_t inner, int64_t cols,
                    int accumulate);

/*
 * c[j] = sum_r a[r, j] over a[rows, cols]: the bias gradient, the product of
 * a row of ones and a. Summed in double in ascending r, rounded once and
 * stored by nf_store_grad. c must not overlap a.
 */
void nf_gemm_column_sums_f32(float *c, const float *a, int64_t rows, int64_t cols, int accumulate);

/*
 * Whether a product c[rows, cols] with a reduction of length inner is big
 * enough to pay for a parallel region.
 */
int nf_gemm_worth_parallel(int64_t rows, int64_t inner, int64_t cols);

#endif
