/*
 * Philox4x32-10 counter-based generator (Salmon, Moraes, Dror & Shaw, SC'11),
 * round and key schedule as in Random123's include/Random123/philox.h.
 *
 * Header-only and stateless: every draw is a pure function of (seed, index),
 * so any thread, and later any CUDA thread, can compute any draw directly.
 */
#ifndef NF_COMMON_PHILOX_H
#define NF_COMMON_PHILOX_H

#include <stdint.h>

#include "host_device.h"

/* Random123 philox.h: PHILOX_M4x32_0/1 and PHILOX_W32_0/1 (golden ratio, sqrt(3)-1). */
#define NF_PHILOX_M4X32_0 UINT32_C(0xD2511F53)
#define NF_PHILOX_M4X32_1 UINT32_C(0xCD9E8D57)
#define NF_PHILOX_W32_0 UINT32_C(0x9E3779B9)
#define NF_PHILOX_W32_1 UINT32_C(0xBB67AE85)

/*
 * cuRAND curand_globals.h CURAND_2POW32_INV. The literal rounds to exactly
 * 2^-32 in float, so x * 2^-32 is exact and a fused multiply-add (nvcc's
 * default -fmad=true) gives the same bits as a separate multiply and add.
 */
#define NF_CURAND_2POW32_INV (2.3283064e-10f)

/*
 * One Philox4x32-10 block: 10 rounds, the key bumped by the Weyl constants
 * before rounds 2..10 (Random123 philox4x32_R). out may alias ctr.
 */
static inline NF_HOST_DEVICE void nf_philox4x32_10_block(const uint32_t ctr[4], const uint32_t key[2],
                                                         uint32_t out[4]) {
    uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3];
    uint32_t k0 = key[0], k1 = key[1];
    for (int round = 0; round < 10; round++) {
        if (round > 0) {
            k0 += NF_PHILOX_W32_0;
            k1 += NF_PHILOX_W32_1;
        }
        const uint64_t p0 = (uint64_t)NF_PHILOX_M4X32_0 * c0;
        const uint64_t p1 = (uint64_t)NF_PHILOX_M4X32_1 * c2;
        const uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
        const uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
        c0 = hi1 ^ c1 ^ k0;
        c1 = lo1;
        c2 = hi0 ^ c3 ^ k1;
        c3 = lo0;
    }
    out[0] = c0;
    out[1] = c1;
    out[2] = c2;
    out[3] = c3;
}

/*
 * Draw number `index` of the stream curand_init(seed, 0, 0, &philox_state)
 * starts (cuRAND curand_kernel.h): key = (seed low, seed high), the 128-bit
 * counter is index / 4 (little-endian words), and curand() hands out the
 * block's words in order, so the draw is word index % 4.
 */
static inline NF_HOST_DEVICE uint32_t nf_philox_draw(uint64_t seed, uint64_t index) {
    const uint64_t block = index >> 2;
    const uint32_t ctr[4] = {(uint32_t)block, (uint32_t)(block >> 32), 0, 0};
    const uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    uint32_t out[4];
    nf_philox4x32_10_block(ctr, key, out);
    return out[index & 3];
}

/*
 * cuRAND curand_uniform.h _curand_uniform: float in (0, 1], computed in float
 * as x * CURAND_2POW32_INV + CURAND_2POW32_INV / 2, where cuRAND's implicit
 * unsigned-to-float conversion is spelled out. Never 0 (the smallest is
 * 2^-33); x >= 0xFFFFFF80 rounds to 1.0f.
 */
static inline NF_HOST_DEVICE float nf_uniform_from_u32(uint32_t x) {
    return (float)x * NF_CURAND_2POW32_INV + (NF_CURAND_2POW32_INV / 2.0f);
}

#endif
