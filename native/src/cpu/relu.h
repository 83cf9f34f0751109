/*
 * ReLU over a contiguous span, shared by relu.c and the fused
 * linear_ln_relu.c. Internal: hidden, not part of the ABI.
 */
#ifndef NF_CPU_RELU_H
#define NF_CPU_RELU_H

#include <stdint.h>

/* y[i] = max(x[i], 0) for i < n with the semantics of nf_relu_fwd_f32; y may be x. */
void nf_relu_span_f32(float *y, const float *x, int64_t n);

#endif
