/*
 * BatchNorm over the batch dimension of x[n, c] (Ioffe and Szegedy, 2015), with
 * the semantics of PyTorch's torch.nn.functional.batch_norm on a 2-D input, and
 * its backward (at the end of the file).
 *
 * Two passes over x, each a grid of tiles that depends only on (n, c):
 *  - statistics (training only): tiles of BN_STAT_ROWS rows by BN_STAT_COLS
 *    contiguous columns (a kilobyte of each row, so the rows stream through
 *    the prefetchers), 128 KiB that stay in L2 while the tile is read twice:
 *    its column means in double, then the sums of squared deviations from
 *    them, an exact two-pass mean and variance with no E[x^2] - E[x]^2
 *    cancellation. A column merges its row tiles' (count, mean, m2) in
 *    ascending order (Chan, Golub and LeVeque, 1979): the statistics are
 *    bit-identical whatever the thread count, and a tall, narrow input still
 *    splits into many tiles.
 *  - normalization: every output is independent, so tiles are wide
 *    (BN_APPLY_COLS columns, whole pages of each row) for streaming.
 * Both passes of the forward are compiled for each CPU level (dispatch.h);
 * they compute the same operations in the same order at every level.
 */
#include <math.h>
#include <stdlib.h>

#include "dispatch.h"
#include "layernorm.h"

#include "../common/error.h"
#include "../common/norm.h"
#include "../common/parallel.h"
#include "../common/welford.h"

enum { BN_STAT_ROWS = 128, BN_STAT_COLS = 256, BN_APPLY_ROWS = 32, BN_APPLY_COLS = 1024 };

/* A grid of tiles over x[n, c]; tile t is row tile t / col_tiles and column tile t % col_tiles. */
typedef struct {
    int64_t n, c, tile_rows, tile_cols, row_tiles, col_tiles;
} tiling;

typedef struct {
    int64_t row_tile, r0, rows, j0, cols;
} tile;

static tiling make_tiling(int64_t n, int64_t c, int64_t tile_rows, int64_t tile_cols) {
    const tiling g = {n, c, tile_rows, tile_cols, (n + tile_rows - 1) / tile_rows, (c + tile_cols - 1) / tile_cols};
    return g;
}

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

static int64_t rows_of_tile(const tiling *g, int64_t row_tile) {
    return min64(g->tile_rows, g->n - row_tile * g->tile_rows);
}

static tile tile_at(const tiling *g, int64_t t) {
    const int64_t rt = t / g->col_tiles;
    const int64_t j0 = (t % g->col_tiles) * g->tile_cols;
    const tile s = {rt, rt * g->tile_rows, rows_of_tile(g, rt), j0, min64(g->tile_cols, g->c - j0)};
    return s;
}

/*
 * Mean and m2 (the sum of squared deviations from the mean) of `cols`
 * columns over `rows` rows, in double; x points at the tile's first element.
 */
static inline __attribute__((always_inline)) void tile_moments(double *mean_out, double *m2_out, const float *x,
                                                               int64_t c, int64_t rows, int64_t cols) {
    double sum[BN_STAT_COLS] = {0};
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * c;
        for (int64_t j = 0; j < cols; j++) sum[j] += xr[j];
    }
    double mean[BN_STAT_COLS];
    double m2[BN_STAT_COLS] = {0};
    for (int64_t j = 0; j < cols; j++) mean[j] = sum[j] / (double)rows;
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * c;
        for (int64_t j = 0; j < cols; j++) {
            const double d = xr[j] - mean[j];
            m2[j] += d * d;
        }
    }
    for (int64_t j = 0; j < cols; j++) {
        mean_out[j] = mean[j];
        m2_out[j] = m2[j];
    }
}

/* The columns' nf_batchnorm_affine maps (common/norm.h) as four arrays, for the vectorized apply pass. */
typedef struct {
    float *hi, *lo, *scale, *shift;
} column_affine;

/* One allocation, freed with free(a.hi); a.hi is NULL when it failed. */
static column_affine affine_alloc(int64_t c) {
    column_affine a = {malloc(sizeof(float) * 4 * (size_t)c), NULL, NULL, NULL};
    if (a.hi != NULL) {
        a.lo = a.hi + c;
        a.scale = a.lo + c;
        a.shift = a.scale + c;
    }
    return a;
}

static void affine_set(column_affine a, int64_t j, double mean, double rstd, const float *gamma,
                       const float *beta) {
    const nf_batchnorm_affine m = nf_batchnorm_affine_of(mean, rstd, gamma, beta, j);
    a.hi[j] = m.hi;
    a.lo[j] = m.lo;
    a.scale[j] = m.scale;
    a.shift[j] = m.shift;
}

static inline __attribute__((always_inline)) void affine_apply(float *y, const float *x, int64_t c, tile s,
                                                               column_affine a) {
    const float *hi = a.hi + s.j0, *lo = a.lo + s.j0, *scale = a.scale + s.j0, *shift = a.shift + s.j0;
    for (int64_t r = s.r0; r < s.r0 + s.rows; r++) {
        const float *xr = x + r * c + s.j0;
        float *yr = y + r * c + s.j0;
        /* simd: each element is read before it is written, so y may be x. */
#pragma omp simd
        for (int64_t j = 0; j < s.cols; j++) yr[j] = nf_batchnorm_apply(xr[j], hi[j], lo[j], scale[j], shift[j]);
    }
}

/* The forward's two tile passes at one level. */
typedef struct {
    void (*moments)(double *mean_out, double *m2_out, const float *x, int64_t c, int64_t rows, int64_t cols);
    void (*apply)(float *y, const float *x, int64_t c, tile s, column_affine a);
} level_passes;

static void moments_scalar(double *mean_out, double *m2_out, const float *x, int64_t c, int64_t rows,
                           int64_t cols) {
    tile_moments(mean_out, m2_out, x, c, rows, cols);
}

static void apply_scalar(float *y, const float *x, int64_t c, tile s, column_affine a) { affine_apply(y, x, c, s, a); }

#if NF_HAVE_X86_LEVELS
NF_TARGET_AVX2 static void moments_avx2(double *mean_out, double *m2_out, const float *x, int64_t c, int64_t rows,
                                        int64_t cols) {
    tile_moments(mean_out, m2_out, x, c, rows, cols);
}

NF_TARGET_AVX2 static void apply_avx2(float *y, const float *x, int64_t c, tile s, column_affine a) {
    affine_apply(y, x, c, s, a);
}

NF_TARGET_AVX512 static void moments_avx512(double *mean_out, double *m2_out, const float *x, int64_t c,
                                            int64_t rows, int64_t cols) {
    tile_moments(mean_out, m2_out, x, c, rows, cols);
}

NF_TARGET_AVX512 static void apply_avx512(float *y, const float *x, int64_t c, tile s, column_affine a) {
    affine_apply(y, x, c, s, a);
}

static const level_passes PASSES[NF_CPU_LEVELS] = {
    {moments_scalar, apply_scalar}, {moments_avx2, apply_avx2}, {moments_avx512, apply_avx512}};
#else
static const level_passes PASSES[NF_CPU_LEVELS] = {
    {moments_scalar, apply_scalar}, {moments_scalar, apply_scalar}, {moments_scalar, apply_scalar}};
#endif

/* An array an entry point reads or writes, for check_disjoint. */
typedef struct {
    const float *p;
    int64_t n;
    const char *name;
} span;

/*
 * Fails unless each of the first `outputs` arrays is disjoint from every later
 * one (NF_CHECK_DISJOINT over a table): a kernel reads its inputs while it
 * writes, and two outputs in the same memory would leave one of them wrong.
 */
static int32_t check_disjoint(const char *op, const span *a, int outputs, int count) {
    for (int i = 0; i < outputs; i++)
        for (int j = i + 1; j < count; j++)
            if (NF_OVERLAPS(a[i].p, a[i].n, a[j].p, a[j].n))
                return nf_fail(NF_ERR_INVALID_ARGUMENT, "%s: %s overlaps %s", op, a[i].name, a[j].name);
    return NF_OK;
}

/* Where the training pass writes the per-column statistics; each may be NULL. */
typedef struct {
    float *save_mean, *save_rstd, *running_mean, *running_var;
} train_outputs;

/*
 * Merges column j's tile moments in row-tile order and writes its affine map,
 * saved statistics and running statistics. The running update is PyTorch's:
 * m * batch + (1 - m) * running, with the unbiased variance m2 / (n - 1), in
 * double.
 */
static void finish_column(const tiling *g, int64_t j, const double *part_mean, const double *part_m2,
                          column_affine a, train_outputs out, const float *gamma, const float *beta, float eps,
                          float momentum) {
    nf_welford acc = {0, 0, 0};
    for (int64_t rt = 0; rt < g->row_tiles; rt++) {
        const nf_welford part = {(double)rows_of_tile(g, rt), part_mean[rt * g->c + j], part_m2[rt * g->c + j]};
        acc = nf_welford_merge(acc, part);
    }
    const double rstd = nf_batchnorm_inv_std(acc.m2 / (double)g->n, eps);
    affine_set(a, j, acc.mean, rstd, gamma, beta);
    if (out.save_mean != NULL) out.save_mean[j] = (float)acc.mean;
    if (out.save_rstd != NULL) out.save_rstd[j] = (float)rstd;
    if (out.running_mean != NULL) {
        const double unbiased = acc.m2 / (double)(g->n - 1);
        out.running_mean[j] = nf_batchnorm_running_update(momentum, acc.mean, out.running_mean[j]);
        out.running_var[j] = nf_batchnorm_running_update(momentum, unbiased, out.running_var[j]);
    }
}

NF_API int32_t nf_batchnorm_fwd_train_f32(float *y, float *save_mean, float *save_rstd, float *running_mean,
                                          float *running_var, const float *x, const float *gamma,
                                          const float *beta, int64_t n, int64_t c, float eps, float momentum) {
    static const char op[] = "nf_batchnorm_fwd_train_f32";
    NF_CHECK_PTR(op, y);
    NF_CHECK_PTR(op, x);
    NF_CHECK_POSITIVE(op, n);
    NF_CHECK_POSITIVE(op, c);
    int32_t status = nf_layernorm_check_eps(op, eps);
    if (status != NF_OK) return status;
    if (!(momentum >= 0.0f && momentum <= 1.0f))
        return nf_fail(NF_ERR_INVALID_ARGUMENT, "%s: momentum must be finite and in [0, 1], got %g", op,
                       (double)momentum);
    if ((running_mean == NULL) != (running_var == NULL))
        return nf_fail(NF_ERR_INVALID_ARGUMENT,
                       "%s: running_mean and running_var must both be given or both be NULL", op);
    /* PyTorch's message (torch.nn.functional._verify_batch_size): one sample has no variance. */
    if (n == 1)
        return nf_fail(NF_ERR_INVALID_ARGUMENT,
                       "%s: Expected more than 1 value per channel when training, got input size [%lld, %lld]", op,
                       (long long)n, (long long)c);
    /* y == x is in place: the NULL stands for x then. */
    const span arrays[] = {{y, n * c, "y"},
                           {save_mean, c, "save_mean"},
                           {save_rstd, c, "save_rstd"},
                           {running_mean, c, "running_mean"},
                           {running_var, c, "running_var"},
                           {y == x ? NULL : x, n * c, "x"},
                           {gamma, c, "gamma"},
                           {beta, c, "beta"}};
    status = check_disjoint(op, arrays, 5, (int)(sizeof arrays / sizeof arrays[0]));
    if (status != NF_OK) return status;
    int level;
    status = nf_cpu_level_for(op, &level);
    if (status != NF_OK) return status;
    const level_passes *passes = &PASSES[level];

    const tiling stat = make_tiling(n, c, BN_STAT_ROWS, BN_STAT_COLS);
    const tiling apply = make_tiling(n, c, BN_APPLY_ROWS, BN_APPLY_COLS);
    const int64_t stat_tiles = stat.row_tiles * stat.col_tiles;
    const int64_t apply_tiles = apply.row_tiles * apply.col_tiles;
    double *part_mean = malloc(sizeof(double) * 2 * (size_t)stat.row_tiles * (size_t)c);
    const column_affine a = affine_alloc(c);
    if (part_mean == NULL || a.hi == NULL) {
        free(part_mean);
        free(a.hi);
        return nf_fail(NF_ERR_OUT_OF_MEMORY, "%s: cannot allocate the statistics of %lld columns", op,
                       (long long)c);
    }
    double *part_m2 = part_mean + stat.row_tiles * c;
    const train_outputs out = {save_mean, save_rstd, running_mean, running_var};

    NF_PARALLEL_IF(n * c >= NF_PARALLEL_MIN_WORK, nf_threads(),
        _Pragma("omp for schedule(static)")
        for (int64_t t = 0; t < stat_tiles; t++) {
            const tile s = tile_at(&stat, t);
            const int64_t at = s.row_tile * c + s.j0;
            passes->moments(part_mean + at, part_m2 + at, x + s.r0 * c + s.j0, c, s.rows, s.cols);
        }
        _Pragma("omp for schedule(static)")
        for (int64_t j = 0; j < c; j++)
            finish_column(&stat, j, part_mean, part_m2, a, out, gamma, beta, eps, momentum);
        _Pragma("omp for schedule(static)")
        for (int64_t t = 0; t < apply_tiles; t++) passes->apply(y, x, c, tile_at(&apply, t), a);
    );
    free(part_mean);
    free(a.hi);
    return NF_OK;
}

NF_API int32_t nf_batchnorm_fwd_eval_f32(float *y, const float *x, const float *running_mean,
                                         const float *running_var, const float *gamma, const float *beta,
                                         int64_t n, int64_t c, float eps) {
    static const char op[] = "nf_batchnorm_fwd_eval_f32";
    NF_CHECK_PTR(op, y);
    NF_CHECK_PTR(op, x);
    NF_CHECK_PTR(op, running_mean);
    NF_CHECK_PTR(op, running_var);
    NF_CHECK_POSITIVE(op, n);
    NF_CHECK_POSITIVE(op, c);
    int32_t status = nf_layernorm_check_eps(op, eps);
    if (status != NF_OK) return status;
    const span arrays[] = {{y, n * c, "y"},
                           {y == x ? NULL : x, n * c, "x"},
                           {running_mean, c, "running_mean"},
                           {running_var, c, "running_var"},
                           {gamma, c, "gamma"},
                           {beta, c, "beta"}};
    status = check_disjoint(op, arrays, 1, (int)(sizeof arrays / sizeof arrays[0]));
    if (status != NF_OK) return status;
    int level;
    status = nf_cpu_level_for(op, &level);
    if (status != NF_OK) return status;
    const level_passes *passes = &PASSES[level];

    const tiling apply = make_tiling(n, c, BN_APPLY_ROWS, BN_APPLY_COLS);
    const int64_t apply_tiles = apply.row_tiles * apply.col_tiles;
    const column_affine a = affine_alloc(c);
    if (a.hi == NULL)
        return nf_fail(NF_ERR_OUT_OF_MEMORY, "%s: cannot allocate the scales of %lld columns", op, (long long)c);

    NF_PARALLEL_IF(n * c >= NF_PARALLEL_MIN_WORK, nf_threads(),
        _Pragma("omp for schedule(static)")
        for (int64_t j = 0; j < c; j++)
            affine_set(a, j, running_mean[j], nf_batchnorm_running_rstd(running_var[j], eps), gamma, beta);
        _Pragma("omp for schedule(static)")
        for (int64_t t = 0; t < apply_tiles; t++) passes->apply(y, x, c, tile_at(&apply, t), a);
    );
    free(a.hi);
    return NF_OK;
}

/*
 * Backward. Both modes need, per column, sum(dy) and sum(dy * (x - mean)) over
 * the rows; they are summed in double over the statistics pass's tiles and
 * merged in row-tile order, so they are bit-identical whatever the thread
 * count. Every dx is then the affine map a * dy + b * (x - mean) + k of its
 * column, evaluated in double and rounded once:
 *  - training (batch statistics, Ioffe and Szegedy, 2015, section 3):
 *    dx = gamma * rstd * (dy - sum(dy) / n - (x - mean) * rstd^2 * sum(dy * (x - mean)) / n),
 *    PyTorch's batch_norm_backward, so a = gamma * rstd, b = -a * rstd^2 * sum(dy * (x - mean)) / n,
 *    k = -a * sum(dy) / n;
 *  - eval (constant running statistics): dx = gamma * rstd * dy, so b = k = 0.
 */
typedef struct {
    float *dx, *dgamma, *dbeta;
    const float *dy, *x, *mean, *gamma;
    /* Training: the saved rstd; eval: running_var, with eps. */
    const float *rstd, *running_var;
    float eps;
    int accumulate;
} bwd_args;

/* The per-column map of dx and the column sums' partial results, in one allocation freed with free(m.a). */
typedef struct {
    double *a, *b, *k, *part_dy, *part_dyxc;
} bwd_scratch;

static bwd_scratch bwd_scratch_alloc(int64_t c, int64_t row_tiles) {
    bwd_scratch m = {malloc(sizeof(double) * (size_t)c * (3 + 2 * (size_t)row_tiles)), NULL, NULL, NULL, NULL};
    if (m.a != NULL) {
        m.b = m.a + c;
        m.k = m.b + c;
        m.part_dy = m.k + c;
        m.part_dyxc = m.part_dy + row_tiles * c;
    }
    return m;
}

/* sum(dy) and sum(dy * (x - mean)) of `cols` columns over `rows` rows, in row order; pointers at the tile's corner. */
static inline void grad_sum_columns(double *sum_dy_out, double *sum_dyxc_out, const float *dy, const float *x,
                                    const float *mean, int64_t c, int64_t rows, int64_t cols) {
    double sum_dy[BN_STAT_COLS] = {0};
    double sum_dyxc[BN_STAT_COLS] = {0};
    for (int64_t r = 0; r < rows; r++) {
        const float *dyr = dy + r * c;
        const float *xr = x + r * c;
#pragma omp simd
        for (int64_t j = 0; j < cols; j++) {
            const double g = dyr[j];
            sum_dy[j] += g;
            sum_dyxc[j] += g * ((double)xr[j] - (double)mean[j]);
        }
    }
    for (int64_t j = 0; j < cols; j++) {
        sum_dy_out[j] = sum_dy[j];
        sum_dyxc_out[j] = sum_dyxc[j];
    }
}

static void tile_grad_sums(bwd_scratch m, const bwd_args *g, int64_t c, tile s) {
    const int64_t at = s.row_tile * c + s.j0;
    const int64_t corner = s.r0 * c + s.j0;
    grad_sum_columns(m.part_dy + at, m.part_dyxc + at, g->dy + corner, g->x + corner, g->mean + s.j0, c, s.rows,
                     s.cols);
}

/* PyTorch accumulates a parameter's gradient as a float addition of the new, already rounded gradient. */
static void store_param_grad(float *out, double value, int accumulate) {
    if (out == NULL) return;
    *out = accumulate ? *out + (float)value : (float)value;
}

/*
 * Merges column j's partial sums in row-tile order (when they were computed),
 * writes dgamma and dbeta, and sets the column's map for dx.
 */
static void finish_grad_column(const tiling *t, int64_t j, bwd_scratch m, const bwd_args *g, int train,
                               int have_sums) {
    double sum_dy = 0;
    double sum_dyxc = 0;
    if (have_sums)
        for (int64_t rt = 0; rt < t->row_tiles; rt++) {
            sum_dy += m.part_dy[rt * t->c + j];
            sum_dyxc += m.part_dyxc[rt * t->c + j];
        }
    const double rstd = train ? (double)g->rstd[j] : nf_batchnorm_running_rstd(g->running_var[j], g->eps);
    store_param_grad(g->dgamma == NULL ? NULL : g->dgamma + j, sum_dyxc * rstd, g->accumulate);
    store_param_grad(g->dbeta == NULL ? NULL : g->dbeta + j, sum_dy, g->accumulate);
    const double a = g->gamma != NULL ? (double)g->gamma[j] * rstd : rstd;
    const double n = (double)t->n;
    m.a[j] = a;
    m.b[j] = train ? -a * rstd * rstd * sum_dyxc / n : 0.0;
    m.k[j] = train ? -a * sum_dy / n : 0.0;
}

static void grad_apply(const bwd_args *g, int64_t c, tile s, bwd_scratch m) {
    const double *a = m.a + s.j0, *b = m.b + s.j0, *k = m.k + s.j0;
    const float *mean = g->mean + s.j0;
    for (int64_t r = s.r0; r < s.r0 + s.rows; r++) {
        const float *dyr = g->dy + r * c + s.j0;
        const float *xr = g->x + r * c + s.j0;
        float *dxr = g->dx + r * c + s.j0;
        /* simd: each dy is read before its dx is written, so dx may be dy. */
#pragma omp simd
        for (int64_t j = 0; j < s.cols; j++)
            dxr[j] = nf_batchnorm_dx(a[j], b[j], k[j], dyr[j], xr[j], mean[j]);
    }
}

static int32_t batchnorm_bwd(const char *op, const bwd_args *g, int64_t n, int64_t c, int train) {
    if (g->accumulate != 0 && g->accumulate != 1)
        return nf_fail(NF_ERR_INVALID_ARGUMENT, "%s: accumulate must be 0 or 1, got %d", op, g->accumulate);
    /* dx == dy is in place: the NULL stands for dy then. */
    const span arrays[] = {{g->dx, n * c, "dx"},
                           {g->dgamma, c, "dgamma"},
                           {g->dbeta, c, "dbeta"},
                           {g->dx == g->dy ? NULL : g->dy, n * c, "dy"},
                           {g->x, n * c, "x"},
                           {g->mean, c, train ? "save_mean" : "running_mean"},
                           {train ? g->rstd : g->running_var, c, train ? "save_rstd" : "running_var"},
                           {g->gamma, c, "gamma"}};
    const int32_t status = check_disjoint(op, arrays, 3, (int)(sizeof arrays / sizeof arrays[0]));
    if (status != NF_OK) return status;

    const tiling stat = make_tiling(n, c, BN_STAT_ROWS, BN_STAT_COLS);
    const tiling apply = make_tiling(n, c, BN_APPLY_ROWS, BN_APPLY_COLS);
    const int64_t stat_tiles = stat.row_tiles * stat.col_tiles;
    const int64_t apply_tiles = apply.row_tiles * apply.col_tiles;
    /* Eval's dx needs no sums; its dgamma and dbeta do. */
    const int have_sums = g->dgamma != NULL || g->dbeta != NULL || (train && g->dx != NULL);
    const bwd_scratch m = bwd_scratch_alloc(c, stat.row_tiles);
    if (m.a == NULL)
        return nf_fail(NF_ERR_OUT_OF_MEMORY, "%s: cannot allocate the sums of %lld columns", op, (long long)c);

    NF_PARALLEL_IF(n * c >= NF_PARALLEL_MIN_WORK, nf_threads(),
        if (have_sums) {
            _Pragma("omp for schedule(static)")
            for (int64_t t = 0; t < stat_tiles; t++) tile_grad_sums(m, g, c, tile_at(&stat, t));
        }
        _Pragma("omp for schedule(static)")
        for (int64_t j = 0; j < c; j++) finish_grad_column(&stat, j, m, g, train, have_sums);
        if (g->dx != NULL) {
            _Pragma("omp for schedule(static)")
            for (int64_t t = 0; t < apply_tiles; t++) grad_apply(g, c, tile_at(&apply, t), m);
        }
    );
    free(m.a);
    return NF_OK;
}

NF_API int32_t nf_batchnorm_bwd_train_f32(float *dx, float *dgamma, float *dbeta, const float *dy, const float *x,
                                          const float *save_mean, const float *save_rstd, const float *gamma,
                                          int64_t n, int64_t c, int32_t accumulate) {
    static const char op[] = "nf_batchnorm_bwd_train_f32";
    NF_CHECK_PTR(op, dy);
    NF_CHECK_PTR(op, x);
    NF_CHECK_PTR(op, save_mean);
    NF_CHECK_PTR(op, save_rstd);
    NF_CHECK_POSITIVE(op, n);
    NF_CHECK_POSITIVE(op, c);
    const bwd_args g = {.dx = dx, .dgamma = dgamma, .dbeta = dbeta, .dy = dy, .x = x, .mean = save_mean,
                        .gamma = gamma, .rstd = save_rstd, .accumulate = accumulate};
    return batchnorm_bwd(op, &g, n, c, 1);
}

NF_API int32_t nf_batchnorm_bwd_eval_f32(float *dx, float *dgamma, float *dbeta, const float *dy, const float *x,
                                         const float *running_mean, const float *running_var, const float *gamma,
                                         int64_t n, int64_t c, float eps, int32_t accumulate) {
    static const char op[] = "nf_batchnorm_bwd_eval_f32";
    NF_CHECK_PTR(op, dy);
    NF_CHECK_PTR(op, x);
    NF_CHECK_PTR(op, running_mean);
    NF_CHECK_PTR(op, running_var);
    NF_CHECK_POSITIVE(op, n);
    NF_CHECK_POSITIVE(op, c);
    const int32_t status = nf_layernorm_check_eps(op, eps);
    if (status != NF_OK) return status;
    const bwd_args g = {.dx = dx, .dgamma = dgamma, .dbeta = dbeta, .dy = dy, .x = x, .mean = running_mean,
                        .gamma = gamma, .running_var = running_var, .eps = eps, .accumulate = accumulate};
    return batchnorm_bwd(op, &g, n, c, 0);
}
