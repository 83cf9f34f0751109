/*
 * Row routines of the softmax family, shared by softmax.c and cross_entropy.c.
 * Internal: not part of the ABI (hidden like every symbol without NF_API).
 */
#ifndef NF_CPU_SOFTMAX_H
#define NF_CPU_SOFTMAX_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The largest of x[0..n), or NaN when any element is NaN (PyTorch's max propagates NaN). */
float nf_row_max(const float *x, int64_t n);

/*
 * sum_j exp(x[j] - max) over x[0..n), each term accurate to about one float
 * ulp and accumulated in double in a fixed order. When e is not NULL, the
 * terms are stored in e[0..n) too, rounded to float (e may alias x).
 */
double nf_row_exp_sum(float *e, const float *x, int64_t n, float max);

/*
 * The checks of nf_softmax_fwd_f32 and nf_log_softmax_fwd_f32, in their order
 * and with their messages under the name op, for every backend. NF_OK, or
 * op's failure status.
 */
int32_t nf_softmax_fwd_check(const char *op, const float *y, const float *x, int64_t rows, int64_t cols);

#ifdef __cplusplus
}
#endif

#endif
