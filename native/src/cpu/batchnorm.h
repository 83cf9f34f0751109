/*
 * The argument checks of the BatchNorm entry points, shared by batchnorm.c and
 * the CUDA batchnorm.cu so that both backends reject the same arguments with
 * the same messages. Internal: hidden, not part of the ABI.
 */
#ifndef NF_CPU_BATCHNORM_H
#define NF_CPU_BATCHNORM_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The checks of nf_batchnorm_fwd_train_f32, nf_batchnorm_fwd_eval_f32,
 * nf_batchnorm_bwd_train_f32 and nf_batchnorm_bwd_eval_f32, each in its
 * order and with its messages under the name op (the pointers are only
 * compared). NF_OK, or op's failure status.
 */
int32_t nf_batchnorm_fwd_train_check(const char *op, const float *y, const float *save_mean, const float *save_rstd,
                                     const float *running_mean, const float *running_var, const float *x,
                                     const float *gamma, const float *beta, int64_t n, int64_t c, float eps,
                                     float momentum);
int32_t nf_batchnorm_fwd_eval_check(const char *op, const float *y, const float *x, const float *running_mean,
                                    const float *running_var, const float *gamma, const float *beta, int64_t n,
                                    int64_t c, float eps);
int32_t nf_batchnorm_bwd_train_check(const char *op, const float *dx, const float *dgamma, const float *dbeta,
                                     const float *dy, const float *x, const float *save_mean, const float *save_rstd,
                                     const float *gamma, int64_t n, int64_t c, int32_t accumulate);
int32_t nf_batchnorm_bwd_eval_check(const char *op, const float *dx, const float *dgamma, const float *dbeta,
                                    const float *dy, const float *x, const float *running_mean,
                                    const float *running_var, const float *gamma, int64_t n, int64_t c, float eps,
                                    int32_t accumulate);

#ifdef __cplusplus
}
#endif

#endif
