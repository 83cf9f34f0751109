/*
 * The products of the linear layers: cache-blocked, register-blocked loops
 * that gcc vectorizes at -O3 without -ffast-math. First c = a b^T (+ bias),
 * the forward product, as dot products; then the backward products.
 *
 * Summation order of the forward product (the determinism contract of
 * gemm.h): element (r, j) sums
 * the products a[r, k] * b[j, k] in LANES interleaved partial sums, lane l
 * taking k = l, l + LANES, ... up to the last full group of LANES, combines
 * the lanes by a fixed pairwise tree, adds the remaining k in order and then
 * the bias. Every tile shape below runs this same sequence of float
 * operations per element, so the result depends on inner alone.
 *
 * The interleaved lanes are what makes the loop vectorizable with IEEE
 * semantics (one vector of lanes per element), and they shorten each
 * sequential chain to inner / LANES terms, which also lowers the rounding
 * error. Both operands are read along k, contiguously, as stored: no packing.
 */
#include "gemm.h"

#include <stddef.h>
#include <string.h>

#include "../common/parallel.h"

/* Partial sums per element: one AVX vector, two SSE vectors. */
#define LANES 8

/*
 * Register block: TILE_ROWS rows of a times TILE_COLS rows of b, i.e.
 * TILE_ROWS * TILE_COLS elements of c, each with LANES accumulators. Every
 * load of a is used TILE_COLS times and every load of b TILE_ROWS times;
 * 2 x 4 keeps the 8 accumulator vectors in SSE registers (the fastest of
 * 1 x 4, 2 x 2, 2 x 4, 4 x 1, 4 x 2 and 4 x 4 measured on the worksheet's
 * shapes), and rows = 1 (batch 1) still uses each load of a four times.
 */
#define TILE_ROWS 2
#define TILE_COLS 4

/*
 * Cache block: BLOCK_ROWS rows of a (BLOCK_ROWS * inner floats, reused for
 * every column of the block, so they stay in L2) times BLOCK_COLS rows of b
 * (each panel of TILE_COLS rows, reused for every row of the block, so it
 * stays in a 32 KiB L1 for inner up to about 2000). Blocks are the parallel unit.
 */
#define BLOCK_ROWS 32
#define BLOCK_COLS 64

static inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

/* Block t of the grid of BLOCK_ROWS x BLOCK_COLS blocks over c[rows, cols], row-major: the parallel unit. */
typedef struct {
    int64_t r0, r1, j0, j1;
} block;

static inline block block_at(int64_t t, int64_t rows, int64_t cols) {
    const int64_t col_blocks = (cols + BLOCK_COLS - 1) / BLOCK_COLS;
    const int64_t r0 = t / col_blocks * BLOCK_ROWS;
    const int64_t j0 = t % col_blocks * BLOCK_COLS;
    const block b = {r0, min64(r0 + BLOCK_ROWS, rows), j0, min64(j0 + BLOCK_COLS, cols)};
    return b;
}

static inline int64_t block_count(int64_t rows, int64_t cols) {
    return ((rows + BLOCK_ROWS - 1) / BLOCK_ROWS) * ((cols + BLOCK_COLS - 1) / BLOCK_COLS);
}

/*
 * nr x nc elements of c (nr <= TILE_ROWS, nc <= TILE_COLS), each a full dot
 * product over inner. Always inlined with constant nr and nc, so that the
 * accumulators live in registers and the lane loop becomes vector code.
 */
static inline __attribute__((always_inline)) void dot_tile(float *c, const float *a, const float *b,
                                                           const float *bias, int64_t inner,
                                                           int64_t ldc, const int nr, const int nc) {
    float acc[TILE_ROWS][TILE_COLS][LANES];
    for (int r = 0; r < nr; r++)
        for (int j = 0; j < nc; j++)
            for (int l = 0; l < LANES; l++) acc[r][j][l] = 0.0f;

    const int64_t vector_end = inner - inner % LANES;
    for (int64_t k = 0; k < vector_end; k += LANES)
        for (int r = 0; r < nr; r++)
            for (int j = 0; j < nc; j++)
                for (int l = 0; l < LANES; l++)
                    acc[r][j][l] += a[r * inner + k + l] * b[j * inner + k + l];

    for (int r = 0; r < nr; r++)
        for (int j = 0; j < nc; j++) {
            const float *v = acc[r][j];
            float s = ((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7]));
            for (int64_t k = vector_end; k < inner; k++) s += a[r * inner + k] * b[j * inner + k];
            if (bias != NULL) s += bias[j];
            c[r * ldc + j] = s;
        }
}

/* Rows [r0, r1) of c for the nc columns starting at j; nc is TILE_COLS or 1. */
static inline __attribute__((always_inline)) void column_strip(float *c, const float *a, const float *b,
                                                               const float *bias, int64_t r0, int64_t r1,
                                                               int64_t j, int64_t inner, int64_t cols,
                                                               const int nc) {
    const float *bj = b + j * inner;
    const float *bias_j = bias != NULL ? bias + j : NULL;
    int64_t r = r0;
    for (; r + TILE_ROWS <= r1; r += TILE_ROWS)
        dot_tile(c + r * cols + j, a + r * inner, bj, bias_j, inner, cols, TILE_ROWS, nc);
    for (; r < r1; r++) dot_tile(c + r * cols + j, a + r * inner, bj, bias_j, inner, cols, 1, nc);
}

static void gemm_block(float *c, const float *a, const float *b, const float *bias, int64_t r0,
                       int64_t r1, int64_t j0, int64_t j1, int64_t inner, int64_t cols) {
    int64_t j = j0;
    for (; j + TILE_COLS <= j1; j += TILE_COLS)
        column_strip(c, a, b, bias, r0, r1, j, inner, cols, TILE_COLS);
    for (; j < j1; j++) column_strip(c, a, b, bias, r0, r1, j, inner, cols, 1);
}

void nf_gemm_nt_f32(float *c, const float *a, const float *b, const float *bias, int64_t rows,
                    int64_t inner, int64_t cols) {
    const int64_t blocks = block_count(rows, cols);
#pragma omp for schedule(static)
    for (int64_t t = 0; t < blocks; t++) {
        const block blk = block_at(t, rows, cols);
        gemm_block(c, a, b, bias, blk.r0, blk.r1, blk.j0, blk.j1, inner, cols);
    }
}

/*
 * c = a b and c = a^T b, the backward products, as rank-1 updates: b is read
 * along its rows, contiguously, and the vector lanes are neighbouring columns
 * of c, so both layouts of a share one kernel that reads a through strides.
 *
 * Summation order: element (r, j) adds the products a[r, k] * b[k, j] to one
 * float partial sum, starting from 0, in ascending k, and nf_store_grad
 * stores the sum. A block's partial sums wait in a buffer between passes
 * over UPDATE_DEPTH values of k, so that the panels of a and b that a pass
 * reads stay in L2 (dW's k runs over the whole batch); a float stored and
 * reloaded is unchanged, so every element still runs this one sequence of
 * operations whatever the tiling, and the result depends on inner alone. For
 * dW the reduction runs over the batch, so the threads split only the blocks
 * of c.
 */

/*
 * Register block: UPDATE_ROWS rows of c times UPDATE_COLS columns, two SSE
 * vectors per row, eight registers of partial sums. The vector type (a GCC
 * and Clang extension) makes the lanes explicit: left to itself, gcc 12
 * shuffles this loop nest and keeps the sums in memory, at a third of the
 * speed. Vector operations are IEEE float operations lane by lane, the same
 * as the scalar code of the column tails.
 */
#define UPDATE_ROWS 4
#define UPDATE_COLS 8

/*
 * Values of k per pass over a block: panels of 256 x 32 floats of a and
 * 256 x 64 of b, 96 KiB, which stay in L2 while the block's tiles reread them.
 */
#define UPDATE_DEPTH 256

typedef float update_vec __attribute__((vector_size(4 * sizeof(float))));

/* The left operand: element (r, k) at p[r * row_stride + k * k_stride]. */
typedef struct {
    const float *p;
    int64_t row_stride, k_stride;
} operand;

static inline operand operand_at(operand a, int64_t r, int64_t k) {
    const operand o = {a.p + r * a.row_stride + k * a.k_stride, a.row_stride, a.k_stride};
    return o;
}

/*
 * Adds a[r, k] * b[k, j] over k < depth to the partial sums s[r * lds + j] of
 * nr rows (nr <= UPDATE_ROWS, a constant once inlined) and UPDATE_COLS
 * columns. Loads and stores are unaligned.
 */
static inline __attribute__((always_inline)) void update_tile(float *s, int64_t lds, operand a, const float *b,
                                                              int64_t ldb, int64_t depth, const int nr) {
    update_vec lo[UPDATE_ROWS], hi[UPDATE_ROWS];
    for (int r = 0; r < nr; r++) {
        memcpy(&lo[r], s + r * lds, sizeof lo[r]);
        memcpy(&hi[r], s + r * lds + 4, sizeof hi[r]);
    }
    for (int64_t k = 0; k < depth; k++) {
        update_vec b_lo, b_hi;
        memcpy(&b_lo, b + k * ldb, sizeof b_lo);
        memcpy(&b_hi, b + k * ldb + 4, sizeof b_hi);
        for (int r = 0; r < nr; r++) {
            const float ark = a.p[r * a.row_stride + k * a.k_stride];
            lo[r] += ark * b_lo;
            hi[r] += ark * b_hi;
        }
    }
    for (int r = 0; r < nr; r++) {
        memcpy(s + r * lds, &lo[r], sizeof lo[r]);
        memcpy(s + r * lds + 4, &hi[r], sizeof hi[r]);
    }
}

/* update_tile for one column of the tail, in scalar code. */
static inline __attribute__((always_inline)) void update_column(float *s, int64_t lds, operand a, const float *b,
                                                                int64_t ldb, int64_t depth, const int nr) {
    float acc[UPDATE_ROWS];
    for (int r = 0; r < nr; r++) acc[r] = s[r * lds];
    for (int64_t k = 0; k < depth; k++)
        for (int r = 0; r < nr; r++) acc[r] += a.p[r * a.row_stride + k * a.k_stride] * b[k * ldb];
    for (int r = 0; r < nr; r++) s[r * lds] = acc[r];
}

/* The nr rows of partial sums s (stride BLOCK_COLS) for the column at b: a vector of columns, or one. */
static inline __attribute__((always_inline)) void update_strip(float *s, operand a, const float *b, int64_t ldb,
                                                               int64_t nr, int64_t depth, const int vector) {
    int64_t r = 0;
    for (; r + UPDATE_ROWS <= nr; r += UPDATE_ROWS) {
        if (vector)
            update_tile(s + r * BLOCK_COLS, BLOCK_COLS, operand_at(a, r, 0), b, ldb, depth, UPDATE_ROWS);
        else
            update_column(s + r * BLOCK_COLS, BLOCK_COLS, operand_at(a, r, 0), b, ldb, depth, UPDATE_ROWS);
    }
    for (; r < nr; r++) {
        if (vector)
            update_tile(s + r * BLOCK_COLS, BLOCK_COLS, operand_at(a, r, 0), b, ldb, depth, 1);
        else
            update_column(s + r * BLOCK_COLS, BLOCK_COLS, operand_at(a, r, 0), b, ldb, depth, 1);
    }
}

/* One block of c: passes over the k, then nf_store_grad of the block's sums. */
static inline __attribute__((always_inline)) void update_block(float *c, operand a, const float *b, block blk,
                                                               int64_t inner, int64_t cols, int accumulate) {
    float sums[BLOCK_ROWS * BLOCK_COLS] = {0};
    const int64_t nr = blk.r1 - blk.r0;
    const int64_t nc = blk.j1 - blk.j0;
    for (int64_t k0 = 0; k0 < inner; k0 += UPDATE_DEPTH) {
        const int64_t depth = min64(UPDATE_DEPTH, inner - k0);
        const operand a_pass = operand_at(a, blk.r0, k0);
        const float *b_pass = b + k0 * cols + blk.j0;
        int64_t j = 0;
        for (; j + UPDATE_COLS <= nc; j += UPDATE_COLS)
            update_strip(sums + j, a_pass, b_pass + j, cols, nr, depth, 1);
        for (; j < nc; j++) update_strip(sums + j, a_pass, b_pass + j, cols, nr, depth, 0);
    }
    for (int64_t r = 0; r < nr; r++)
        for (int64_t j = 0; j < nc; j++)
            nf_store_grad(c + (blk.r0 + r) * cols + blk.j0 + j, sums[r * BLOCK_COLS + j], accumulate);
}

/* Inlined into each layout, so that the strides of a are constants where they are 1. */
static inline __attribute__((always_inline)) void gemm_update(float *c, operand a, const float *b, int64_t rows,
                                                              int64_t inner, int64_t cols, int accumulate) {
    const int64_t blocks = block_count(rows, cols);
#pragma omp for schedule(static)
    for (int64_t t = 0; t < blocks; t++) update_block(c, a, b, block_at(t, rows, cols), inner, cols, accumulate);
}

void nf_gemm_nn_f32(float *c, const float *a, const float *b, int64_t rows, int64_t inner, int64_t cols) {
    const operand a_rows = {a, inner, 1};
    gemm_update(c, a_rows, b, rows, inner, cols, 0);
}

void nf_gemm_tn_f32(float *c, const float *a, const float *b, int64_t rows, int64_t inner, int64_t cols,
                    int accumulate) {
    const operand a_columns = {a, 1, rows};
    gemm_update(c, a_columns, b, rows, inner, cols, accumulate);
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
    const double multiply_adds = (double)rows * (double)inner * (double)cols;
    return (rows > BLOCK_ROWS || cols > BLOCK_COLS) && multiply_adds >= (double)NF_PARALLEL_MIN_WORK;
}
