/*
 * The products of the linear layers on one engine, in the manner of GotoBLAS
 * and BLIS (Goto and van de Geijn, 2008; Van Zee and van de Geijn, 2015): b
 * packed into panels of NF_GEMM_PANEL columns, contiguous along k; a packed
 * per block of MC rows and KC terms into micro-panels of MR rows; and a
 * micro-kernel that keeps an MR x NR tile of c in registers while it runs
 * down a block of k, one broadcast element of a times one row of the panel
 * per step. The summation order is gemm.h's: each element in ascending k,
 * whatever the blocking.
 */
#include "gemm.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "dispatch.h"

#include "../common/error.h"
#include "../common/parallel.h"

#if NF_HAVE_X86_LEVELS
#include <immintrin.h>
#endif

/*
 * Cache blocks, measured on a core with 32 KiB of L1 and 512 KiB of L2 (AMD
 * Zen 3):
 *  - KC terms per block of k: a kernel's slice of a panel, KC x 16 floats
 *    (32 KiB), read from L1 and L2 while it meets every micro-panel of the
 *    block of a. Longer blocks mean fewer passes that store partial sums to c
 *    and load them again, which cost more than the L2 reads (256 gave 10 %
 *    less at 4096 x 1024 -> 1024);
 *  - MC rows per block of a, MC x KC floats (96 KiB), which stays in L2
 *    while every panel of b meets it; a multiple of every level's MR;
 *  - NC columns at most per tile of c, the unit the threads share.
 */
#define KC 512
#define MC 48
#define NC 4096

/* Columns per tile of a product that accumulates, whose partial sums wait in a buffer of MC x NC_PARTIAL floats. */
#define NC_PARTIAL 256

/* Bytes of c per tile when an epilogue runs on it: it should still be in L2 (with the block of a) when it does. */
#define EPILOGUE_TILE_BYTES ((int64_t)256 * 1024)

/* Multiply-adds below which a product runs on the calling thread: waking a team costs microseconds. */
#define PARALLEL_MIN_MULTIPLY_ADDS ((double)(1 << 18))

static inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static inline int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }
static inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

/* ---- Micro-kernels ---------------------------------------------------- */

/*
 * Where a micro-tile's sums start and end. Between blocks of k they wait in
 * `partial` (c itself, unless the product accumulates into c); after the last
 * block, bias (NULL for none) is added and, when accumulating, the old c.
 */
typedef struct {
    float *c;
    int64_t ldc;
    float *partial;
    int64_t ldp;
    const float *bias;
    int first, last, accumulate;
} tile_io;

/*
 * A micro-kernel: the mr x nr tile (mr <= MR, nr <= NR) of a block of k of
 * kc terms, from the micro-panel a (element (i, k) at a[k * MR + i]) and the
 * panels b (element (k, j) at b[(j / 16) * panel_stride + k * 16 + j % 16]).
 */
typedef void tile_fn(const float *a, const float *b, int64_t panel_stride, int64_t kc, int mr, int nr,
                     const tile_io *io);

/* Packs panel columns [0, n) of the weight w (row j at w + j * inner), n <= 16, into dst (nf_gemm_pack_weight_f32). */
typedef void pack_panel_fn(float *dst, const float *w, int64_t inner, int64_t n);

/*
 * c = a w^T + bias for rows <= SMALL_ROWS and inner <= SMALL_INNER, reading
 * the weight w[cols, inner] as stored; at is scratch for SMALL_ROWS * inner
 * floats (16 KiB at most, which stays in L1 while every block of columns reads
 * it: past that the kernel is no faster than packing the weight).
 */
#define SMALL_ROWS 8
#define SMALL_INNER 512

typedef void small_fn(float *c, const float *a, const float *w, const float *bias, int64_t rows, int64_t inner,
                      int64_t cols, float *at);

typedef struct {
    int mr, nr;
    tile_fn *tile;
    pack_panel_fn *pack_weight_panel;
    small_fn *small; /* NULL where the level has none */
} micro_kernel;

/* The starting sums of an edge tile into buf (row stride ldb, zero elsewhere), for kernels that stage edges. */
static inline void stage_start(float *buf, int ldb, int rows, int mr, int nr, const tile_io *io) {
    memset(buf, 0, sizeof(float) * (size_t)(rows * ldb));
    if (io->first) return;
    for (int i = 0; i < mr; i++)
        for (int j = 0; j < nr; j++) buf[i * ldb + j] = io->partial[i * io->ldp + j];
}

/* Stores the sums of an edge tile from buf: partial sums, or the final values. */
static inline void stage_finish(const float *buf, int ldb, int mr, int nr, const tile_io *io) {
    for (int i = 0; i < mr; i++)
        for (int j = 0; j < nr; j++) {
            float v = buf[i * ldb + j];
            if (!io->last) {
                io->partial[i * io->ldp + j] = v;
                continue;
            }
            if (io->bias != NULL) v = v + io->bias[j];
            if (io->accumulate) v = io->c[i * io->ldc + j] + v;
            io->c[i * io->ldc + j] = v;
        }
}

/*
 * Terms [k0, inner) of panel columns [0, n) of the weight, zero past column n:
 * the column-by-column transposition every level finishes a panel with.
 */
static void pack_weight_terms(float *dst, const float *w, int64_t inner, int64_t n, int64_t k0) {
    for (int64_t j = 0; j < NF_GEMM_PANEL; j++) {
        const float *row = w + j * inner;
        for (int64_t k = k0; k < inner; k++) dst[k * NF_GEMM_PANEL + j] = j < n ? row[k] : 0.0f;
    }
}

static void scalar_pack_weight_panel(float *dst, const float *w, int64_t inner, int64_t n) {
    pack_weight_terms(dst, w, inner, n, 0);
}

/*
 * Scalar level: portable C, each product rounded and then added. The GCC
 * vector type holds four neighbouring columns; its operations are IEEE float
 * operations lane by lane, so this is the scalar computation, which the
 * compiler keeps in SSE registers: 6 x 8 sums per pass (12 registers), two
 * passes per panel.
 */
#define SCALAR_MR 6

typedef float vec4 __attribute__((vector_size(4 * sizeof(float))));

static inline vec4 vec4_load(const float *p) {
    vec4 v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void vec4_store(float *p, vec4 v) { memcpy(p, &v, sizeof v); }

static inline __attribute__((always_inline)) void scalar_half(float *buf, const float *a, const float *b,
                                                              int64_t kc, const int mr) {
    vec4 lo[SCALAR_MR], hi[SCALAR_MR];
    #pragma GCC unroll 12
    for (int i = 0; i < mr; i++) {
        lo[i] = vec4_load(buf + i * NF_GEMM_PANEL);
        hi[i] = vec4_load(buf + i * NF_GEMM_PANEL + 4);
    }
    for (int64_t k = 0; k < kc; k++) {
        const vec4 b_lo = vec4_load(b + k * NF_GEMM_PANEL);
        const vec4 b_hi = vec4_load(b + k * NF_GEMM_PANEL + 4);
        #pragma GCC unroll 12
        for (int i = 0; i < mr; i++) {
            const float ai = a[k * SCALAR_MR + i];
            const vec4 av = {ai, ai, ai, ai};
            lo[i] += av * b_lo;
            hi[i] += av * b_hi;
        }
    }
    #pragma GCC unroll 12
    for (int i = 0; i < mr; i++) {
        vec4_store(buf + i * NF_GEMM_PANEL, lo[i]);
        vec4_store(buf + i * NF_GEMM_PANEL + 4, hi[i]);
    }
}

static inline __attribute__((always_inline)) void scalar_tile_rows(const float *a, const float *b, int64_t kc,
                                                                   const int mr, int nr, const tile_io *io) {
    float buf[SCALAR_MR * NF_GEMM_PANEL];
    stage_start(buf, NF_GEMM_PANEL, SCALAR_MR, mr, nr, io);
    scalar_half(buf, a, b, kc, mr);
    if (nr > 8) scalar_half(buf + 8, a, b + 8, kc, mr);
    stage_finish(buf, NF_GEMM_PANEL, mr, nr, io);
}

static void scalar_tile(const float *a, const float *b, int64_t panel_stride, int64_t kc, int mr, int nr,
                        const tile_io *io) {
    (void)panel_stride;
    switch (mr) {
    case 6: scalar_tile_rows(a, b, kc, 6, nr, io); break;
    case 5: scalar_tile_rows(a, b, kc, 5, nr, io); break;
    case 4: scalar_tile_rows(a, b, kc, 4, nr, io); break;
    case 3: scalar_tile_rows(a, b, kc, 3, nr, io); break;
    case 2: scalar_tile_rows(a, b, kc, 2, nr, io); break;
    default: scalar_tile_rows(a, b, kc, 1, nr, io); break;
    }
}

#if NF_HAVE_X86_LEVELS

/*
 * AVX2 level: 6 x 16 sums in 12 registers, two loads of b and six broadcasts
 * of a per step of k for twelve fused multiply-adds (the BLIS Haswell kernel's
 * shape). Tiles as wide as a panel load and store c directly; narrower ones (the last panel's) are staged.
 */
#define AVX2_MR 6

NF_TARGET_AVX2 static inline __attribute__((always_inline)) void avx2_tile_rows(const float *a, const float *b,
                                                                               int64_t kc, const int mr, int nr,
                                                                               const tile_io *io) {
    __m256 lo[AVX2_MR], hi[AVX2_MR];
    float buf[AVX2_MR * NF_GEMM_PANEL];
    const int full = nr == NF_GEMM_PANEL;
    const float *start = io->partial;
    int64_t ld = io->ldp;
    if (!full) {
        stage_start(buf, NF_GEMM_PANEL, AVX2_MR, mr, nr, io);
        start = buf;
        ld = NF_GEMM_PANEL;
    }
    #pragma GCC unroll 12
    for (int i = 0; i < mr; i++) {
        lo[i] = io->first && full ? _mm256_setzero_ps() : _mm256_loadu_ps(start + i * ld);
        hi[i] = io->first && full ? _mm256_setzero_ps() : _mm256_loadu_ps(start + i * ld + 8);
    }
    #pragma GCC unroll 4
    for (int64_t k = 0; k < kc; k++) {
        const __m256 b_lo = _mm256_loadu_ps(b + k * NF_GEMM_PANEL);
        const __m256 b_hi = _mm256_loadu_ps(b + k * NF_GEMM_PANEL + 8);
        #pragma GCC unroll 12
        for (int i = 0; i < mr; i++) {
            const __m256 ai = _mm256_broadcast_ss(a + k * AVX2_MR + i);
            lo[i] = _mm256_fmadd_ps(ai, b_lo, lo[i]);
            hi[i] = _mm256_fmadd_ps(ai, b_hi, hi[i]);
        }
    }
    if (!full) {
        #pragma GCC unroll 12
        for (int i = 0; i < mr; i++) {
            _mm256_storeu_ps(buf + i * NF_GEMM_PANEL, lo[i]);
            _mm256_storeu_ps(buf + i * NF_GEMM_PANEL + 8, hi[i]);
        }
        stage_finish(buf, NF_GEMM_PANEL, mr, nr, io);
        return;
    }
    if (!io->last) {
        #pragma GCC unroll 12
        for (int i = 0; i < mr; i++) {
            _mm256_storeu_ps(io->partial + i * io->ldp, lo[i]);
            _mm256_storeu_ps(io->partial + i * io->ldp + 8, hi[i]);
        }
        return;
    }
    #pragma GCC unroll 12
    for (int i = 0; i < mr; i++) {
        float *c = io->c + i * io->ldc;
        if (io->bias != NULL) {
            lo[i] = _mm256_add_ps(lo[i], _mm256_loadu_ps(io->bias));
            hi[i] = _mm256_add_ps(hi[i], _mm256_loadu_ps(io->bias + 8));
        }
        if (io->accumulate) {
            lo[i] = _mm256_add_ps(_mm256_loadu_ps(c), lo[i]);
            hi[i] = _mm256_add_ps(_mm256_loadu_ps(c + 8), hi[i]);
        }
        _mm256_storeu_ps(c, lo[i]);
        _mm256_storeu_ps(c + 8, hi[i]);
    }
}

NF_TARGET_AVX2 static void avx2_tile(const float *a, const float *b, int64_t panel_stride, int64_t kc, int mr,
                                     int nr, const tile_io *io) {
    (void)panel_stride;
    switch (mr) {
    case 6: avx2_tile_rows(a, b, kc, 6, nr, io); break;
    case 5: avx2_tile_rows(a, b, kc, 5, nr, io); break;
    case 4: avx2_tile_rows(a, b, kc, 4, nr, io); break;
    case 3: avx2_tile_rows(a, b, kc, 3, nr, io); break;
    case 2: avx2_tile_rows(a, b, kc, 2, nr, io); break;
    default: avx2_tile_rows(a, b, kc, 1, nr, io); break;
    }
}

/*
 * 8 x 8 blocks of a panel of the weight, transposed in registers (unpack,
 * shuffle, then swap 128-bit halves), the columns past n of a last panel
 * entering as zeros; the last terms column by column.
 */
NF_TARGET_AVX2 static void avx2_pack_weight_panel(float *dst, const float *w, int64_t inner, int64_t n) {
    int64_t k0 = 0;
    for (; k0 + 8 <= inner; k0 += 8)
        for (int half = 0; half < 2; half++) {
            __m256 r[8], t[8], u[8];
            for (int j = 0; j < 8; j++)
                r[j] = half * 8 + j < n ? _mm256_loadu_ps(w + (half * 8 + j) * inner + k0) : _mm256_setzero_ps();
            for (int j = 0; j < 8; j += 2) {
                t[j] = _mm256_unpacklo_ps(r[j], r[j + 1]);
                t[j + 1] = _mm256_unpackhi_ps(r[j], r[j + 1]);
            }
            for (int j = 0; j < 8; j += 4) {
                u[j] = _mm256_shuffle_ps(t[j], t[j + 2], 0x44);
                u[j + 1] = _mm256_shuffle_ps(t[j], t[j + 2], 0xEE);
                u[j + 2] = _mm256_shuffle_ps(t[j + 1], t[j + 3], 0x44);
                u[j + 3] = _mm256_shuffle_ps(t[j + 1], t[j + 3], 0xEE);
            }
            for (int k = 0; k < 4; k++) {
                float *row = dst + (k0 + k) * NF_GEMM_PANEL + half * 8;
                _mm256_storeu_ps(row, _mm256_permute2f128_ps(u[k], u[k + 4], 0x20));
                _mm256_storeu_ps(row + 4 * NF_GEMM_PANEL, _mm256_permute2f128_ps(u[k], u[k + 4], 0x31));
            }
        }
    pack_weight_terms(dst, w, inner, n, k0);
}

/*
 * The rows of a small batch in the lanes of one AVX2 vector, SMALL_COLS
 * columns of c at a time: per step of k, one load of the transposed a and a
 * broadcast of each column's weight, read from the weight's rows as stored.
 * The weight is not packed, which for a batch of a few rows would cost as
 * much as the product; each element is the same fused multiply-add chain in
 * ascending k, then the bias, as the micro-kernels compute (a fused
 * multiply-add rounds x w + s whichever factor comes first), so the results
 * are theirs bit for bit.
 */
#define SMALL_COLS 8

NF_TARGET_AVX2 static void avx2_small(float *c, const float *a, const float *w, const float *bias, int64_t rows,
                                      int64_t inner, int64_t cols, float *at) {
    memset(at, 0, sizeof(float) * (size_t)(SMALL_ROWS * inner));
    for (int64_t i = 0; i < rows; i++)
        for (int64_t k = 0; k < inner; k++) at[k * SMALL_ROWS + i] = a[i * inner + k];
    for (int64_t j0 = 0; j0 < cols; j0 += SMALL_COLS) {
        /* Past the last column the first block's rows stand in; their sums are not stored. */
        const float *row[SMALL_COLS];
        __m256 acc[SMALL_COLS];
        for (int j = 0; j < SMALL_COLS; j++) {
            row[j] = w + min64(j0 + j, cols - 1) * inner;
            acc[j] = _mm256_setzero_ps();
        }
        for (int64_t k = 0; k < inner; k++) {
            const __m256 ak = _mm256_loadu_ps(at + k * SMALL_ROWS);
#pragma GCC unroll 8
            for (int j = 0; j < SMALL_COLS; j++) acc[j] = _mm256_fmadd_ps(ak, _mm256_broadcast_ss(row[j] + k), acc[j]);
        }
        float sums[SMALL_COLS][SMALL_ROWS];
        const int64_t n = min64(SMALL_COLS, cols - j0);
        for (int j = 0; j < SMALL_COLS; j++) {
            if (bias != NULL && j < n) acc[j] = _mm256_add_ps(acc[j], _mm256_set1_ps(bias[j0 + j]));
            _mm256_storeu_ps(sums[j], acc[j]);
        }
        for (int64_t i = 0; i < rows; i++)
            for (int64_t j = 0; j < n; j++) c[i * cols + j0 + j] = sums[j][i];
    }
}

/*
 * AVX-512 level: 12 x 32 sums (two panels) in 24 of the 32 registers, two
 * loads of b and twelve broadcasts per step for 24 fused multiply-adds; a
 * last panel of its own runs as 12 x 16. Edge tiles are staged.
 */
#define AVX512_MR 12
#define AVX512_NR (2 * NF_GEMM_PANEL)

NF_TARGET_AVX512 static inline __attribute__((always_inline)) void avx512_tile_rows(
    const float *a, const float *b, int64_t panel_stride, int64_t kc, const int mr, const int panels, int nr,
    const tile_io *io) {
    __m512 acc[AVX512_MR][2];
    float buf[AVX512_MR * AVX512_NR];
    const int full = nr == panels * NF_GEMM_PANEL;
    const float *start = io->partial;
    int64_t ld = io->ldp;
    if (!full) {
        stage_start(buf, AVX512_NR, AVX512_MR, mr, nr, io);
        start = buf;
        ld = AVX512_NR;
    }
    #pragma GCC unroll 12
    for (int i = 0; i < mr; i++)
        #pragma GCC unroll 2
        for (int p = 0; p < panels; p++)
            acc[i][p] = io->first && full ? _mm512_setzero_ps() : _mm512_loadu_ps(start + i * ld + p * 16);
    #pragma GCC unroll 4
    for (int64_t k = 0; k < kc; k++) {
        __m512 bk[2];
        #pragma GCC unroll 2
        for (int p = 0; p < panels; p++) bk[p] = _mm512_loadu_ps(b + p * panel_stride + k * NF_GEMM_PANEL);
        #pragma GCC unroll 12
        for (int i = 0; i < mr; i++) {
            const __m512 ai = _mm512_set1_ps(a[k * AVX512_MR + i]);
            #pragma GCC unroll 2
            for (int p = 0; p < panels; p++) acc[i][p] = _mm512_fmadd_ps(ai, bk[p], acc[i][p]);
        }
    }
    if (!full) {
        #pragma GCC unroll 12
        for (int i = 0; i < mr; i++)
            #pragma GCC unroll 2
            for (int p = 0; p < panels; p++) _mm512_storeu_ps(buf + i * AVX512_NR + p * 16, acc[i][p]);
        stage_finish(buf, AVX512_NR, mr, nr, io);
        return;
    }
    #pragma GCC unroll 12
    for (int i = 0; i < mr; i++)
        #pragma GCC unroll 2
        for (int p = 0; p < panels; p++) {
            __m512 v = acc[i][p];
            if (!io->last) {
                _mm512_storeu_ps(io->partial + i * io->ldp + p * 16, v);
                continue;
            }
            float *c = io->c + i * io->ldc + p * 16;
            if (io->bias != NULL) v = _mm512_add_ps(v, _mm512_loadu_ps(io->bias + p * 16));
            if (io->accumulate) v = _mm512_add_ps(_mm512_loadu_ps(c), v);
            _mm512_storeu_ps(c, v);
        }
}

NF_TARGET_AVX512 static inline __attribute__((always_inline)) void avx512_tile_panels(
    const float *a, const float *b, int64_t panel_stride, int64_t kc, const int mr, int nr, const tile_io *io) {
    if (nr > NF_GEMM_PANEL)
        avx512_tile_rows(a, b, panel_stride, kc, mr, 2, nr, io);
    else
        avx512_tile_rows(a, b, panel_stride, kc, mr, 1, nr, io);
}

NF_TARGET_AVX512 static void avx512_tile(const float *a, const float *b, int64_t panel_stride, int64_t kc, int mr,
                                         int nr, const tile_io *io) {
    switch (mr) {
    case 12: avx512_tile_panels(a, b, panel_stride, kc, 12, nr, io); break;
    case 11: avx512_tile_panels(a, b, panel_stride, kc, 11, nr, io); break;
    case 10: avx512_tile_panels(a, b, panel_stride, kc, 10, nr, io); break;
    case 9: avx512_tile_panels(a, b, panel_stride, kc, 9, nr, io); break;
    case 8: avx512_tile_panels(a, b, panel_stride, kc, 8, nr, io); break;
    case 7: avx512_tile_panels(a, b, panel_stride, kc, 7, nr, io); break;
    case 6: avx512_tile_panels(a, b, panel_stride, kc, 6, nr, io); break;
    case 5: avx512_tile_panels(a, b, panel_stride, kc, 5, nr, io); break;
    case 4: avx512_tile_panels(a, b, panel_stride, kc, 4, nr, io); break;
    case 3: avx512_tile_panels(a, b, panel_stride, kc, 3, nr, io); break;
    case 2: avx512_tile_panels(a, b, panel_stride, kc, 2, nr, io); break;
    default: avx512_tile_panels(a, b, panel_stride, kc, 1, nr, io); break;
    }
}

/*
 * AVX-512 brings nothing to the transposition of 16-wide panels, and its
 * arithmetic is AVX2's (one fused multiply-add per term): its level packs as
 * AVX2 does. It has no small-batch kernel: packing the weight per call and
 * running the 12 x 32 tiles beats the rows-in-lanes kernel, which fills half
 * of its lanes at batch 4 (the seed's layers with LayerNorm and ReLU on a
 * Zen 5 core: 4 x 52 -> 128 in 1.2 against 1.7 us, 4 x 128 -> 256 in 3.5
 * against 6.2, 4 x 256 -> 20 in 1.2 against 1.6); the bits are the same
 * either way.
 */
static const micro_kernel KERNELS[NF_CPU_LEVELS] = {
    {SCALAR_MR, NF_GEMM_PANEL, scalar_tile, scalar_pack_weight_panel, NULL},
    {AVX2_MR, NF_GEMM_PANEL, avx2_tile, avx2_pack_weight_panel, avx2_small},
    {AVX512_MR, AVX512_NR, avx512_tile, avx2_pack_weight_panel, NULL},
};
#else
/* Only the scalar level runs off x86-64 (dispatch.c never selects the others there). */
static const micro_kernel KERNELS[NF_CPU_LEVELS] = {
    {SCALAR_MR, NF_GEMM_PANEL, scalar_tile, scalar_pack_weight_panel, NULL},
    {SCALAR_MR, NF_GEMM_PANEL, scalar_tile, scalar_pack_weight_panel, NULL},
    {SCALAR_MR, NF_GEMM_PANEL, scalar_tile, scalar_pack_weight_panel, NULL},
};
#endif

/* ---- Packing ------------------------------------------------------------ */

int64_t nf_gemm_packed_numel(int64_t inner, int64_t cols) {
    const int64_t padded = ceil_div(cols, NF_GEMM_PANEL) * NF_GEMM_PANEL;
    if (padded > INT64_MAX / inner) return -1;
    return padded * inner;
}

void nf_gemm_pack_weight_f32(int level, float *packed, const float *w, int64_t inner, int64_t cols) {
    pack_panel_fn *pack_panel = KERNELS[level].pack_weight_panel;
    const int64_t panels = ceil_div(cols, NF_GEMM_PANEL);
#pragma omp for schedule(static)
    for (int64_t p = 0; p < panels; p++) {
        const int64_t j0 = p * NF_GEMM_PANEL;
        pack_panel(packed + j0 * inner, w + j0 * inner, inner, min64(NF_GEMM_PANEL, cols - j0));
    }
}

/*
 * Rows of b per parallel unit of nf_gemm_pack_rows_f32. b is read a row at a
 * time, in order, and each row scattered to every panel as whole cache lines:
 * reading a panel's column strip instead would touch a new page per row,
 * which the prefetchers do not follow (three times slower for a 1024 x 1024 b).
 */
#define PACK_ROWS 64

void nf_gemm_pack_rows_f32(float *packed, const float *b, int64_t inner, int64_t cols) {
    const int64_t full_panels = cols / NF_GEMM_PANEL;
    const int64_t tail = cols - full_panels * NF_GEMM_PANEL;
#pragma omp for schedule(static)
    for (int64_t k0 = 0; k0 < inner; k0 += PACK_ROWS)
        for (int64_t k = k0; k < min64(k0 + PACK_ROWS, inner); k++) {
            const float *src = b + k * cols;
            for (int64_t p = 0; p < full_panels; p++)
                memcpy(packed + (p * inner + k) * NF_GEMM_PANEL, src + p * NF_GEMM_PANEL,
                       sizeof(float) * NF_GEMM_PANEL);
            if (tail > 0) {
                float *row = packed + (full_panels * inner + k) * NF_GEMM_PANEL;
                const float *last = src + full_panels * NF_GEMM_PANEL;
                for (int64_t j = 0; j < NF_GEMM_PANEL; j++) row[j] = j < tail ? last[j] : 0.0f;
            }
        }
}

/*
 * One micro-panel: rows [0, n) of a from src, element (i, k) at
 * panel[k * mr + i]. Written in order, a column of the micro-panel at a time
 * (a store stream with a stride of mr floats runs into false dependences on
 * the loads, 4 KiB aliasing, at several times the cost); inlined with n
 * constant for full micro-panels, so that the column is straight-line code.
 */
static inline __attribute__((always_inline)) void pack_micro_panel(float *panel, nf_gemm_operand a,
                                                                   const float *src, int64_t kc, int mr,
                                                                   const int64_t n) {
    for (int64_t k = 0; k < kc; k++)
        for (int64_t r = 0; r < n; r++) panel[k * mr + r] = src[r * a.row_stride + k * a.k_stride];
}

/* Rows [r0, r1) and terms [k0, k0 + kc) of a into micro-panels of mr rows. */
static void pack_a(float *dst, nf_gemm_operand a, int64_t r0, int64_t r1, int64_t k0, int64_t kc, int mr) {
    for (int64_t i = r0; i < r1; i += mr) {
        float *panel = dst + (i - r0) * kc;
        const float *src = a.p + i * a.row_stride + k0 * a.k_stride;
        const int64_t n = min64(mr, r1 - i);
        if (n == 6)
            pack_micro_panel(panel, a, src, kc, mr, 6);
        else if (n == 12)
            pack_micro_panel(panel, a, src, kc, mr, 12);
        else
            pack_micro_panel(panel, a, src, kc, mr, n);
    }
}

/* ---- Workspace ---------------------------------------------------------- */

static int64_t round_up(int64_t n, int64_t m) { return ceil_div(n, m) * m; }

/*
 * A small call's scratch, kept per calling thread (in the module's dynamic
 * TLS block, freed when the thread ends): an aligned_alloc and free per call
 * cost about a tenth of a batch-4 layer (glibc consolidates its fast bins
 * when a request of a kilobyte or more follows frees). 64 KiB holds the
 * scratch of the seed's layers with their weights packed per call; a second
 * workspace on the same thread while one is held, or a larger one, is
 * allocated as before.
 */
enum { CACHED_SCRATCH_FLOATS = 16384 };
static _Thread_local float cached_scratch[CACHED_SCRATCH_FLOATS] __attribute__((aligned(64)));
static _Thread_local int cached_scratch_in_use;

int32_t nf_gemm_workspace_alloc(nf_gemm_workspace *ws, const char *op, int level, int threads, int64_t max_rows,
                                int64_t max_inner, int64_t packed_b_numel, int accumulate) {
    const micro_kernel *k = &KERNELS[level];
    const int64_t rows_cap = min64(MC, round_up(max_rows, k->mr));
    /* Room for a block of a, or for the small-batch kernel's transposed a. */
    const int64_t small_numel = max_rows <= SMALL_ROWS ? SMALL_ROWS * min64(SMALL_INNER, max_inner) : 0;
    ws->a_block_numel = round_up(max64(rows_cap * min64(KC, max_inner), small_numel), 16);
    ws->partial_numel = accumulate && max_inner > KC ? rows_cap * NC_PARTIAL : 0;
    ws->threads = threads;
    ws->level = level;
    /* 16 floats: each thread's block starts on its own 64-byte line. */
    const int64_t b_numel = round_up(packed_b_numel, 16);
    const int64_t total = b_numel + (int64_t)threads * (ws->a_block_numel + ws->partial_numel);
    if (total <= CACHED_SCRATCH_FLOATS && !cached_scratch_in_use) {
        cached_scratch_in_use = 1;
        ws->memory = cached_scratch;
    } else {
        ws->memory = aligned_alloc(64, sizeof(float) * (size_t)total);
    }
    if (ws->memory == NULL)
        return nf_fail(NF_ERR_OUT_OF_MEMORY, "%s: cannot allocate %lld floats of scratch", op, (long long)total);
    ws->packed_b = packed_b_numel > 0 ? ws->memory : NULL;
    ws->thread_memory = ws->memory + b_numel;
    return NF_OK;
}

void nf_gemm_workspace_free(nf_gemm_workspace *ws) {
    if (ws->memory == cached_scratch)
        cached_scratch_in_use = 0;
    else
        free(ws->memory);
    ws->memory = NULL;
}

/* ---- The driver ----------------------------------------------------------- */

static int team_size(void) {
#ifdef _OPENMP
    return omp_get_num_threads();
#else
    return 1;
#endif
}

static int thread_index(void) {
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

/* One product, as the driver runs it. */
typedef struct {
    const micro_kernel *kernel;
    float *c;
    nf_gemm_operand a;
    const float *b;
    const float *bias;
    int64_t rows, inner, cols;
    int accumulate;
} product;

/*
 * The grid of tiles of c that the threads share, in units of the
 * micro-kernel's rows and columns. Tile t covers row tile t / col_tiles and
 * column tile t % col_tiles, and the tiles of a grid differ in size by one
 * unit at most, so that a static schedule over a number of tiles that is a
 * multiple of the team gives each thread the same work. The tiling never
 * changes a result (gemm.h), so it may follow the team's size.
 */
typedef struct {
    int64_t row_units, col_units, row_tiles, col_tiles;
} grid;

static grid make_grid(const product *g, int threads, int epilogue) {
    const micro_kernel *k = g->kernel;
    grid s;
    s.row_units = ceil_div(g->rows, k->mr);
    s.col_units = ceil_div(g->cols, k->nr);
    int64_t rows_per_tile = MC / k->mr;
    int64_t cols_per_tile = (g->accumulate ? NC_PARTIAL : NC) / k->nr;
    if (epilogue) {
        /* Whole rows, few enough to stay in L2 until the epilogue reads them. */
        cols_per_tile = s.col_units;
        const int64_t unit_bytes = (int64_t)sizeof(float) * g->cols * k->mr;
        rows_per_tile = min64(rows_per_tile, max64(1, EPILOGUE_TILE_BYTES / unit_bytes));
    }
    s.row_tiles = ceil_div(s.row_units, rows_per_tile);
    s.col_tiles = ceil_div(s.col_units, cols_per_tile);
    if (threads > 1) {
        /* Split rows when each thread gets two micro-tiles' height of them, else columns. */
        if (s.row_units >= 2 * (int64_t)threads)
            s.row_tiles = round_up(max64(s.row_tiles, threads), threads);
        else
            s.col_tiles = round_up(max64(s.col_tiles, threads), threads);
    }
    return s;
}

/* Bound b of 0 .. tiles of `units` units of `unit` elements each, clipped to n elements. */
static inline int64_t tile_bound(int64_t b, int64_t tiles, int64_t units, int64_t unit, int64_t n) {
    return min64(n, unit * (b * units / tiles));
}

/* Where the partial sums of row i, column j of a tile wait: in c, or in the thread's buffer. */
static inline float *partial_at(const product *g, int64_t i, int64_t j, float *partial, int64_t r0, int64_t j0) {
    return g->accumulate ? partial + (i - r0) * NC_PARTIAL + (j - j0) : g->c + i * g->cols + j;
}

/*
 * Asks for the partial sums of the micro-tile at row i (the next one down),
 * which the last block of k left in L3 or beyond: the micro-kernel now
 * running takes long enough to hide their latency, which the loads at its
 * start would otherwise wait out.
 */
static inline void prefetch_partial(const product *g, int64_t r1, int64_t i, int64_t j, float *partial, int64_t r0,
                                    int64_t j0) {
    const int64_t ld = g->accumulate ? NC_PARTIAL : g->cols;
    const float *p = partial_at(g, i, j, partial, r0, j0);
    for (int64_t r = i; r < min64(r1, i + g->kernel->mr); r++, p += ld) {
        __builtin_prefetch(p);
        __builtin_prefetch(p + NF_GEMM_PANEL - 1);
    }
}

/*
 * Rows [r0, r1) by columns [j0, j1) of c: blocks of k in order, each packing
 * its block of a, then every panel against every micro-panel.
 */
static void run_tile(const product *g, int64_t r0, int64_t r1, int64_t j0, int64_t j1, float *a_block,
                     float *partial) {
    const micro_kernel *k = g->kernel;
    const int64_t panel_stride = NF_GEMM_PANEL * g->inner;
    for (int64_t k0 = 0; k0 < g->inner; k0 += KC) {
        const int64_t kc = min64(KC, g->inner - k0);
        pack_a(a_block, g->a, r0, r1, k0, kc, k->mr);
        tile_io io = {.first = k0 == 0, .last = k0 + kc == g->inner, .accumulate = g->accumulate};
        for (int64_t j = j0; j < j1; j += k->nr) {
            const int nr = (int)min64(k->nr, j1 - j);
            const float *b = g->b + j / NF_GEMM_PANEL * panel_stride + k0 * NF_GEMM_PANEL;
            io.bias = io.last && g->bias != NULL ? g->bias + j : NULL;
            for (int64_t i = r0; i < r1; i += k->mr) {
                if (!io.first) prefetch_partial(g, r1, i + k->mr, j, partial, r0, j0);
                io.c = g->c + i * g->cols + j;
                io.ldc = g->cols;
                io.partial = partial_at(g, i, j, partial, r0, j0);
                io.ldp = g->accumulate ? NC_PARTIAL : g->cols;
                k->tile(a_block + (i - r0) * kc, b, panel_stride, kc, (int)min64(k->mr, r1 - i), nr, &io);
            }
        }
    }
}

static void run_product(const nf_gemm_workspace *ws, const product *g, const nf_gemm_epilogue *epilogue) {
    const int threads = team_size();
    const grid s = make_grid(g, threads, epilogue != NULL);
    float *a_block = ws->thread_memory + thread_index() * (ws->a_block_numel + ws->partial_numel);
    float *partial = a_block + ws->a_block_numel;
    const int64_t tiles = s.row_tiles * s.col_tiles;
    const int whole_rows = s.col_tiles == 1;
#pragma omp for schedule(static)
    for (int64_t t = 0; t < tiles; t++) {
        const int64_t tr = t / s.col_tiles;
        const int64_t tc = t % s.col_tiles;
        const int64_t r0 = tile_bound(tr, s.row_tiles, s.row_units, g->kernel->mr, g->rows);
        const int64_t r1 = tile_bound(tr + 1, s.row_tiles, s.row_units, g->kernel->mr, g->rows);
        const int64_t j0 = tile_bound(tc, s.col_tiles, s.col_units, g->kernel->nr, g->cols);
        const int64_t j1 = tile_bound(tc + 1, s.col_tiles, s.col_units, g->kernel->nr, g->cols);
        if (r0 >= r1 || j0 >= j1) continue;
        run_tile(g, r0, r1, j0, j1, a_block, partial);
        if (epilogue != NULL && whole_rows) epilogue->run(epilogue->context, r0, r1);
    }
    if (epilogue != NULL && !whole_rows) {
#pragma omp for schedule(static)
        for (int64_t r = 0; r < g->rows; r++) epilogue->run(epilogue->context, r, r + 1);
    }
}

void nf_gemm_f32(const nf_gemm_workspace *ws, float *c, nf_gemm_operand a, const float *packed_b,
                 const float *bias, int64_t rows, int64_t inner, int64_t cols, const nf_gemm_epilogue *epilogue) {
    const product g = {&KERNELS[ws->level], c, a, packed_b, bias, rows, inner, cols, 0};
    run_product(ws, &g, epilogue);
}

int nf_gemm_nt_small_f32(const nf_gemm_workspace *ws, float *c, const float *a, const float *w, const float *bias,
                         int64_t rows, int64_t inner, int64_t cols) {
    const micro_kernel *k = &KERNELS[ws->level];
    if (k->small == NULL || rows > SMALL_ROWS || inner > SMALL_INNER) return 0;
    k->small(c, a, w, bias, rows, inner, cols, ws->thread_memory);
    return 1;
}

void nf_gemm_nn_f32(const nf_gemm_workspace *ws, float *c, const float *a, const float *b, int64_t rows,
                    int64_t inner, int64_t cols) {
    nf_gemm_pack_rows_f32(ws->packed_b, b, inner, cols);
    const nf_gemm_operand a_rows = {a, inner, 1};
    nf_gemm_f32(ws, c, a_rows, ws->packed_b, NULL, rows, inner, cols, NULL);
}

void nf_gemm_tn_f32(const nf_gemm_workspace *ws, float *c, const float *a, const float *b, int64_t rows,
                    int64_t inner, int64_t cols, int accumulate) {
    nf_gemm_pack_rows_f32(ws->packed_b, b, inner, cols);
    const nf_gemm_operand a_columns = {a, 1, rows};
    const product g = {&KERNELS[ws->level], c, a_columns, ws->packed_b, NULL, rows, inner, cols, accumulate};
    run_product(ws, &g, NULL);
}

/*
 * Columns per range of the column sums, the parallel unit: 256 bytes of each
 * row, and partial sums that stay in L1.
 */
#define SUM_COLS 64

void nf_gemm_column_sums_f32(float *c, const float *a, int64_t rows, int64_t cols, int accumulate) {
#pragma omp for schedule(static)
    for (int64_t j0 = 0; j0 < cols; j0 += SUM_COLS) {
        const int64_t n = min64(SUM_COLS, cols - j0);
        double acc[SUM_COLS] = {0};
        for (int64_t r = 0; r < rows; r++)
            for (int64_t j = 0; j < n; j++) acc[j] += a[r * cols + j0 + j];
        for (int64_t j = 0; j < n; j++) nf_store_grad(c + j0 + j, (float)acc[j], accumulate);
    }
}

int nf_gemm_worth_parallel(int64_t rows, int64_t inner, int64_t cols) {
    /* In double: the product of three sizes can overflow int64_t. */
    return (double)rows * (double)inner * (double)cols >= PARALLEL_MIN_MULTIPLY_ADDS;
}
