/*
 * c = a b^T (+ bias) for the linear layers: cache-blocked, register-blocked
 * dot products that gcc vectorizes at -O3 without -ffast-math.
 *
 * Summation order (the determinism contract of gemm.h): element (r, j) sums
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
    const int64_t row_blocks = (rows + BLOCK_ROWS - 1) / BLOCK_ROWS;
    const int64_t col_blocks = (cols + BLOCK_COLS - 1) / BLOCK_COLS;
#pragma omp for schedule(static)
    for (int64_t t = 0; t < row_blocks * col_blocks; t++) {
        const int64_t r0 = t / col_blocks * BLOCK_ROWS;
        const int64_t j0 = t % col_blocks * BLOCK_COLS;
        gemm_block(c, a, b, bias, r0, min64(r0 + BLOCK_ROWS, rows), j0, min64(j0 + BLOCK_COLS, cols),
                   inner, cols);
    }
}

int nf_gemm_worth_parallel(int64_t rows, int64_t inner, int64_t cols) {
    /* In double: the product of three sizes can overflow int64_t. */
    const double multiply_adds = (double)rows * (double)inner * (double)cols;
    return (rows > BLOCK_ROWS || cols > BLOCK_COLS) && multiply_adds >= (double)NF_PARALLEL_MIN_WORK;
}
