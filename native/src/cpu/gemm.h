/*
 * The matrix product of the linear layers, shared by linear.c and
 * linear_ln_relu.c (and later the backward pass). Internal: hidden symbols,
 * not part of the ABI; callers validate pointers and sizes.
 */
#ifndef NF_CPU_GEMM_H
#define NF_CPU_GEMM_H

#include <stdint.h>

/*
 * c[r, j] = sum_k a[r, k] * b[j, k] + bias[j] for a[rows, inner],
 * b[cols, inner] (a weight in PyTorch's [out, in] layout) and c[rows, cols];
 * bias may be NULL. Each element is summed in one fixed order that depends on
 * inner alone, so it is bit-identical whatever the tiling, the number of rows
 * and the threads. c must not overlap a, b or bias.
 *
 * Work-sharing: the tiles are split by an orphaned `omp for` (with its barrier
 * at the end), so a caller inside a parallel region shares them among the
 * team, and every thread of the team must call it; outside a parallel region
 * the calling thread computes them all.
 */
void nf_gemm_nt_f32(float *c, const float *a, const float *b, const float *bias, int64_t rows,
                    int64_t inner, int64_t cols);

/* Whether a product of these sizes is big enough to pay for a parallel region. */
int nf_gemm_worth_parallel(int64_t rows, int64_t inner, int64_t cols);

#endif
