/*
 * Dropout forward, mask and backward (Srivastava et al., JMLR 2014) on the
 * Philox stream of dropout.h. The Philox rounds run eight blocks to a vector
 * at the avx2 level and sixteen at the avx512 level; they are integer
 * arithmetic, so every level draws the same words, and every level keeps a
 * word by the same integer comparison (keep_below), so the masks agree.
 */
#include "../common/dropout.h"

#include <stddef.h>
#include <string.h>

#include "dispatch.h"

#include "../common/error.h"
#include "../common/parallel.h"

#if NF_HAVE_X86_LEVELS
#include <immintrin.h>
#endif

/*
 * Elements per parallel task. A task's draws live in a stack buffer of about
 * this many words (16 KiB, in L1); a multiple of 4 so that tasks share no
 * Philox block when the offset is one. The split never changes a result
 * because each element's draw depends on o + i only.
 */
enum { CHUNK = 4096 };

enum mode { MODE_MASK, MODE_PLAIN, MODE_INVERTED };

/*
 * The four words of each of `count` consecutive Philox blocks from counter
 * `block`, in stream order, one block at a time: GCC does not vectorize the
 * rounds (SSE2 has no 32-bit high multiply), but independent blocks still
 * overlap in the out-of-order core.
 */
static void philox_blocks_scalar(uint32_t *out, uint64_t seed, uint64_t block, int64_t count) {
    const uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    for (int64_t b = 0; b < count; b++) {
        const uint64_t c = block + (uint64_t)b;
        const uint32_t ctr[4] = {(uint32_t)c, (uint32_t)(c >> 32), 0, 0};
        nf_philox4x32_10_block(ctr, key, out + 4 * b);
    }
}

/*
 * The keep rule of dropout.h as an integer comparison: nf_dropout_keep_draw(w,
 * threshold) holds exactly when w < keep_below(threshold). The uniform of w is
 * non-decreasing in w (the conversion to float, the exact product by 2^-32
 * and the addition all round monotonically), so the kept words are a prefix
 * of 0 .. 2^32 - 1, whose end a binary search over the rule itself finds. The
 * result is 2^32 (every word kept) only for threshold > 1, that is p == 0.
 */
static uint64_t keep_below(float threshold) {
    uint64_t lo = 0, hi = UINT64_C(1) << 32;
    while (lo < hi) {
        const uint64_t mid = lo + (hi - lo) / 2;
        if (nf_dropout_keep_draw((uint32_t)mid, threshold))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/*
 * Elements [i0, i0 + len) of one call, len <= CHUNK: draws offset + i0 onwards
 * come from the blocks covering them, the first and last possibly in part;
 * philox_blocks computes those blocks (any of this file's, all give the same words).
 * A word is kept when it is below `limit` (keep_below, < 2^32 here).
 */
static inline __attribute__((always_inline)) void dropout_chunk(
    void (*philox_blocks)(uint32_t *, uint64_t, uint64_t, int64_t), float *y, const float *x, int64_t i0,
    int64_t len, uint64_t seed, uint64_t offset, uint32_t limit, float scale, enum mode mode) {
    uint32_t words[CHUNK + 8];
    const uint64_t first = offset + (uint64_t)i0;
    const uint64_t last = first + (uint64_t)(len - 1);
    philox_blocks(words, seed, first >> 2, (int64_t)((last >> 2) - (first >> 2)) + 1);
    const uint32_t *draw = words + (first & 3);
    switch (mode) {
    case MODE_MASK:
        for (int64_t k = 0; k < len; k++)
            y[k] = draw[k] < limit ? 1.0f : 0.0f;
        break;
    /*
     * Dropped units are +0.0 whatever x holds (a select, not x * mask). The load
     * is unconditional and the product follows the select: GCC vectorizes
     * neither a conditional load nor, under -ftrapping-math, a speculated product.
     */
    case MODE_PLAIN:
        for (int64_t k = 0; k < len; k++) {
            const float v = x[k];
            y[k] = draw[k] < limit ? v : 0.0f;
        }
        break;
    case MODE_INVERTED:
        for (int64_t k = 0; k < len; k++) {
            const float v = x[k];
            y[k] = (draw[k] < limit ? v : 0.0f) * scale;
        }
        break;
    }
}

/* One chunk at one level: the Philox rounds, and the comparisons and selects compiled for its instructions. */
typedef void chunk_fn(float *y, const float *x, int64_t i0, int64_t len, uint64_t seed, uint64_t offset,
                      uint32_t limit, float scale, enum mode mode);

static void chunk_scalar(float *y, const float *x, int64_t i0, int64_t len, uint64_t seed, uint64_t offset,
                         uint32_t limit, float scale, enum mode mode) {
    dropout_chunk(philox_blocks_scalar, y, x, i0, len, seed, offset, limit, scale, mode);
}

#if NF_HAVE_X86_LEVELS
/*
 * c * m for the eight 32-bit lanes of c: the high and the low words of the
 * 64-bit products, as Philox's mulhilo32. _mm256_mul_epu32 multiplies the
 * even lanes; the odd ones are shifted down to take their turn.
 */
NF_TARGET_AVX2 static inline void mulhilo8(__m256i c, __m256i m, __m256i *hi, __m256i *lo) {
    const __m256i even = _mm256_mul_epu32(c, m);
    const __m256i odd = _mm256_mul_epu32(_mm256_srli_epi64(c, 32), m);
    *hi = _mm256_blend_epi32(_mm256_srli_epi64(even, 32), odd, 0xAA);
    *lo = _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
}

/* Groups of eight blocks in flight: the rounds are a chain of dependent operations, which two groups overlap. */
#define PHILOX_GROUPS 2

/*
 * Philox4x32-10 on eight blocks per vector, block + l in lane l: the rounds of
 * nf_philox4x32_10_block in integer arithmetic, so the words are the same;
 * then a 4 x 8 transposition puts them in stream order. The counter's upper
 * words are 0, so the first round's second product is 0 (high and low) and
 * is not computed.
 */
NF_TARGET_AVX2 static void philox_blocks_avx2(uint32_t *out, uint64_t seed, uint64_t block, int64_t count) {
    const __m256i m0 = _mm256_set1_epi32((int)NF_PHILOX_M4X32_0);
    const __m256i m1 = _mm256_set1_epi32((int)NF_PHILOX_M4X32_1);
    const __m256i key0_first = _mm256_set1_epi32((int)(uint32_t)seed);
    const __m256i key1_first = _mm256_set1_epi32((int)(uint32_t)(seed >> 32));
    int64_t b = 0;
    for (; b + 8 * PHILOX_GROUPS <= count; b += 8 * PHILOX_GROUPS) {
        __m256i c0[PHILOX_GROUPS], c1[PHILOX_GROUPS], c2[PHILOX_GROUPS], c3[PHILOX_GROUPS];
#pragma GCC unroll 2
        for (int g = 0; g < PHILOX_GROUPS; g++) {
            /* The counters' 64-bit sums, split into low and high words, through the first round. */
            const uint64_t c = block + (uint64_t)(b + 8 * g);
            const __m256i lo = _mm256_setr_epi32(
                (int)(uint32_t)c, (int)(uint32_t)(c + 1), (int)(uint32_t)(c + 2), (int)(uint32_t)(c + 3),
                (int)(uint32_t)(c + 4), (int)(uint32_t)(c + 5), (int)(uint32_t)(c + 6), (int)(uint32_t)(c + 7));
            const __m256i hi = _mm256_setr_epi32(
                (int)(uint32_t)(c >> 32), (int)(uint32_t)((c + 1) >> 32), (int)(uint32_t)((c + 2) >> 32),
                (int)(uint32_t)((c + 3) >> 32), (int)(uint32_t)((c + 4) >> 32), (int)(uint32_t)((c + 5) >> 32),
                (int)(uint32_t)((c + 6) >> 32), (int)(uint32_t)((c + 7) >> 32));
            __m256i hi0, lo0;
            mulhilo8(lo, m0, &hi0, &lo0);
            c0[g] = _mm256_xor_si256(hi, key0_first);
            c1[g] = _mm256_setzero_si256();
            c2[g] = _mm256_xor_si256(hi0, key1_first);
            c3[g] = lo0;
        }
        uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
        for (int round = 1; round < 10; round++) {
            k0 += NF_PHILOX_W32_0;
            k1 += NF_PHILOX_W32_1;
            const __m256i key0 = _mm256_set1_epi32((int)k0), key1 = _mm256_set1_epi32((int)k1);
#pragma GCC unroll 2
            for (int g = 0; g < PHILOX_GROUPS; g++) {
                __m256i hi0, lo0, hi1, lo1;
                mulhilo8(c0[g], m0, &hi0, &lo0);
                mulhilo8(c2[g], m1, &hi1, &lo1);
                c0[g] = _mm256_xor_si256(_mm256_xor_si256(hi1, c1[g]), key0);
                c1[g] = lo1;
                c2[g] = _mm256_xor_si256(_mm256_xor_si256(hi0, c3[g]), key1);
                c3[g] = lo0;
            }
        }
#pragma GCC unroll 2
        for (int g = 0; g < PHILOX_GROUPS; g++) {
            const __m256i t0 = _mm256_unpacklo_epi32(c0[g], c1[g]), t1 = _mm256_unpackhi_epi32(c0[g], c1[g]);
            const __m256i t2 = _mm256_unpacklo_epi32(c2[g], c3[g]), t3 = _mm256_unpackhi_epi32(c2[g], c3[g]);
            /* Blocks (0, 4), (1, 5), (2, 6) and (3, 7) of the group, four words each. */
            const __m256i u0 = _mm256_unpacklo_epi64(t0, t2), u1 = _mm256_unpackhi_epi64(t0, t2);
            const __m256i u2 = _mm256_unpacklo_epi64(t1, t3), u3 = _mm256_unpackhi_epi64(t1, t3);
            __m256i *dst = (__m256i *)(out + 4 * (b + 8 * g));
            _mm256_storeu_si256(dst, _mm256_permute2x128_si256(u0, u1, 0x20));
            _mm256_storeu_si256(dst + 1, _mm256_permute2x128_si256(u2, u3, 0x20));
            _mm256_storeu_si256(dst + 2, _mm256_permute2x128_si256(u0, u1, 0x31));
            _mm256_storeu_si256(dst + 3, _mm256_permute2x128_si256(u2, u3, 0x31));
        }
    }
    philox_blocks_scalar(out + 4 * b, seed, block + (uint64_t)b, count - b);
}

/*
 * mulhilo8 on sixteen lanes: a masked in-lane shuffle that swaps the words of
 * each pair (_MM_PERM_CDAB) moves each product's high (low) word into the lane
 * the other product leaves free, in one instruction instead of a shift and a
 * blend.
 */
NF_TARGET_AVX512 static inline void mulhilo16(__m512i c, __m512i m, __m512i *hi, __m512i *lo) {
    const __m512i even = _mm512_mul_epu32(c, m);
    const __m512i odd = _mm512_mul_epu32(_mm512_srli_epi64(c, 32), m);
    *hi = _mm512_mask_shuffle_epi32(odd, 0x5555, even, _MM_PERM_CDAB);
    *lo = _mm512_mask_shuffle_epi32(even, 0xAAAA, odd, _MM_PERM_CDAB);
}

/* a ^ b ^ c in one instruction (truth table 0x96). */
NF_TARGET_AVX512 static inline __m512i xor3(__m512i a, __m512i b, __m512i c) {
    return _mm512_ternarylogic_epi32(a, b, c, 0x96);
}

/*
 * philox_blocks_avx2 on sixteen blocks per vector (one group: the rounds'
 * shorter dependency chain here needs no second one to overlap), then a
 * 4 x 16 transposition into stream order.
 */
NF_TARGET_AVX512 static void philox_blocks_avx512(uint32_t *out, uint64_t seed, uint64_t block, int64_t count) {
    const __m512i m0 = _mm512_set1_epi32((int)NF_PHILOX_M4X32_0);
    const __m512i m1 = _mm512_set1_epi32((int)NF_PHILOX_M4X32_1);
    const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    int64_t b = 0;
    for (; b + 16 <= count; b += 16) {
        /* The counters' 64-bit sums: the low words wrap past 2^32 - 1 where the high words carry. */
        const uint64_t c = block + (uint64_t)b;
        const __m512i first_lo = _mm512_set1_epi32((int)(uint32_t)c);
        const __m512i lo = _mm512_add_epi32(first_lo, lane);
        const __mmask16 carry = _mm512_cmplt_epu32_mask(lo, first_lo);
        const __m512i first_hi = _mm512_set1_epi32((int)(uint32_t)(c >> 32));
        const __m512i hi = _mm512_mask_add_epi32(first_hi, carry, first_hi, _mm512_set1_epi32(1));
        uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
        __m512i hi0, lo0, hi1, lo1;
        mulhilo16(lo, m0, &hi0, &lo0);
        __m512i c0 = _mm512_xor_si512(hi, _mm512_set1_epi32((int)k0));
        __m512i c1 = _mm512_setzero_si512();
        __m512i c2 = _mm512_xor_si512(hi0, _mm512_set1_epi32((int)k1));
        __m512i c3 = lo0;
        for (int round = 1; round < 10; round++) {
            k0 += NF_PHILOX_W32_0;
            k1 += NF_PHILOX_W32_1;
            mulhilo16(c0, m0, &hi0, &lo0);
            mulhilo16(c2, m1, &hi1, &lo1);
            c0 = xor3(hi1, c1, _mm512_set1_epi32((int)k0));
            c1 = lo1;
            c2 = xor3(hi0, c3, _mm512_set1_epi32((int)k1));
            c3 = lo0;
        }
        const __m512i t0 = _mm512_unpacklo_epi32(c0, c1), t1 = _mm512_unpackhi_epi32(c0, c1);
        const __m512i t2 = _mm512_unpacklo_epi32(c2, c3), t3 = _mm512_unpackhi_epi32(c2, c3);
        /* Blocks (0, 4, 8, 12), (1, 5, 9, 13), (2, 6, 10, 14) and (3, 7, 11, 15), one per 128-bit lane. */
        const __m512i u0 = _mm512_unpacklo_epi64(t0, t2), u1 = _mm512_unpackhi_epi64(t0, t2);
        const __m512i u2 = _mm512_unpacklo_epi64(t1, t3), u3 = _mm512_unpackhi_epi64(t1, t3);
        /* Blocks (0, 4, 1, 5), (2, 6, 3, 7), (8, 12, 9, 13) and (10, 14, 11, 15). */
        const __m512i v0 = _mm512_shuffle_i32x4(u0, u1, 0x44), v1 = _mm512_shuffle_i32x4(u2, u3, 0x44);
        const __m512i v2 = _mm512_shuffle_i32x4(u0, u1, 0xEE), v3 = _mm512_shuffle_i32x4(u2, u3, 0xEE);
        __m512i *dst = (__m512i *)(out + 4 * b);
        _mm512_storeu_si512(dst, _mm512_shuffle_i32x4(v0, v1, 0x88));
        _mm512_storeu_si512(dst + 1, _mm512_shuffle_i32x4(v0, v1, 0xDD));
        _mm512_storeu_si512(dst + 2, _mm512_shuffle_i32x4(v2, v3, 0x88));
        _mm512_storeu_si512(dst + 3, _mm512_shuffle_i32x4(v2, v3, 0xDD));
    }
    philox_blocks_avx2(out + 4 * b, seed, block + (uint64_t)b, count - b);
}

NF_TARGET_AVX2 static void chunk_avx2(float *y, const float *x, int64_t i0, int64_t len, uint64_t seed,
                                      uint64_t offset, uint32_t limit, float scale, enum mode mode) {
    dropout_chunk(philox_blocks_avx2, y, x, i0, len, seed, offset, limit, scale, mode);
}

NF_TARGET_AVX512 static void chunk_avx512(float *y, const float *x, int64_t i0, int64_t len, uint64_t seed,
                                          uint64_t offset, uint32_t limit, float scale, enum mode mode) {
    dropout_chunk(philox_blocks_avx512, y, x, i0, len, seed, offset, limit, scale, mode);
}

static chunk_fn *const CHUNKS[NF_CPU_LEVELS] = {chunk_scalar, chunk_avx2, chunk_avx512};
#else
static chunk_fn *const CHUNKS[NF_CPU_LEVELS] = {chunk_scalar, chunk_scalar, chunk_scalar};
#endif

static int32_t dropout_run(const char *op, float *y, const float *x, int64_t n, uint64_t seed, uint64_t offset,
                           float p, enum mode mode) {
    int level;
    const int32_t status = nf_cpu_level_for(op, &level);
    if (status != NF_OK) return status;
    chunk_fn *chunk = CHUNKS[level];
    const uint64_t below = keep_below(nf_dropout_threshold(p));
    /* p == 1 keeps nothing; a finite factor there keeps 0 * scale a zero instead of NaN. */
    const float scale = mode == MODE_INVERTED && p < 1.0f ? nf_dropout_scale(p) : 1.0f;
    const int64_t chunks = (n + CHUNK - 1) / CHUNK;
    NF_PARALLEL_IF(n >= NF_PARALLEL_MIN_WORK, nf_threads(),
        _Pragma("omp for schedule(static)")
        for (int64_t c = 0; c < chunks; c++) {
            const int64_t i0 = c * CHUNK;
            const int64_t len = n - i0 < CHUNK ? n - i0 : CHUNK;
            if (below > UINT32_MAX) {
                /* p == 0, which only the mask reaches (the maps copy): every unit kept. */
                for (int64_t k = 0; k < len; k++) y[i0 + k] = 1.0f;
            } else {
                chunk(y + i0, x == NULL ? NULL : x + i0, i0, len, seed, offset, (uint32_t)below, scale, mode);
            }
        }
    );
    return NF_OK;
}

int32_t nf_dropout_check(const char *op, int64_t n, uint64_t offset, float p) {
    NF_CHECK_POSITIVE(op, n);
    if (!(p >= 0.0f && p <= 1.0f))
        return nf_fail(NF_ERR_INVALID_ARGUMENT,
                       "%s: dropout probability has to be between 0 and 1, but got %.9g", op,
                       (double)p);
    /* cuRAND's counter is 128 bits wide: past draw 2^64 - 1 its stream is not offset + i mod 2^64. */
    if (offset + (uint64_t)(n - 1) < offset)
        return nf_fail(NF_ERR_INVALID_ARGUMENT,
                       "%s: offset + n must not exceed 2^64, got offset %llu and n %lld", op,
                       (unsigned long long)offset, (long long)n);
    return NF_OK;
}

/*
 * y = dropout(x) for the entry points that map an array: the forward, and the
 * backward, which is the same map applied to dy (dropout's Jacobian is the
 * diagonal kept * scale). The caller has checked y and x for NULL.
 */
static int32_t dropout_map(const char *op, float *y, const float *x, int64_t n, uint64_t seed, uint64_t offset,
                           float p, int32_t inverted) {
    const int32_t status = nf_dropout_check(op, n, offset, p);
    if (status != NF_OK) return status;
    if (inverted != 0 && inverted != 1)
        return nf_fail(NF_ERR_INVALID_ARGUMENT, "%s: inverted must be 0 or 1, got %d", op, inverted);

    /* PyTorch returns the input itself when p == 0: an exact copy, NaN payloads and -0.0 included. */
    if (p == 0.0f) {
        if (y != x) memmove(y, x, (size_t)n * sizeof *y);
        return NF_OK;
    }
    return dropout_run(op, y, x, n, seed, offset, p, inverted ? MODE_INVERTED : MODE_PLAIN);
}

NF_API int32_t nf_dropout_fwd_f32(float *y, const float *x, int64_t n, uint64_t seed, uint64_t offset,
                                  float p, int32_t inverted) {
    static const char op[] = "nf_dropout_fwd_f32";
    NF_CHECK_PTR(op, y);
    NF_CHECK_PTR(op, x);
    return dropout_map(op, y, x, n, seed, offset, p, inverted);
}

/* No mask is kept between the passes: (seed, offset) draws it again, for the cost of the Philox rounds. */
NF_API int32_t nf_dropout_bwd_f32(float *dx, const float *dy, int64_t n, uint64_t seed, uint64_t offset, float p,
                                  int32_t inverted) {
    static const char op[] = "nf_dropout_bwd_f32";
    NF_CHECK_PTR(op, dx);
    NF_CHECK_PTR(op, dy);
    return dropout_map(op, dx, dy, n, seed, offset, p, inverted);
}

NF_API int32_t nf_dropout_mask_fwd_f32(float *mask, int64_t n, uint64_t seed, uint64_t offset, float p) {
    static const char op[] = "nf_dropout_mask_fwd_f32";
    NF_CHECK_PTR(op, mask);
    const int32_t status = nf_dropout_check(op, n, offset, p);
    if (status != NF_OK) return status;
    return dropout_run(op, mask, NULL, n, seed, offset, p, MODE_MASK);
}
