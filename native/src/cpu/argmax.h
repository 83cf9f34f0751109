/*
 * The argument checks of the argmax entry points, shared by argmax.c and the
 * CUDA argmax.cu so that both backends reject the same arguments with the
 * same messages. Internal: hidden, not part of the ABI.
 */
#ifndef NF_CPU_ARGMAX_H
#define NF_CPU_ARGMAX_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The checks of nf_argmax_fwd_f32, in its order and with its messages under the name op. NF_OK or the failure. */
int32_t nf_argmax_fwd_check(const char *op, const int64_t *index, const float *x, int64_t rows, int64_t cols);

#ifdef __cplusplus
}
#endif

#endif
