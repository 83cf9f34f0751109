/*
 * Dropout's per-element keep decision (Srivastava et al., JMLR 2014), shared by
 * the CPU kernel and a CUDA kernel so that both draw the same mask.
 *
 * Element i of a call with offset o is decided by draw o + i of the Philox
 * stream that curand_init(seed, 0, 0) starts (philox.h), turned into a float
 * in (0, 1] as curand_uniform does, and kept when that float is below
 * 1 - p, as PyTorch's CUDA dropout compares (fused_dropout_kernel: rand < p
 * with p the keep probability). The mask thus depends on (seed, o + i) only,
 * never on the thread count or on how the work is split.
 */
#ifndef NF_COMMON_DROPOUT_H
#define NF_COMMON_DROPOUT_H

#include <stdint.h>

#include "philox.h"

/*
 * The value a uniform is compared with, for a drop probability p in [0, 1]:
 * 1 - p rounded once to float. PyTorch returns the input unchanged when
 * p == 0, but curand_uniform can return exactly 1.0f, which u < 1 - 0 would
 * drop; 2 keeps every uniform in (0, 1]. p == 1 gives 0, which drops all.
 */
static inline NF_HOST_DEVICE float nf_dropout_threshold(float p) {
    return p == 0.0f ? 2.0f : 1.0f - p;
}

/* Whether the element whose stream draw is `draw` is kept under `threshold`. */
static inline NF_HOST_DEVICE int nf_dropout_keep_draw(uint32_t draw, float threshold) {
    return nf_uniform_from_u32(draw) < threshold;
}

/* Whether stream element `index` (o + i) is kept: the decision a CUDA thread makes on its own. */
static inline NF_HOST_DEVICE int nf_dropout_keep(uint64_t seed, uint64_t index, float threshold) {
    return nf_dropout_keep_draw(nf_philox_draw(seed, index), threshold);
}

/*
 * The factor kept units are multiplied by in inverted dropout, 1 / (1 - p)
 * rounded once to float; only meaningful for p < 1 (at p == 1 nothing is kept).
 */
static inline NF_HOST_DEVICE float nf_dropout_scale(float p) {
    return 1.0f / (1.0f - p);
}

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The checks every dropout entry point makes, with their messages under the
 * name op: n >= 1, p in [0, 1], and a stream range offset .. offset + n - 1
 * that does not wrap.
 */
int32_t nf_dropout_check(const char *op, int64_t n, uint64_t offset, float p);

#ifdef __cplusplus
}
#endif

#endif
