/*
 * The argument checks of the fused Linear, LayerNorm and ReLU, shared by
 * linear_ln_relu.c and the CUDA linear_ln_relu.cu so that both backends reject
 * the same arguments with the same messages. Internal: hidden, not part of
 * the ABI.
 */
#ifndef NF_CPU_LINEAR_LN_RELU_H
#define NF_CPU_LINEAR_LN_RELU_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The argument checks of the forward entry points, in their order and with
 * their messages under the name op, for every backend (the pointers are only
 * compared): weight is the weight, or the packed weight when packed = 1.
 * Stores the floats of the packed weight of these sizes in *packed_numel on
 * success. NF_OK, or op's failure status.
 */
int32_t nf_linear_ln_relu_fwd_check(const char *op, const float *y, const float *h, const float *mean,
                                    const float *rstd, const float *x, const float *weight, int packed,
                                    int64_t rows, int64_t in_features, int64_t out_features, float eps, int32_t relu,
                                    int64_t *packed_numel);

/* The argument checks of nf_linear_ln_relu_bwd_f32, as nf_linear_ln_relu_fwd_check's. */
int32_t nf_linear_ln_relu_bwd_check(const char *op, const float *dx, const float *dweight, const float *dbias,
                                    const float *dgamma, const float *dbeta, const float *dy, const float *x,
                                    const float *weight, const float *h, const float *mean, const float *rstd,
                                    const float *gamma, const float *beta, int64_t rows, int64_t in_features,
                                    int64_t out_features, int32_t relu, int32_t accumulate);

#ifdef __cplusplus
}
#endif

#endif
