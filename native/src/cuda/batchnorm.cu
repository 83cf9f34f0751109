/*
 * BatchNorm over the batch dimension of x[n, c] on the GPU, forward (training
 * and eval) and backward, with the semantics of cpu/batchnorm.c (PyTorch's
 * F.batch_norm on a 2-D input and its backward).
 *
 * Column statistics are a two-stage reduction over norm.cuh's fixed tiles
 * (kColChunkRows rows by kColTileCols columns): each tile's column means in
 * double, then its sums of squared deviations from them (an exact two-pass
 * mean and variance, as the CPU's tiles), then a second kernel merges a
 * column's tiles in chunk order (Chan, Golub and LeVeque, 1979). The tiles
 * depend only on (n, c), so the statistics are the same on any GPU and grid.
 * The normalization (and the backward's dx) is then element-wise, with the
 * per-column maps of common/norm.h read from a scratch buffer.
 */
#include "common.cuh"
#include "norm.cuh"

#include "../common/norm.h"
#include "../common/welford.h"

#include "../cpu/layernorm.h"

namespace {

constexpr int kThreads = 256;

/* A column's affine maps as four arrays of c floats (float4-readable when c % 4 == 0). */
struct Affine {
    float *hi, *lo, *scale, *shift;
};

Affine affine_at(float *base, int64_t c) { return Affine{base, base + c, base + 2 * c, base + 3 * c}; }

__device__ __forceinline__ void set_affine(Affine a, int64_t j, nf_batchnorm_affine m) {
    a.hi[j] = m.hi;
    a.lo[j] = m.lo;
    a.scale[j] = m.scale;
    a.shift[j] = m.shift;
}

/* Rows of chunk ch: kColChunkRows, fewer in the last. */
__device__ __forceinline__ int64_t chunk_rows(int64_t ch, int64_t n) {
    const int64_t r0 = ch * kColChunkRows;
    return n - r0 < kColChunkRows ? n - r0 : kColChunkRows;
}

/* Each tile's column means and sums of squared deviations from them, into part_mean and part_m2 [chunks, c]. */
__global__ void __launch_bounds__(kColThreads)
    bn_stats_kernel(double *part_mean, double *part_m2, const float *x, nf_col_tiling t, bool vector) {
    __shared__ double scratch[kColWarps][kColTileCols];
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    for (int64_t tile = blockIdx.x; tile < t.chunks * t.col_tiles; tile += gridDim.x) {
        const int64_t chunk = tile / t.col_tiles;
        const int64_t j = (tile % t.col_tiles) * kColTileCols + 4 * lane;
        const int64_t r0 = chunk * kColChunkRows, r1 = r0 + chunk_rows(chunk, t.rows);
        const bool active = j < t.cols;
        double mean[4] = {0, 0, 0, 0}, m2[4] = {0, 0, 0, 0};
        if (active)
            for (int64_t r = r0 + warp; r < r1; r += kColWarps) {
                float v[4];
                nf_load4(v, x + r * t.cols, j, t.cols, vector);
                for (int i = 0; i < 4; i++) mean[i] += v[i];
            }
        nf_col_block_sum(mean, scratch);
        for (int i = 0; i < 4; i++) mean[i] /= (double)(r1 - r0);
        if (active)
            for (int64_t r = r0 + warp; r < r1; r += kColWarps) {
                float v[4];
                nf_load4(v, x + r * t.cols, j, t.cols, vector);
                for (int i = 0; i < 4; i++) {
                    const double d = (double)v[i] - mean[i];
                    m2[i] += d * d;
                }
            }
        nf_col_block_sum(m2, scratch);
        if (warp == 0)
            for (int i = 0; i < 4; i++)
                if (j + i < t.cols) {
                    part_mean[chunk * t.cols + j + i] = mean[i];
                    part_m2[chunk * t.cols + j + i] = m2[i];
                }
    }
}

/*
 * Merges each column's tiles in chunk order and writes its affine map, saved
 * statistics (each may be NULL) and running statistics: PyTorch's update with
 * the unbiased variance m2 / (n - 1), in double (common/norm.h).
 */
__global__ void __launch_bounds__(kThreads)
    bn_finish_train_kernel(Affine affine, float *save_mean, float *save_rstd, float *running_mean,
                           float *running_var, const double *part_mean, const double *part_m2, const float *gamma,
                           const float *beta, int64_t n, int64_t chunks, int64_t c, float eps, float momentum) {
    const int64_t stride = (int64_t)gridDim.x * blockDim.x;
    for (int64_t j = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; j < c; j += stride) {
        nf_welford acc = {0, 0, 0};
        for (int64_t ch = 0; ch < chunks; ch++) {
            const nf_welford part = {(double)chunk_rows(ch, n), part_mean[ch * c + j], part_m2[ch * c + j]};
            acc = nf_welford_merge(acc, part);
        }
        const double rstd = nf_batchnorm_inv_std(acc.m2 / (double)n, eps);
        set_affine(affine, j, nf_batchnorm_affine_of(acc.mean, rstd, gamma, beta, j));
        if (save_mean != nullptr) save_mean[j] = (float)acc.mean;
        if (save_rstd != nullptr) save_rstd[j] = (float)rstd;
        if (running_mean != nullptr) {
            const double unbiased = acc.m2 / (double)(n - 1);
            running_mean[j] = nf_batchnorm_running_update(momentum, acc.mean, running_mean[j]);
            running_var[j] = nf_batchnorm_running_update(momentum, unbiased, running_var[j]);
        }
    }
}

__global__ void __launch_bounds__(kThreads)
    bn_affine_eval_kernel(Affine affine, const float *running_mean, const float *running_var, const float *gamma,
                          const float *beta, int64_t c, float eps) {
    const int64_t stride = (int64_t)gridDim.x * blockDim.x;
    for (int64_t j = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; j < c; j += stride)
        set_affine(affine, j,
                   nf_batchnorm_affine_of(running_mean[j], nf_batchnorm_running_rstd(running_var[j], eps), gamma,
                                          beta, j));
}

/*
 * y = nf_batchnorm_apply(x) with column j's map, over groups of four
 * elements (a group never crosses a row when vector: c % 4 == 0). Each
 * element is read before it is written, so y may be x.
 */
__global__ void __launch_bounds__(kThreads)
    bn_apply_kernel(float *y, const float *x, Affine a, int64_t n, int64_t c, bool vector) {
    const int64_t total = n * c, stride = 4 * (int64_t)gridDim.x * blockDim.x;
    for (int64_t e = 4 * ((int64_t)blockIdx.x * blockDim.x + threadIdx.x); e < total; e += stride) {
        float v[4], out[4] = {};
        nf_load4(v, x, e, total, vector);
        if (vector) {
            const int64_t j = e % c;
            float hi[4], lo[4], scale[4], shift[4];
            nf_load4(hi, a.hi, j, c, true);
            nf_load4(lo, a.lo, j, c, true);
            nf_load4(scale, a.scale, j, c, true);
            nf_load4(shift, a.shift, j, c, true);
            for (int i = 0; i < 4; i++) out[i] = nf_batchnorm_apply(v[i], hi[i], lo[i], scale[i], shift[i]);
        } else {
            for (int i = 0; i < 4 && e + i < total; i++) {
                const int64_t j = (e + i) % c;
                out[i] = nf_batchnorm_apply(v[i], a.hi[j], a.lo[j], a.scale[j], a.shift[j]);
            }
        }
        nf_store4(y, e, total, out, vector);
    }
}

/* Each tile's column sums of dy and dy * (x - mean), in double, into part_dy and part_dyxc [chunks, c]. */
__global__ void __launch_bounds__(kColThreads)
    bn_grad_sums_kernel(double *part_dy, double *part_dyxc, const float *dy, const float *x, const float *mean,
                        nf_col_tiling t, bool vector) {
    __shared__ double scratch[kColWarps][kColTileCols];
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    for (int64_t tile = blockIdx.x; tile < t.chunks * t.col_tiles; tile += gridDim.x) {
        const int64_t chunk = tile / t.col_tiles;
        const int64_t j = (tile % t.col_tiles) * kColTileCols + 4 * lane;
        const int64_t r0 = chunk * kColChunkRows, r1 = r0 + chunk_rows(chunk, t.rows);
        double sum_dy[4] = {0, 0, 0, 0}, sum_dyxc[4] = {0, 0, 0, 0};
        if (j < t.cols) {
            float m[4];
            nf_load4(m, mean, j, t.cols, vector);
            for (int64_t r = r0 + warp; r < r1; r += kColWarps) {
                float g[4], v[4];
                nf_load4(g, dy + r * t.cols, j, t.cols, vector);
                nf_load4(v, x + r * t.cols, j, t.cols, vector);
                for (int i = 0; i < 4; i++) {
                    sum_dy[i] += g[i];
                    sum_dyxc[i] += (double)g[i] * ((double)v[i] - (double)m[i]);
                }
            }
        }
        nf_col_block_sum(sum_dy, scratch);
        nf_col_block_sum(sum_dyxc, scratch);
        if (warp == 0)
            for (int i = 0; i < 4; i++)
                if (j + i < t.cols) {
                    part_dy[chunk * t.cols + j + i] = sum_dy[i];
                    part_dyxc[chunk * t.cols + j + i] = sum_dyxc[i];
                }
    }
}

/* dx's per-column map a * dy + b * (x - mean) + k, in double (see cpu/batchnorm.c). */
struct GradMap {
    double *a, *b, *k;
};

/*
 * Merges column j's partial sums in chunk order (when there are any), writes
 * dgamma and dbeta (each may be NULL; accumulate adds them, as PyTorch adds
 * the rounded gradient to .grad) and sets the column's map for dx. rstd is
 * the saved one in training; eval derives it from running_var and eps.
 */
__global__ void __launch_bounds__(kThreads)
    bn_grad_finish_kernel(GradMap map, float *dgamma, float *dbeta, const double *part_dy, const double *part_dyxc,
                          const float *rstd_saved, const float *running_var, const float *gamma, float eps,
                          int64_t n, int64_t chunks, int64_t c, bool train, bool accumulate) {
    const int64_t stride = (int64_t)gridDim.x * blockDim.x;
    for (int64_t j = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; j < c; j += stride) {
        double sum_dy = 0, sum_dyxc = 0;
        if (part_dy != nullptr)
            for (int64_t ch = 0; ch < chunks; ch++) {
                sum_dy += part_dy[ch * c + j];
                sum_dyxc += part_dyxc[ch * c + j];
            }
        const double rstd = train ? (double)rstd_saved[j] : nf_batchnorm_running_rstd(running_var[j], eps);
        if (dgamma != nullptr) {
            const float g = (float)(sum_dyxc * rstd);
            dgamma[j] = accumulate ? dgamma[j] + g : g;
        }
        if (dbeta != nullptr) dbeta[j] = accumulate ? dbeta[j] + (float)sum_dy : (float)sum_dy;
        const double a = gamma != nullptr ? (double)gamma[j] * rstd : rstd;
        map.a[j] = a;
        map.b[j] = train ? -a * rstd * rstd * sum_dyxc / (double)n : 0.0;
        map.k[j] = train ? -a * sum_dy / (double)n : 0.0;
    }
}

/* dx = nf_batchnorm_dx with column j's map; each dy is read before its dx is written, so dx may be dy. */
__global__ void __launch_bounds__(kThreads)
    bn_grad_dx_kernel(float *dx, const float *dy, const float *x, const float *mean, GradMap map, int64_t n,
                      int64_t c, bool vector) {
    const int64_t total = n * c, stride = 4 * (int64_t)gridDim.x * blockDim.x;
    for (int64_t e = 4 * ((int64_t)blockIdx.x * blockDim.x + threadIdx.x); e < total; e += stride) {
        float g[4], v[4], out[4] = {};
        nf_load4(g, dy, e, total, vector);
        nf_load4(v, x, e, total, vector);
        const int64_t j0 = e % c;
        for (int i = 0; i < 4 && e + i < total; i++) {
            const int64_t j = vector ? j0 + i : (e + i) % c;
            out[i] = nf_batchnorm_dx(map.a[j], map.b[j], map.k[j], g[i], v[i], mean[j]);
        }
        nf_store4(dx, e, total, out, vector);
    }
}

unsigned int grid_for(int64_t items, int32_t device) {
    return nf_cuda_blocks(items, kThreads, (int64_t)nf_cuda_multiprocessors(device) * 8);
}

/* The backward of both modes: mean is save_mean or running_mean, rstd the saved one (training only). */
int32_t batchnorm_bwd(const char *op, float *dx, float *dgamma, float *dbeta, const float *dy, const float *x,
                      const float *mean, const float *rstd, const float *running_var, const float *gamma, int64_t n,
                      int64_t c, float eps, int32_t accumulate, bool train, int32_t device) {
    NF_CHECK_FLAG(op, accumulate);
    /* dx == dy is in place: the NULL stands for dy then. */
    const nf_span outputs[] = {NF_SPAN(dx, n * c), NF_SPAN(dgamma, c), NF_SPAN(dbeta, c)};
    const nf_span inputs[] = {{"dy", dx == dy ? nullptr : dy, n * c * (int64_t)sizeof(float)},
                              NF_SPAN(x, n * c),
                              {train ? "save_mean" : "running_mean", mean, c * (int64_t)sizeof(float)},
                              {train ? "save_rstd" : "running_var", train ? rstd : running_var,
                               c * (int64_t)sizeof(float)},
                              NF_SPAN(gamma, c)};
    int32_t status = nf_check_disjoint(op, outputs, 3, inputs, 5);
    if (status != NF_OK) return status;
    cudaStream_t stream = nullptr;
    NF_CUDA_ENTER(op, device, stream);

    const nf_col_tiling t = nf_col_tiling_of(n, c);
    /* Eval's dx needs no sums; its dgamma and dbeta do. */
    const bool have_sums = dgamma != nullptr || dbeta != nullptr || (train && dx != nullptr);
    const int64_t map_bytes = 3 * c * (int64_t)sizeof(double);
    const int64_t part_bytes = have_sums ? t.chunks * c * (int64_t)sizeof(double) : 0;
    nf_cuda_scratch scratch(stream);
    status = scratch.allocate(op, map_bytes + 2 * part_bytes);
    if (status != NF_OK) return status;
    const GradMap map = {scratch.as<double>(), scratch.as<double>() + c, scratch.as<double>() + 2 * c};
    double *part_dy = have_sums ? scratch.as<double>(map_bytes) : nullptr;
    double *part_dyxc = have_sums ? scratch.as<double>(map_bytes + part_bytes) : nullptr;
    if (have_sums) {
        NF_CUDA_LAUNCH_OR_FAIL(op, bn_grad_sums_kernel, nf_col_grid(t, device), kColThreads, 0, stream, part_dy,
                               part_dyxc, dy, x, mean, t, nf_vectorizable(c, {dy, x, mean}));
    }
    NF_CUDA_LAUNCH_OR_FAIL(op, bn_grad_finish_kernel, grid_for(c, device), kThreads, 0, stream, map, dgamma, dbeta,
                           part_dy, part_dyxc, rstd, running_var, gamma, eps, n, t.chunks, c, train,
                           accumulate != 0);
    if (dx != nullptr) {
        NF_CUDA_LAUNCH_OR_FAIL(op, bn_grad_dx_kernel, grid_for((n * c + 3) / 4, device), kThreads, 0, stream, dx, dy,
                               x, mean, map, n, c, nf_vectorizable(c, {dx, dy, x}));
    }
    return scratch.release(op);
}

}  // namespace

NF_API int32_t nf_cuda_batchnorm_fwd_train_f32(float *y, float *save_mean, float *save_rstd, float *running_mean,
                                               float *running_var, const float *x, const float *gamma,
                                               const float *beta, int64_t n, int64_t c, float eps, float momentum,
                                               int32_t device) {
    static const char op[] = "nf_cuda_batchnorm_fwd_train_f32";
    NF_CHECK_PTR(op, y);
    NF_CHECK_PTR(op, x);
    NF_CHECK_POSITIVE(op, n);
    NF_CHECK_POSITIVE(op, c);
    int32_t status = nf_layernorm_check_eps(op, eps);
    if (status != NF_OK) return status;
    if (!(momentum >= 0.0f && momentum <= 1.0f))
        return nf_fail(NF_ERR_INVALID_ARGUMENT, "%s: momentum must be finite and in [0, 1], got %g", op,
                       (double)momentum);
    if ((running_mean == nullptr) != (running_var == nullptr))
        return nf_fail(NF_ERR_INVALID_ARGUMENT,
                       "%s: running_mean and running_var must both be given or both be NULL", op);
    /* PyTorch's message (torch.nn.functional._verify_batch_size): one sample has no variance. */
    if (n == 1)
        return nf_fail(NF_ERR_INVALID_ARGUMENT,
                       "%s: Expected more than 1 value per channel when training, got input size [%lld, %lld]", op,
                       (long long)n, (long long)c);
    /* y == x is in place: the NULL stands for x then. */
    const nf_span outputs[] = {NF_SPAN(y, n * c), NF_SPAN(save_mean, c), NF_SPAN(save_rstd, c),
                               NF_SPAN(running_mean, c), NF_SPAN(running_var, c)};
    const nf_span inputs[] = {{"x", y == x ? nullptr : x, n * c * (int64_t)sizeof(float)}, NF_SPAN(gamma, c),
                              NF_SPAN(beta, c)};
    status = nf_check_disjoint(op, outputs, 5, inputs, 3);
    if (status != NF_OK) return status;
    cudaStream_t stream = nullptr;
    NF_CUDA_ENTER(op, device, stream);

    const nf_col_tiling t = nf_col_tiling_of(n, c);
    const int64_t part_bytes = t.chunks * c * (int64_t)sizeof(double);
    nf_cuda_scratch scratch(stream);
    status = scratch.allocate(op, 2 * part_bytes + 4 * c * (int64_t)sizeof(float));
    if (status != NF_OK) return status;
    double *part_mean = scratch.as<double>(), *part_m2 = scratch.as<double>(part_bytes);
    const Affine affine = affine_at(scratch.as<float>(2 * part_bytes), c);
    NF_CUDA_LAUNCH_OR_FAIL(op, bn_stats_kernel, nf_col_grid(t, device), kColThreads, 0, stream, part_mean, part_m2, x,
                           t, nf_vectorizable(c, {x}));
    NF_CUDA_LAUNCH_OR_FAIL(op, bn_finish_train_kernel, grid_for(c, device), kThreads, 0, stream, affine, save_mean,
                           save_rstd, running_mean, running_var, part_mean, part_m2, gamma, beta, n, t.chunks, c, eps,
                           momentum);
    NF_CUDA_LAUNCH_OR_FAIL(op, bn_apply_kernel, grid_for((n * c + 3) / 4, device), kThreads, 0, stream, y, x, affine,
                           n, c, nf_vectorizable(c, {y, x}));
    return scratch.release(op);
}

NF_API int32_t nf_cuda_batchnorm_fwd_eval_f32(float *y, const float *x, const float *running_mean,
                                              const float *running_var, const float *gamma, const float *beta,
                                              int64_t n, int64_t c, float eps, int32_t device) {
    static const char op[] = "nf_cuda_batchnorm_fwd_eval_f32";
    NF_CHECK_PTR(op, y);
    NF_CHECK_PTR(op, x);
    NF_CHECK_PTR(op, running_mean);
    NF_CHECK_PTR(op, running_var);
    NF_CHECK_POSITIVE(op, n);
    NF_CHECK_POSITIVE(op, c);
    int32_t status = nf_layernorm_check_eps(op, eps);
    if (status != NF_OK) return status;
    const nf_span outputs[] = {NF_SPAN(y, n * c)};
    const nf_span inputs[] = {{"x", y == x ? nullptr : x, n * c * (int64_t)sizeof(float)},
                              NF_SPAN(running_mean, c), NF_SPAN(running_var, c), NF_SPAN(gamma, c),
                              NF_SPAN(beta, c)};
    status = nf_check_disjoint(op, outputs, 1, inputs, 5);
    if (status != NF_OK) return status;
    cudaStream_t stream = nullptr;
    NF_CUDA_ENTER(op, device, stream);

    nf_cuda_scratch scratch(stream);
    status = scratch.allocate(op, 4 * c * (int64_t)sizeof(float));
    if (status != NF_OK) return status;
    const Affine affine = affine_at(scratch.as<float>(), c);
    NF_CUDA_LAUNCH_OR_FAIL(op, bn_affine_eval_kernel, grid_for(c, device), kThreads, 0, stream, affine, running_mean,
                           running_var, gamma, beta, c, eps);
    NF_CUDA_LAUNCH_OR_FAIL(op, bn_apply_kernel, grid_for((n * c + 3) / 4, device), kThreads, 0, stream, y, x, affine,
                           n, c, nf_vectorizable(c, {y, x}));
    return scratch.release(op);
}

NF_API int32_t nf_cuda_batchnorm_bwd_train_f32(float *dx, float *dgamma, float *dbeta, const float *dy,
                                               const float *x, const float *save_mean, const float *save_rstd,
                                               const float *gamma, int64_t n, int64_t c, int32_t accumulate,
                                               int32_t device) {
    static const char op[] = "nf_cuda_batchnorm_bwd_train_f32";
    NF_CHECK_PTR(op, dy);
    NF_CHECK_PTR(op, x);
    NF_CHECK_PTR(op, save_mean);
    NF_CHECK_PTR(op, save_rstd);
    NF_CHECK_POSITIVE(op, n);
    NF_CHECK_POSITIVE(op, c);
    return batchnorm_bwd(op, dx, dgamma, dbeta, dy, x, save_mean, save_rstd, nullptr, gamma, n, c, 0.0f, accumulate,
                         true, device);
}

NF_API int32_t nf_cuda_batchnorm_bwd_eval_f32(float *dx, float *dgamma, float *dbeta, const float *dy,
                                              const float *x, const float *running_mean, const float *running_var,
                                              const float *gamma, int64_t n, int64_t c, float eps, int32_t accumulate,
                                              int32_t device) {
    static const char op[] = "nf_cuda_batchnorm_bwd_eval_f32";
    NF_CHECK_PTR(op, dy);
    NF_CHECK_PTR(op, x);
    NF_CHECK_PTR(op, running_mean);
    NF_CHECK_PTR(op, running_var);
    NF_CHECK_POSITIVE(op, n);
    NF_CHECK_POSITIVE(op, c);
    const int32_t status = nf_layernorm_check_eps(op, eps);
    if (status != NF_OK) return status;
    return batchnorm_bwd(op, dx, dgamma, dbeta, dy, x, running_mean, nullptr, running_var, gamma, n, c, eps,
                         accumulate, false, device);
}
