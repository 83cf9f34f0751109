/*
 * Fully connected layer on the GPU, y = x weight^T + bias, and its backward
 * pass: the semantics of cpu/linear.c, with the tiled products of gemm.cuh,
 * whose arithmetic is the CPU's avx2/avx512 levels' bit for bit.
 */
#include "common.cuh"
#include "gemm.cuh"
#include "linear.cuh"
#include "norm.cuh"

int32_t nf_cuda_linear_bwd_launch(const char *op, float *dx, float *dweight, float *dbias, const float *dy,
                                  const float *x, const float *weight, int64_t rows, int64_t in_features,
                                  int64_t out_features, bool accumulate, double *partial, cudaStream_t stream) {
    if (dx != nullptr) {
        /* dx[rows, in] = dy[rows, out] weight[out, in]: a sum over out_features; always overwritten. */
        const nf_gemm_args g = {dy, weight, out_features, in_features, rows, in_features, out_features};
        const cudaError_t error = nf_gemm_launch<NF_GEMM_N, NF_GEMM_N>(dx, g, nullptr, false, stream);
        if (error != cudaSuccess) return nf_cuda_status(op, "nf_gemm_kernel (dx)", error);
    }
    if (dweight != nullptr) {
        /* dweight[out, in] = dy^T x: a sum over the rows, a(m, k) = dy[k, m]. */
        const nf_gemm_args g = {dy, x, out_features, in_features, out_features, in_features, rows};
        const cudaError_t error = nf_gemm_launch<NF_GEMM_T, NF_GEMM_N>(dweight, g, nullptr, accumulate, stream);
        if (error != cudaSuccess) return nf_cuda_status(op, "nf_gemm_kernel (dweight)", error);
    }
    if (dbias != nullptr) {
        const cudaError_t error = nf_column_sums_launch(nf_column_outputs<1>{{dbias}}, partial,
                                                        nf_column_of{dy, out_features}, rows, out_features,
                                                        accumulate, stream);
        if (error != cudaSuccess) return nf_cuda_status(op, "nf_column_sums_kernel (dbias)", error);
    }
    return NF_OK;
}

NF_API int32_t nf_cuda_linear_fwd_f32(float *y, const float *x, const float *weight, const float *bias,
                                      int64_t rows, int64_t in_features, int64_t out_features, int32_t device) {
    static const char op[] = "nf_cuda_linear_fwd_f32";
    NF_CHECK_PTR(op, y);
    NF_CHECK_PTR(op, x);
    NF_CHECK_PTR(op, weight);
    NF_CHECK_POSITIVE(op, rows);
    NF_CHECK_POSITIVE(op, in_features);
    NF_CHECK_POSITIVE(op, out_features);
    NF_CHECK_DISJOINT(op, y, rows * out_features, x, rows * in_features);
    NF_CHECK_DISJOINT(op, y, rows * out_features, weight, out_features * in_features);
    NF_CHECK_DISJOINT(op, y, rows * out_features, bias, out_features);
    cudaStream_t stream = nullptr;
    NF_CUDA_ENTER(op, device, stream);
    /* y[rows, out] = x[rows, in] weight[out, in]^T: b(k, n) = weight[n, k]. */
    const nf_gemm_args g = {x, weight, in_features, in_features, rows, out_features, in_features};
    return nf_cuda_status(op, "nf_gemm_kernel", nf_gemm_launch<NF_GEMM_N, NF_GEMM_T>(y, g, bias, false, stream));
}

NF_API int32_t nf_cuda_linear_bwd_f32(float *dx, float *dweight, float *dbias, const float *dy, const float *x,
                                      const float *weight, int64_t rows, int64_t in_features, int64_t out_features,
                                      int32_t accumulate, int32_t device) {
    static const char op[] = "nf_cuda_linear_bwd_f32";
    NF_CHECK_PTR(op, dy);
    NF_CHECK_PTR(op, x);
    NF_CHECK_PTR(op, weight);
    NF_CHECK_POSITIVE(op, rows);
    NF_CHECK_POSITIVE(op, in_features);
    NF_CHECK_POSITIVE(op, out_features);
    NF_CHECK_FLAG(op, accumulate);
    const int64_t x_numel = rows * in_features;
    const int64_t weight_numel = out_features * in_features;
    const nf_span outputs[] = {NF_SPAN(dx, x_numel), NF_SPAN(dweight, weight_numel), NF_SPAN(dbias, out_features)};
    const nf_span inputs[] = {NF_SPAN(dy, rows * out_features), NF_SPAN(x, x_numel), NF_SPAN(weight, weight_numel)};
    int32_t status = nf_check_disjoint(op, outputs, 3, inputs, 3);
    if (status != NF_OK) return status;
    cudaStream_t stream = nullptr;
    NF_CUDA_ENTER(op, device, stream);
    /* The dbias partials when the rows span more than one chunk. */
    const int64_t partial_numel = dbias != nullptr ? nf_column_partial_numel<nf_column_of>(rows, out_features) : 0;
    nf_cuda_scratch scratch(stream);
    if (partial_numel > 0) {
        status = scratch.allocate(op, partial_numel * (int64_t)sizeof(double));
        if (status != NF_OK) return status;
    }
    status = nf_cuda_linear_bwd_launch(op, dx, dweight, dbias, dy, x, weight, rows, in_features, out_features,
                                       accumulate != 0, partial_numel > 0 ? scratch.as<double>() : nullptr, stream);
    if (status != NF_OK || partial_numel == 0) return status;
    return scratch.release(op);
}
