/*
 * The argument checks of the cross-entropy entry points, shared by
 * cross_entropy.c and the CUDA cross_entropy.cu so that both backends reject
 * the same arguments with the same messages. Internal: hidden, not part of
 * the ABI.
 *
 * A pass checks its pointers, sizes and scalars (nf_cross_entropy_*_check),
 * then every label (each backend where its labels are: the CUDA one on the
 * device), then, in the backward, the overlaps
 * (nf_cross_entropy_bwd_check_overlaps). Each returns NF_OK, or the failure
 * status under the name op.
 */
#ifndef NF_CPU_CROSS_ENTROPY_H
#define NF_CPU_CROSS_ENTROPY_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

int32_t nf_cross_entropy_fwd_check(const char *op, const float *loss, const float *logits, const int64_t *labels,
                                   int64_t rows, int64_t classes, float label_smoothing, int32_t reduction);
int32_t nf_cross_entropy_bwd_check(const char *op, const float *dlogits, const float *dloss, const float *logits,
                                   const int64_t *labels, int64_t rows, int64_t classes, float label_smoothing,
                                   int32_t reduction);
int32_t nf_cross_entropy_bwd_check_overlaps(const char *op, const float *dlogits, const float *dloss,
                                            const float *logits, const int64_t *labels, const float *weight,
                                            int64_t rows, int64_t classes, int32_t reduction);

#ifdef __cplusplus
}
#endif

#endif
