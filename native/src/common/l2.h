/*
 * The fixed summation order of the L2 penalty's sum of squares, shared by the
 * CPU kernel and the CUDA kernel so that both add the same doubles in the same
 * order and return the same bits, for any thread count or launch shape:
 *  - x is cut into chunks of NF_L2_CHUNK elements (the last one shorter);
 *  - in a chunk of len elements, lane l (0 <= l < NF_L2_LANES) sums, from 0 in
 *    ascending order, the squares of elements 8k + l for 8k + 8 <= len;
 *  - the chunk's sum is, from 0, the squares of its last len % 8 elements in
 *    order, then lanes 0 to 7 in order;
 *  - the result is, from 0, the chunks' sums in order.
 * Each square of a float is exact in double, so a fused multiply-add would
 * round the same way as the product and the sum.
 */
#ifndef NF_COMMON_L2_H
#define NF_COMMON_L2_H

#include <stdint.h>

/* 2^15: also the CPU's parallel work threshold, so inputs below one chunk run on the calling thread. */
#define NF_L2_CHUNK ((int64_t)1 << 15)
#define NF_L2_LANES 8

#ifdef __cplusplus
extern "C" {
#endif

/* The argument checks of nf_l2_bwd_f32, in its order and with its messages under the name op. */
int32_t nf_l2_bwd_check(const char *op, const float *grad, const float *x, int64_t n, float lambda,
                        int32_t accumulate);

#ifdef __cplusplus
}
#endif

#endif
