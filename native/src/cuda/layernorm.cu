/*
 * LayerNorm over the last dimension of x[rows, cols] on the GPU, forward and
 * backward, with the semantics of cpu/layernorm.c: the row's mean and biased
 * variance in double by two passes (no E[x^2] - E[x]^2 cancellation, so a row
 * of mean 1e4 and spread 1 keeps its digits), the mean kept as a float pair
 * (common/norm.h), and the backward's row means in double.
 *
 * A row belongs to a team of threads: a warp for rows of up to kWarpMaxCols
 * columns (the row then lives in registers between the passes), a block of
 * kWideThreads for wider ones (each pass reads the row again, from L2). Thread
 * t of a team of T takes the groups of four columns t, t + T, ... (one float4
 * each when aligned), and the team sums its threads' partials in a fixed tree
 * (reduce.cuh), so the statistics depend only on the row and cols.
 */
#include "common.cuh"
#include "norm.cuh"
#include "reduce.cuh"

#include "../cpu/layernorm.h"

namespace {

constexpr int kWarpMaxCols = 1024;
constexpr int kWarpThreads = 256;
constexpr int kWarpsPerBlock = kWarpThreads / 32;
constexpr int kWideThreads = 512;

/* A warp per row: lane l of warp w of block b starts at row b * kWarpsPerBlock + w. */
struct WarpTeam {
    static constexpr int kThreads = kWarpThreads;
    __device__ static int rank() { return threadIdx.x % 32; }
    __device__ static int size() { return 32; }
    __device__ static int64_t first_row() { return (int64_t)blockIdx.x * kWarpsPerBlock + threadIdx.x / 32; }
    __device__ static int64_t row_stride() { return (int64_t)gridDim.x * kWarpsPerBlock; }
    __device__ static double sum(double v) { return nf_warp_sum(v); }
};

/* A block per row. */
struct BlockTeam {
    static constexpr int kThreads = kWideThreads;
    __device__ static int rank() { return threadIdx.x; }
    __device__ static int size() { return blockDim.x; }
    __device__ static int64_t first_row() { return blockIdx.x; }
    __device__ static int64_t row_stride() { return gridDim.x; }
    __device__ static double sum(double v) {
        __shared__ double scratch[32];
        return nf_block_sum(v, scratch);
    }
};

/* This thread's part of the row's sum, its elements in column order (the forward's registers hold the same). */
template <class Team>
__device__ double partial_row_sum(const float *row, int64_t cols, bool vector) {
    double s = 0;
    for (int64_t j = 4 * (int64_t)Team::rank(); j < cols; j += 4 * (int64_t)Team::size()) {
        float v[4];
        nf_load4(v, row, j, cols, vector);
        for (int i = 0; i < 4; i++)
            if (j + i < cols) s += v[i];
    }
    return s;
}

/* y = xhat * gamma + beta for the group at j, in place in v (x on entry); gamma and beta may be NULL. */
__device__ __forceinline__ void affine4(float v[4], const float *gamma, const float *beta, int64_t j, int64_t cols,
                                        float mean, float mean_lo, float rstd, bool vector) {
    float g[4] = {}, b[4] = {};
    if (gamma != nullptr) nf_load4(g, gamma, j, cols, vector);
    if (beta != nullptr) nf_load4(b, beta, j, cols, vector);
    for (int i = 0; i < 4; i++) {
        v[i] = nf_layernorm_xhat(v[i], mean, mean_lo, rstd);
        if (gamma != nullptr) v[i] *= g[i];
        if (beta != nullptr) v[i] += b[i];
    }
}

/* The saved statistics and the float pair of the mean, from the row's double moments. */
struct RowStats {
    float mean, mean_lo, rstd;
};

__device__ __forceinline__ RowStats row_stats(double mean, double var, float eps) {
    RowStats s;
    s.mean = (float)mean;
    s.mean_lo = (float)(mean - (double)s.mean);
    s.rstd = nf_layernorm_rstd(var, eps);
    return s;
}

/*
 * Forward, a warp per row of at most 128 * G columns: the lane's G groups stay
 * in registers for the mean, the squared deviations and the output. vector:
 * y, x, gamma and beta are 16-byte aligned and cols % 4 == 0.
 */
template <int G>
__global__ void __launch_bounds__(kWarpThreads)
    ln_fwd_warp_kernel(float *y, float *mean_out, float *rstd_out, const float *x, const float *gamma,
                       const float *beta, int64_t rows, int64_t cols, float eps, bool vector) {
    const int lane = WarpTeam::rank();
    for (int64_t r = WarpTeam::first_row(); r < rows; r += WarpTeam::row_stride()) {
        const float *xr = x + r * cols;
        float v[G][4] = {};
        double sum = 0;
        for (int k = 0; k < G; k++) {
            const int64_t j = 4 * (int64_t)(lane + 32 * k);
            if (j < cols) {
                nf_load4(v[k], xr, j, cols, vector);
                for (int i = 0; i < 4; i++)
                    if (j + i < cols) sum += v[k][i];
            }
        }
        const double mean = nf_warp_sum(sum) / (double)cols;
        double sq = 0;
        for (int k = 0; k < G; k++) {
            const int64_t j = 4 * (int64_t)(lane + 32 * k);
            for (int i = 0; i < 4; i++)
                if (j + i < cols) {
                    const double d = (double)v[k][i] - mean;
                    sq += d * d;
                }
        }
        const RowStats s = row_stats(mean, nf_warp_sum(sq) / (double)cols, eps);
        float *yr = y + r * cols;
        for (int k = 0; k < G; k++) {
            const int64_t j = 4 * (int64_t)(lane + 32 * k);
            if (j < cols) {
                affine4(v[k], gamma, beta, j, cols, s.mean, s.mean_lo, s.rstd, vector);
                nf_store4(yr, j, cols, v[k], vector);
            }
        }
        if (lane == 0) {
            if (mean_out != nullptr) mean_out[r] = s.mean;
            if (rstd_out != nullptr) rstd_out[r] = s.rstd;
        }
    }
}

/* Forward, a block per row: three passes over the row (sum, squared deviations, output). */
__global__ void __launch_bounds__(kWideThreads)
    ln_fwd_wide_kernel(float *y, float *mean_out, float *rstd_out, const float *x, const float *gamma,
                       const float *beta, int64_t rows, int64_t cols, float eps, bool vector) {
    const int64_t step = 4 * (int64_t)BlockTeam::size();
    for (int64_t r = BlockTeam::first_row(); r < rows; r += BlockTeam::row_stride()) {
        const float *xr = x + r * cols;
        const double mean = BlockTeam::sum(partial_row_sum<BlockTeam>(xr, cols, vector)) / (double)cols;
        double sq = 0;
        for (int64_t j = 4 * (int64_t)BlockTeam::rank(); j < cols; j += step) {
            float v[4];
            nf_load4(v, xr, j, cols, vector);
            for (int i = 0; i < 4; i++)
                if (j + i < cols) {
                    const double d = (double)v[i] - mean;
                    sq += d * d;
                }
        }
        const RowStats s = row_stats(mean, BlockTeam::sum(sq) / (double)cols, eps);
        float *yr = y + r * cols;
        for (int64_t j = 4 * (int64_t)BlockTeam::rank(); j < cols; j += step) {
            float v[4];
            nf_load4(v, xr, j, cols, vector);
            affine4(v, gamma, beta, j, cols, s.mean, s.mean_lo, s.rstd, vector);
            nf_store4(yr, j, cols, v, vector);
        }
        if (BlockTeam::rank() == 0) {
            if (mean_out != nullptr) mean_out[r] = s.mean;
            if (rstd_out != nullptr) rstd_out[r] = s.rstd;
        }
    }
}

/*
 * The low part of the forward's mean, recovered as cpu/layernorm.c does: the
 * row summed again in double exactly as the forward summed it (same team,
 * same order), less the saved float mean.
 */
template <class Team>
__device__ float row_mean_lo(const float *xr, int64_t cols, float mean, bool vector) {
    const double exact = Team::sum(partial_row_sum<Team>(xr, cols, vector)) / (double)cols;
    return (float)(exact - (double)mean);
}

template <class Team>
__global__ void __launch_bounds__(Team::kThreads)
    ln_mean_lo_kernel(float *mean_lo, const float *x, const float *mean, int64_t rows, int64_t cols, bool vector) {
    for (int64_t r = Team::first_row(); r < rows; r += Team::row_stride()) {
        const float lo = row_mean_lo<Team>(x + r * cols, cols, mean[r], vector);
        if (Team::rank() == 0) mean_lo[r] = lo;
    }
}

/* gamma's group at j, or ones when there is none: g = dy * gamma is then dy, exactly, in double. */
__device__ __forceinline__ void load_gamma4(float g[4], const float *gamma, int64_t j, int64_t cols, bool vector) {
    if (gamma != nullptr) {
        nf_load4(g, gamma, j, cols, vector);
    } else {
        for (int i = 0; i < 4; i++) g[i] = 1.0f;
    }
}

/*
 * dx over a team's rows: the row's mean_lo, then the row means of g and
 * g * xhat in double, then nf_layernorm_dx. vector: dx, dy, x and gamma are
 * 16-byte aligned and cols % 4 == 0.
 */
template <class Team>
__global__ void __launch_bounds__(Team::kThreads)
    ln_bwd_dx_kernel(float *dx, const float *dy, const float *x, const float *mean, const float *rstd,
                     const float *gamma, int64_t rows, int64_t cols, bool vector) {
    const int64_t step = 4 * (int64_t)Team::size();
    const int64_t first = 4 * (int64_t)Team::rank();
    for (int64_t r = Team::first_row(); r < rows; r += Team::row_stride()) {
        const float *xr = x + r * cols, *dyr = dy + r * cols;
        const float m = mean[r], rs = rstd[r];
        const float lo = row_mean_lo<Team>(xr, cols, m, vector);
        double sum_g = 0, sum_gx = 0;
        for (int64_t j = first; j < cols; j += step) {
            float xv[4], dv[4], gv[4];
            nf_load4(xv, xr, j, cols, vector);
            nf_load4(dv, dyr, j, cols, vector);
            load_gamma4(gv, gamma, j, cols, vector);
            for (int i = 0; i < 4; i++)
                if (j + i < cols) {
                    const double g = (double)dv[i] * (double)gv[i];
                    sum_g += g;
                    sum_gx += g * (double)nf_layernorm_xhat(xv[i], m, lo, rs);
                }
        }
        const double mean_g = Team::sum(sum_g) / (double)cols;
        const double mean_gx = Team::sum(sum_gx) / (double)cols;
        float *dxr = dx + r * cols;
        for (int64_t j = first; j < cols; j += step) {
            float xv[4], dv[4], gv[4], out[4] = {};
            nf_load4(xv, xr, j, cols, vector);
            nf_load4(dv, dyr, j, cols, vector);
            load_gamma4(gv, gamma, j, cols, vector);
            for (int i = 0; i < 4; i++)
                out[i] = nf_layernorm_dx(rs, (double)dv[i] * (double)gv[i], mean_g,
                                         nf_layernorm_xhat(xv[i], m, lo, rs), mean_gx);
            nf_store4(dxr, j, cols, out, vector);
        }
    }
}

/*
 * Partial column sums over one chunk of rows (norm.cuh's tiles):
 * sum_r dy * xhat in part_dgamma when mean_lo is given, sum_r dy in
 * part_dbeta when it is given, each [chunks, cols] in double.
 */
__global__ void __launch_bounds__(kColThreads)
    ln_bwd_columns_kernel(double *part_dgamma, double *part_dbeta, const float *dy, const float *x,
                          const float *mean, const float *mean_lo, const float *rstd, nf_col_tiling t, bool vector) {
    __shared__ double scratch[kColWarps][kColTileCols];
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    for (int64_t tile = blockIdx.x; tile < t.chunks * t.col_tiles; tile += gridDim.x) {
        const int64_t chunk = tile / t.col_tiles;
        const int64_t j = (tile % t.col_tiles) * kColTileCols + 4 * lane;
        const int64_t r0 = chunk * kColChunkRows;
        const int64_t r1 = r0 + kColChunkRows < t.rows ? r0 + kColChunkRows : t.rows;
        double dg[4] = {0, 0, 0, 0}, db[4] = {0, 0, 0, 0};
        if (j < t.cols) {
            for (int64_t r = r0 + warp; r < r1; r += kColWarps) {
                float dv[4], xv[4];
                nf_load4(dv, dy + r * t.cols, j, t.cols, vector);
                if (part_dgamma != nullptr) {
                    nf_load4(xv, x + r * t.cols, j, t.cols, vector);
                    const float m = mean[r], lo = mean_lo[r], rs = rstd[r];
                    for (int i = 0; i < 4; i++) dg[i] += (double)dv[i] * (double)nf_layernorm_xhat(xv[i], m, lo, rs);
                }
                for (int i = 0; i < 4; i++) db[i] += dv[i];
            }
        }
        if (part_dgamma != nullptr) nf_col_block_sum(dg, scratch);
        if (part_dbeta != nullptr) nf_col_block_sum(db, scratch);
        if (warp == 0)
            for (int i = 0; i < 4; i++)
                if (j + i < t.cols) {
                    if (part_dgamma != nullptr) part_dgamma[chunk * t.cols + j + i] = dg[i];
                    if (part_dbeta != nullptr) part_dbeta[chunk * t.cols + j + i] = db[i];
                }
    }
}

/* out[j] = the chunks' partial sums of column j added in chunk order, rounded once; accumulate adds it to out. */
__global__ void __launch_bounds__(256)
    ln_bwd_finish_kernel(float *dgamma, float *dbeta, const double *part_dgamma, const double *part_dbeta,
                         int64_t chunks, int64_t cols, bool accumulate) {
    const int64_t stride = (int64_t)gridDim.x * blockDim.x;
    for (int64_t j = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; j < cols; j += stride) {
        double sg = 0, sb = 0;
        for (int64_t c = 0; c < chunks; c++) {
            if (dgamma != nullptr) sg += part_dgamma[c * cols + j];
            if (dbeta != nullptr) sb += part_dbeta[c * cols + j];
        }
        /* PyTorch accumulates .grad as a float addition of the new, already rounded gradient. */
        if (dgamma != nullptr) dgamma[j] = accumulate ? dgamma[j] + (float)sg : (float)sg;
        if (dbeta != nullptr) dbeta[j] = accumulate ? dbeta[j] + (float)sb : (float)sb;
    }
}

/* Blocks for a team kernel: enough to fill the device a few times over, each striding over rows. */
unsigned int row_grid(int64_t rows, int rows_per_block, int32_t device) {
    return nf_cuda_blocks(rows, rows_per_block, (int64_t)nf_cuda_multiprocessors(device) * 8);
}

}  // namespace

NF_API int32_t nf_cuda_layernorm_fwd_f32(float *y, float *mean, float *rstd, const float *x, const float *gamma,
                                         const float *beta, int64_t rows, int64_t cols, float eps, int32_t device) {
    static const char op[] = "nf_cuda_layernorm_fwd_f32";
    NF_CHECK_PTR(op, y);
    NF_CHECK_PTR(op, x);
    NF_CHECK_POSITIVE(op, rows);
    NF_CHECK_POSITIVE(op, cols);
    const int32_t status = nf_layernorm_check_eps(op, eps);
    if (status != NF_OK) return status;
    cudaStream_t stream = nullptr;
    NF_CUDA_ENTER(op, device, stream);
    const bool vector = nf_vectorizable(cols, {y, x, gamma, beta});
    if (cols > kWarpMaxCols) {
        NF_CUDA_LAUNCH_OR_FAIL(op, ln_fwd_wide_kernel, row_grid(rows, 1, device), kWideThreads, 0, stream, y, mean,
                               rstd, x, gamma, beta, rows, cols, eps, vector);
        return NF_OK;
    }
    const unsigned int grid = row_grid(rows, kWarpsPerBlock, device);
    /* The smallest register footprint that holds the row: 128 columns per group of four a lane. */
    if (cols <= 128) {
        NF_CUDA_LAUNCH_OR_FAIL(op, ln_fwd_warp_kernel<1>, grid, kWarpThreads, 0, stream, y, mean, rstd, x, gamma,
                               beta, rows, cols, eps, vector);
    } else if (cols <= 256) {
        NF_CUDA_LAUNCH_OR_FAIL(op, ln_fwd_warp_kernel<2>, grid, kWarpThreads, 0, stream, y, mean, rstd, x, gamma,
                               beta, rows, cols, eps, vector);
    } else if (cols <= 512) {
        NF_CUDA_LAUNCH_OR_FAIL(op, ln_fwd_warp_kernel<4>, grid, kWarpThreads, 0, stream, y, mean, rstd, x, gamma,
                               beta, rows, cols, eps, vector);
    } else {
        NF_CUDA_LAUNCH_OR_FAIL(op, ln_fwd_warp_kernel<8>, grid, kWarpThreads, 0, stream, y, mean, rstd, x, gamma,
                               beta, rows, cols, eps, vector);
    }
    return NF_OK;
}

NF_API int32_t nf_cuda_layernorm_bwd_f32(float *dx, float *dgamma, float *dbeta, const float *dy, const float *x,
                                         const float *mean, const float *rstd, const float *gamma, int64_t rows,
                                         int64_t cols, int32_t accumulate, int32_t device) {
    static const char op[] = "nf_cuda_layernorm_bwd_f32";
    NF_CHECK_PTR(op, dy);
    NF_CHECK_PTR(op, x);
    NF_CHECK_PTR(op, mean);
    NF_CHECK_PTR(op, rstd);
    NF_CHECK_POSITIVE(op, rows);
    NF_CHECK_POSITIVE(op, cols);
    NF_CHECK_FLAG(op, accumulate);
    const int64_t n = rows * cols;
    const nf_span outputs[] = {NF_SPAN(dx, n), NF_SPAN(dgamma, cols), NF_SPAN(dbeta, cols)};
    const nf_span inputs[] = {NF_SPAN(dy, n), NF_SPAN(x, n), NF_SPAN(mean, rows), NF_SPAN(rstd, rows),
                              NF_SPAN(gamma, cols)};
    int32_t status = nf_check_disjoint(op, outputs, 3, inputs, 5);
    if (status != NF_OK) return status;
    cudaStream_t stream = nullptr;
    NF_CUDA_ENTER(op, device, stream);

    const bool wide = cols > kWarpMaxCols;
    const unsigned int team_grid = row_grid(rows, wide ? 1 : kWarpsPerBlock, device);
    const bool x_vector = nf_vectorizable(cols, {x});
    nf_cuda_scratch scratch(stream);
    if (dgamma != nullptr || dbeta != nullptr) {
        const nf_col_tiling t = nf_col_tiling_of(rows, cols);
        const int64_t part_bytes = (int64_t)sizeof(double) * t.chunks * cols;
        status = scratch.allocate(op, 2 * part_bytes + (int64_t)sizeof(float) * rows);
        if (status != NF_OK) return status;
        double *part_dgamma = dgamma != nullptr ? scratch.as<double>() : nullptr;
        double *part_dbeta = dbeta != nullptr ? scratch.as<double>(part_bytes) : nullptr;
        float *mean_lo = scratch.as<float>(2 * part_bytes);
        if (dgamma != nullptr) {
            if (wide) {
                NF_CUDA_LAUNCH_OR_FAIL(op, ln_mean_lo_kernel<BlockTeam>, team_grid, kWideThreads, 0, stream, mean_lo,
                                       x, mean, rows, cols, x_vector);
            } else {
                NF_CUDA_LAUNCH_OR_FAIL(op, ln_mean_lo_kernel<WarpTeam>, team_grid, kWarpThreads, 0, stream, mean_lo,
                                       x, mean, rows, cols, x_vector);
            }
        }
        NF_CUDA_LAUNCH_OR_FAIL(op, ln_bwd_columns_kernel, nf_col_grid(t, device), kColThreads, 0, stream,
                               part_dgamma, part_dbeta, dy, x, mean, mean_lo, rstd, t,
                               nf_vectorizable(cols, {dy, x}));
        NF_CUDA_LAUNCH_OR_FAIL(op, ln_bwd_finish_kernel, nf_cuda_blocks(cols, 256, nf_cuda_multiprocessors(device) * 8),
                               256, 0, stream, dgamma, dbeta, part_dgamma, part_dbeta, t.chunks, cols,
                               accumulate != 0);
    }
    if (dx != nullptr) {
        const bool vector = nf_vectorizable(cols, {dx, dy, x, gamma});
        if (wide) {
            NF_CUDA_LAUNCH_OR_FAIL(op, ln_bwd_dx_kernel<BlockTeam>, team_grid, kWideThreads, 0, stream, dx, dy, x,
                                   mean, rstd, gamma, rows, cols, vector);
        } else {
            NF_CUDA_LAUNCH_OR_FAIL(op, ln_bwd_dx_kernel<WarpTeam>, team_grid, kWarpThreads, 0, stream, dx, dy, x,
                                   mean, rstd, gamma, rows, cols, vector);
        }
    }
    return dgamma != nullptr || dbeta != nullptr ? scratch.release(op) : NF_OK;
}
