/*
 * Linear, LayerNorm and ReLU in one call on the GPU, with the semantics of
 * cpu/linear_ln_relu.c: h = x weight^T + bias by gemm.cuh's tiled product,
 * then each row normalized with cpu/layernorm.c's arithmetic
 * (layernorm_rows.cuh) and rectified. Every output is the CPU backend's bit
 * for bit at its avx2/avx512 levels.
 *
 * Forward: when a row of h fits one block's tile (out_features <= 1024,
 * which covers the seed model's 128, 256, 20 and 1000), each block computes
 * whole rows, keeps them in shared memory and normalizes them there (the
 * product never makes a round trip through global memory before it is
 * normalized); wider rows take two kernels, the plain product into h, then a
 * half-warp per row normalizing it.
 *
 * Backward: from h, mean and rstd without the product: one kernel per row
 * recomputes the ReLU mask and xhat and writes dh, LayerNorm's input
 * gradient, to scratch; one pass of column sums gives dgamma, dbeta and
 * dbias; then linear.cu's products run on dh. Four launches in all.
 */
#include "common.cuh"
#include "gemm.cuh"
#include "layernorm_rows.cuh"
#include "linear.cuh"
#include "norm.cuh"

#include "../cpu/layernorm.h"

namespace {

constexpr int kThreads = 256;
/* Rows per block of the row kernels: one per half-warp. */
constexpr int kRowsPerBlock = kThreads / 16;
/* The widest row the one-kernel forward keeps in a block. */
constexpr int64_t kMaxBlockRow = 1024;

/*
 * The one-kernel forward's tile for rows of up to BN columns: BN columns by
 * as many rows as 256 threads cover at 4 x 4 per thread (4 rows at BN = 1024,
 * 128 at BN = 32), a thinner k-slice for the widest so that the stages fit
 * 48 KB of static shared memory.
 */
template <int BN>
using rows_tile = nf_gemm_tile<kThreads / (BN / 4) * 4, BN, (BN >= 1024 ? 8 : 16), 4, 4>;

/* The stages of the product, then the block's rows of h, in the same shared memory. */
template <int BN>
constexpr int rows_shared_floats() {
    return nf_gemm_shared_floats<rows_tile<BN>>() > rows_tile<BN>::BM * BN ? nf_gemm_shared_floats<rows_tile<BN>>()
                                                                            : rows_tile<BN>::BM * BN;
}

/* What the forward writes and the epilogue's parameters; h, mean, rstd, bias, gamma and beta may be NULL. */
struct forward_outputs {
    float *y, *h, *mean, *rstd;
    const float *bias, *gamma, *beta;
    float eps;
    bool relu;
};

/* `x <= 0 ? 0 : x`, as cpu/relu.c: a NaN passes through, as torch.relu keeps it. */
__device__ __forceinline__ float relu(float x) { return x <= 0.0f ? 0.0f : x; }

/*
 * One block: rows [m0, m0 + BM) of h = x weight^T + bias, all out_features
 * (<= BN) of them, into shared memory (and h); a half-warp per row computes
 * its statistics; then every thread normalizes and rectifies elements of
 * the block's rows into y.
 */
template <int BN>
__global__ void __launch_bounds__(kThreads) block_rows_kernel(nf_gemm_args g, forward_outputs o) {
    typedef rows_tile<BN> Tile;
    __shared__ float smem[rows_shared_floats<BN>()];
    __shared__ nf_ln_stats stats[Tile::BM];
    const int64_t m0 = (int64_t)blockIdx.x * Tile::BM, n = g.n;
    float acc[Tile::TM][Tile::TN];
    nf_gemm_block_product<Tile, NF_GEMM_N, NF_GEMM_T>(acc, g, m0, 0, smem);

    float *product = smem;  // [BM][BN], free once nf_gemm_block_product returns
    const int r0 = nf_gemm_thread_row<Tile>(), c0 = nf_gemm_thread_col<Tile>();
    for (int i = 0; i < Tile::TM; i++) {
        for (int j = 0; j < Tile::TN; j++) {
            const int c = c0 + j;
            if (c >= n) break;
            const float v = o.bias != nullptr ? acc[i][j] + o.bias[c] : acc[i][j];
            product[(r0 + i) * BN + c] = v;
            if (o.h != nullptr && m0 + r0 + i < g.m) o.h[(m0 + r0 + i) * n + c] = v;
        }
    }
    __syncthreads();

    /* Half-warps take rows in pairs, so both halves of a warp agree on whether to enter the loop. */
    for (int first = threadIdx.x / 32 * 2; first < Tile::BM; first += kRowsPerBlock) {
        const int r = first + (int)(threadIdx.x / 16 % 2);
        const bool active = r < Tile::BM && m0 + r < g.m;
        const nf_ln_stats s = nf_ln_row_stats(product + r * BN, n, o.eps, active);
        if (active && nf_half_lane() == 0) {
            stats[r] = s;
            if (o.mean != nullptr) o.mean[m0 + r] = s.mean;
            if (o.rstd != nullptr) o.rstd[m0 + r] = s.rstd;
        }
    }
    __syncthreads();

    const int64_t rows_here = g.m - m0 < Tile::BM ? g.m - m0 : Tile::BM;
    for (int64_t e = threadIdx.x; e < rows_here * n; e += kThreads) {
        const int r = (int)(e / n);
        const int64_t c = e % n;
        const nf_ln_stats s = stats[r];
        const float xhat = nf_layernorm_xhat(product[r * BN + c], s.mean, s.mean_lo, s.rstd);
        const float v = nf_ln_affine(xhat, o.gamma, o.beta, c);
        o.y[(m0 + r) * n + c] = o.relu ? relu(v) : v;
    }
}

/*
 * The wide rows' second kernel: a half-warp per row of product (h, or y
 * itself when h is not kept: each element is read before its lane writes it).
 */
__global__ void __launch_bounds__(kThreads)
    normalize_rows_kernel(const float *product, forward_outputs o, int64_t rows, int64_t cols) {
    const int64_t r = (int64_t)blockIdx.x * kRowsPerBlock + threadIdx.x / 16;
    const bool active = r < rows;
    const float *row = product + r * cols;
    const nf_ln_stats s = nf_ln_row_stats(row, cols, o.eps, active);
    __syncwarp();  // every lane's reads of the row are done before y, which may be the row, is written
    if (!active) return;
    const int lane = nf_half_lane();
    if (lane == 0) {
        if (o.mean != nullptr) o.mean[r] = s.mean;
        if (o.rstd != nullptr) o.rstd[r] = s.rstd;
    }
    for (int64_t c = lane; c < cols; c += 16) {
        const float v = nf_ln_affine(nf_layernorm_xhat(row[c], s.mean, s.mean_lo, s.rstd), o.gamma, o.beta, c);
        o.y[r * cols + c] = o.relu ? relu(v) : v;
    }
}

template <int BN>
cudaError_t launch_block_rows(const nf_gemm_args &g, const forward_outputs &o, cudaStream_t stream) {
    (void)stream;  // the harness's launch has no stream
    const auto kernel = block_rows_kernel<BN>;
    const unsigned int grid = (unsigned int)((g.m + rows_tile<BN>::BM - 1) / rows_tile<BN>::BM);
    return NF_LAUNCH(kernel, grid, kThreads, 0, stream, g, o);
}

/*
 * The upstream gradient of LayerNorm's output at (r, j), recomputed from h
 * and the row statistics as cpu/linear_ln_relu.c does: xhat as the forward
 * computed it, then dy through the ReLU's mask (the forward's y <= 0 zeroes it).
 */
struct upstream {
    const float *dy, *h, *mean, *rstd, *gamma, *beta;
    int64_t cols;
    bool relu;

    __device__ __forceinline__ float xhat(int64_t r, int64_t j, float mean_lo) const {
        return nf_layernorm_xhat(h[r * cols + j], mean[r], mean_lo, rstd[r]);
    }
    __device__ __forceinline__ float grad(int64_t r, int64_t j, float xhat) const {
        const float d = dy[r * cols + j];
        if (!relu) return d;
        return nf_ln_affine(xhat, gamma, beta, j) <= 0.0f ? 0.0f : d;
    }
    /* scaled_grad of cpu/layernorm.c: the gradient times gamma, exact in double. */
    __device__ __forceinline__ double scaled(int64_t r, int64_t j, float xhat) const {
        const double d = grad(r, j, xhat);
        return gamma != nullptr ? d * (double)gamma[j] : d;
    }
};

/* One row of the upstream gradient for nf_ln_bwd_means. */
struct upstream_row {
    const upstream *u;
    int64_t r;
    float mean_lo;
    __device__ __forceinline__ float xhat(int64_t j) const { return u->xhat(r, j, mean_lo); }
    __device__ __forceinline__ double g(int64_t j) const { return u->scaled(r, j, xhat(j)); }
};

/*
 * A half-warp per row: the row's mean_lo (its mean summed again as the
 * forward summed it, less the saved float mean), then, when dh is wanted,
 * LayerNorm's input gradient dh = rstd * (g - mean(g) - xhat * mean(g xhat)).
 */
__global__ void __launch_bounds__(kThreads)
    backward_rows_kernel(float *dh, float *mean_lo, upstream u, int64_t rows) {
    const int64_t r = (int64_t)blockIdx.x * kRowsPerBlock + threadIdx.x / 16;
    const bool active = r < rows;
    const int64_t cols = u.cols;
    const double row_mean = nf_ln_row_mean(u.h + r * cols, cols, active);
    const float lo = active ? (float)(row_mean - (double)u.mean[r]) : 0.0f;
    const int lane = nf_half_lane();
    if (active && lane == 0) mean_lo[r] = lo;
    if (dh == nullptr) return;
    const upstream_row row = {&u, r, lo};
    double mean_g, mean_gx;
    nf_ln_bwd_means(row, cols, active, &mean_g, &mean_gx);
    if (!active) return;
    const float rstd = u.rstd[r];
    for (int64_t j = lane; j < cols; j += 16) {
        const float xhat = row.xhat(j);
        dh[r * cols + j] = nf_layernorm_dx(rstd, u.scaled(r, j, xhat), mean_g, xhat, mean_gx);
    }
}

/*
 * The parameter gradients' column sums in one pass: dgamma (the upstream
 * gradient times xhat, dgamma_columns of cpu/layernorm.c), dbeta (the
 * upstream gradient) and dbias (dh, when wanted).
 */
struct parameter_terms {
    static constexpr int kSums = 3;
    upstream u;
    const float *mean_lo, *dh;
    __device__ __forceinline__ void operator()(int64_t r, int64_t j, double *acc) const {
        const float xhat = u.xhat(r, j, mean_lo[r]);
        const double g = u.grad(r, j, xhat);
        acc[0] += g * (double)xhat;
        acc[1] += g;
        if (dh != nullptr) acc[2] += dh[r * u.cols + j];
    }
};

/* The backward pass's launches, given its scratch: dh and mean_lo, the column sums, then the products on dh. */
int32_t backward_launches(const char *op, float *dx, float *dweight, float *dbias, float *dgamma, float *dbeta,
                          const upstream &u, const float *x, const float *weight, int64_t rows, int64_t in_features,
                          bool accumulate, float *dh, float *mean_lo, double *partial, cudaStream_t stream) {
    const int64_t out_features = u.cols;
    const unsigned int row_blocks = (unsigned int)((rows + kRowsPerBlock - 1) / kRowsPerBlock);
    NF_CUDA_LAUNCH_OR_FAIL(op, backward_rows_kernel, row_blocks, kThreads, 0, stream, dh, mean_lo, u, rows);
    if (dgamma != nullptr || dbeta != nullptr || dbias != nullptr) {
        const parameter_terms terms = {u, mean_lo, dbias != nullptr ? dh : nullptr};
        const cudaError_t error = nf_column_sums_launch(nf_column_outputs<3>{{dgamma, dbeta, dbias}}, partial, terms,
                                                        rows, out_features, accumulate, stream);
        if (error != cudaSuccess) return nf_cuda_status(op, "nf_column_sums_kernel", error);
    }
    if (dx == nullptr && dweight == nullptr) return NF_OK;
    return nf_cuda_linear_bwd_launch(op, dx, dweight, nullptr, dh, x, weight, rows, in_features, out_features,
                                     accumulate, nullptr, stream);
}

}  // namespace

NF_API int32_t nf_cuda_linear_ln_relu_fwd_f32(float *y, float *h, float *mean, float *rstd, const float *x,
                                              const float *weight, const float *bias, const float *gamma,
                                              const float *beta, int64_t rows, int64_t in_features,
                                              int64_t out_features, float eps, int32_t relu, int32_t device) {
    static const char op[] = "nf_cuda_linear_ln_relu_fwd_f32";
    NF_CHECK_PTR(op, y);
    NF_CHECK_PTR(op, x);
    NF_CHECK_PTR(op, weight);
    NF_CHECK_POSITIVE(op, rows);
    NF_CHECK_POSITIVE(op, in_features);
    NF_CHECK_POSITIVE(op, out_features);
    const int32_t status = nf_layernorm_check_eps(op, eps);
    if (status != NF_OK) return status;
    NF_CHECK_FLAG(op, relu);
    const int64_t weight_numel = out_features * in_features;
    const int64_t out_numel = rows * out_features;
    NF_CHECK_DISJOINT(op, y, out_numel, h, out_numel);
    NF_CHECK_DISJOINT(op, y, out_numel, x, rows * in_features);
    NF_CHECK_DISJOINT(op, h, out_numel, x, rows * in_features);
    NF_CHECK_DISJOINT(op, y, out_numel, weight, weight_numel);
    NF_CHECK_DISJOINT(op, h, out_numel, weight, weight_numel);
    NF_CHECK_DISJOINT(op, mean, rows, rstd, rows);
    cudaStream_t stream = nullptr;
    NF_CUDA_ENTER(op, device, stream);

    const nf_gemm_args g = {x, weight, in_features, in_features, rows, out_features, in_features};
    const forward_outputs o = {y, h, mean, rstd, bias, gamma, beta, eps, relu != 0};
    cudaError_t error;
    if (out_features <= 32)
        error = launch_block_rows<32>(g, o, stream);
    else if (out_features <= 64)
        error = launch_block_rows<64>(g, o, stream);
    else if (out_features <= 128)
        error = launch_block_rows<128>(g, o, stream);
    else if (out_features <= 256)
        error = launch_block_rows<256>(g, o, stream);
    else if (out_features <= 512)
        error = launch_block_rows<512>(g, o, stream);
    else if (out_features <= kMaxBlockRow)
        error = launch_block_rows<kMaxBlockRow>(g, o, stream);
    else {
        /* Without h the product lands in y and is normalized in place, as on the CPU. */
        float *product = h != nullptr ? h : y;
        error = nf_gemm_launch<NF_GEMM_N, NF_GEMM_T>(product, g, bias, false, stream);
        if (error != cudaSuccess) return nf_cuda_status(op, "nf_gemm_kernel", error);
        const unsigned int blocks = (unsigned int)((rows + kRowsPerBlock - 1) / kRowsPerBlock);
        NF_CUDA_LAUNCH_OR_FAIL(op, normalize_rows_kernel, blocks, kThreads, 0, stream, product, o, rows,
                               out_features);
        return NF_OK;
    }
    return nf_cuda_status(op, "block_rows_kernel", error);
}

NF_API int32_t nf_cuda_linear_ln_relu_bwd_f32(float *dx, float *dweight, float *dbias, float *dgamma, float *dbeta,
                                              const float *dy, const float *x, const float *weight, const float *h,
                                              const float *mean, const float *rstd, const float *gamma,
                                              const float *beta, int64_t rows, int64_t in_features,
                                              int64_t out_features, int32_t relu, int32_t accumulate,
                                              int32_t device) {
    static const char op[] = "nf_cuda_linear_ln_relu_bwd_f32";
    NF_CHECK_PTR(op, dy);
    NF_CHECK_PTR(op, x);
    NF_CHECK_PTR(op, weight);
    NF_CHECK_PTR(op, h);
    NF_CHECK_PTR(op, mean);
    NF_CHECK_PTR(op, rstd);
    NF_CHECK_POSITIVE(op, rows);
    NF_CHECK_POSITIVE(op, in_features);
    NF_CHECK_POSITIVE(op, out_features);
    NF_CHECK_FLAG(op, relu);
    NF_CHECK_FLAG(op, accumulate);
    const int64_t out_numel = rows * out_features;
    const int64_t x_numel = rows * in_features;
    const int64_t weight_numel = out_features * in_features;
    const nf_span outputs[] = {NF_SPAN(dx, x_numel), NF_SPAN(dweight, weight_numel), NF_SPAN(dbias, out_features),
                               NF_SPAN(dgamma, out_features), NF_SPAN(dbeta, out_features)};
    const nf_span inputs[] = {NF_SPAN(dy, out_numel), NF_SPAN(x, x_numel), NF_SPAN(weight, weight_numel),
                              NF_SPAN(h, out_numel), NF_SPAN(mean, rows), NF_SPAN(rstd, rows),
                              NF_SPAN(gamma, out_features), NF_SPAN(beta, out_features)};
    int32_t status = nf_check_disjoint(op, outputs, 5, inputs, 8);
    if (status != NF_OK) return status;
    cudaStream_t stream = nullptr;
    NF_CUDA_ENTER(op, device, stream);

    /* Scratch: the column sums' partials (doubles, first for alignment), dh when a product needs it, mean_lo. */
    const bool want_dh = dx != nullptr || dweight != nullptr || dbias != nullptr;
    const int64_t partial_numel = nf_column_partial_numel<parameter_terms>(rows, out_features);
    const int64_t dh_numel = want_dh ? out_numel : 0;
    const int64_t partial_bytes = partial_numel * (int64_t)sizeof(double);
    nf_cuda_scratch scratch(stream);
    status = scratch.allocate(op, partial_bytes + (dh_numel + rows) * (int64_t)sizeof(float));
    if (status != NF_OK) return status;
    double *partial = partial_numel > 0 ? scratch.as<double>() : nullptr;
    float *dh = want_dh ? scratch.as<float>(partial_bytes) : nullptr;
    float *mean_lo = scratch.as<float>(partial_bytes) + dh_numel;

    const upstream u = {dy, h, mean, rstd, gamma, beta, out_features, relu != 0};
    status = backward_launches(op, dx, dweight, dbias, dgamma, dbeta, u, x, weight, rows, in_features,
                               accumulate != 0, dh, mean_lo, partial, stream);
    if (status != NF_OK) return status;
    return scratch.release(op);
}
