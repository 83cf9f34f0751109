/* Dropout forward, mask and backward (Srivastava et al., JMLR 2014) on the Philox stream of dropout.h. */
#include "../common/dropout.h"

#include <stddef.h>
#include <string.h>

#include "../common/error.h"
#include "../common/parallel.h"

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
 * `block`, in stream order. GCC does not vectorize the rounds at the x86-64
 * baseline (SSE2 has no 32-bit high multiply), so blocks are computed one at a
 * time; independent blocks still overlap in the out-of-order core.
 */
static void philox_blocks(uint32_t *out, uint64_t seed, uint64_t block, int64_t count) {
    const uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    for (int64_t b = 0; b < count; b++) {
        const uint64_t c = block + (uint64_t)b;
        const uint32_t ctr[4] = {(uint32_t)c, (uint32_t)(c >> 32), 0, 0};
        nf_philox4x32_10_block(ctr, key, out + 4 * b);
    }
}

/*
 * Elements [i0, i0 + len) of one call, len <= CHUNK: draws offset + i0 onwards
 * come from the blocks covering them, the first and last possibly in part.
 */
static void dropout_chunk(float *y, const float *x, int64_t i0, int64_t len, uint64_t seed,
                          uint64_t offset, float threshold, float scale, enum mode mode) {
    uint32_t words[CHUNK + 8];
    const uint64_t first = offset + (uint64_t)i0;
    const uint64_t last = first + (uint64_t)(len - 1);
    philox_blocks(words, seed, first >> 2, (int64_t)((last >> 2) - (first >> 2)) + 1);
    const uint32_t *draw = words + (first & 3);
    switch (mode) {
    case MODE_MASK:
        for (int64_t k = 0; k < len; k++)
            y[k] = nf_dropout_keep_draw(draw[k], threshold) ? 1.0f : 0.0f;
        break;
    /*
     * Dropped units are +0.0 whatever x holds (a select, not x * mask). The load
     * is unconditional and the product follows the select: GCC vectorizes
     * neither a conditional load nor, under -ftrapping-math, a speculated product.
     */
    case MODE_PLAIN:
        for (int64_t k = 0; k < len; k++) {
            const float v = x[k];
            y[k] = nf_dropout_keep_draw(draw[k], threshold) ? v : 0.0f;
        }
        break;
    case MODE_INVERTED:
        for (int64_t k = 0; k < len; k++) {
            const float v = x[k];
            y[k] = (nf_dropout_keep_draw(draw[k], threshold) ? v : 0.0f) * scale;
        }
        break;
    }
}

static void dropout_run(float *y, const float *x, int64_t n, uint64_t seed, uint64_t offset, float p,
                        enum mode mode) {
    const float threshold = nf_dropout_threshold(p);
    /* p == 1 keeps nothing; a finite factor there keeps 0 * scale a zero instead of NaN. */
    const float scale = mode == MODE_INVERTED && p < 1.0f ? nf_dropout_scale(p) : 1.0f;
    const int64_t chunks = (n + CHUNK - 1) / CHUNK;
#pragma omp parallel for schedule(static) num_threads(nf_threads()) if (n >= NF_PARALLEL_MIN_WORK)
    for (int64_t c = 0; c < chunks; c++) {
        const int64_t i0 = c * CHUNK;
        const int64_t len = n - i0 < CHUNK ? n - i0 : CHUNK;
        dropout_chunk(y + i0, x == NULL ? NULL : x + i0, i0, len, seed, offset, threshold, scale, mode);
    }
}

/* Checks shared by both entry points: n, p, and a stream range o .. o + n - 1 that does not wrap. */
static int32_t check_common(const char *op, int64_t n, uint64_t offset, float p) {
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
    const int32_t status = check_common(op, n, offset, p);
    if (status != NF_OK) return status;
    if (inverted != 0 && inverted != 1)
        return nf_fail(NF_ERR_INVALID_ARGUMENT, "%s: inverted must be 0 or 1, got %d", op, inverted);

    /* PyTorch returns the input itself when p == 0: an exact copy, NaN payloads and -0.0 included. */
    if (p == 0.0f) {
        if (y != x) memmove(y, x, (size_t)n * sizeof *y);
        return NF_OK;
    }
    dropout_run(y, x, n, seed, offset, p, inverted ? MODE_INVERTED : MODE_PLAIN);
    return NF_OK;
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
    const int32_t status = check_common(op, n, offset, p);
    if (status != NF_OK) return status;
    dropout_run(mask, NULL, n, seed, offset, p, MODE_MASK);
    return NF_OK;
}
