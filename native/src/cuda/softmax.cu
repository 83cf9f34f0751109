/*
 * Softmax and log-softmax on the GPU with cpu/softmax.c's rules: the row
 * maximum subtracted before exp (so logits of +-1e4 never overflow), each
 * exponential from nf_exp_shifted, their sum in double (softmax.cuh), then
 * softmax = (float)exp * (1 / sum) and log-softmax = (x - max) - log(sum) in
 * double, each rounded to float once.
 */
#include "softmax.cuh"

namespace {

/* Rows strided over the grid; three passes over each row (max, sum, output), the later ones from cache. */
template <class S>
__global__ void __launch_bounds__(S::kThreads) softmax_kernel(float *y, const float *x, int64_t rows, int64_t cols,
                                                              bool log_softmax) {
    for (int64_t r = S::first(); r < rows; r += S::stride()) {
        const float *xr = x + r * cols;
        const float max = nf_softmax_row_max<S>(xr, cols);
        const double sum = nf_softmax_row_exp_sum<S>(xr, cols, max);
        if (log_softmax) {
            const double lse = log(sum);
            nf_softmax_row_map<S>(y + r * cols, xr, cols,
                                  [=](int64_t, float v) { return (float)(((double)v - (double)max) - lse); });
        } else {
            /* A row of -inf has max -inf and a NaN sum: NaN out, as PyTorch. */
            const double inv = 1.0 / sum;
            nf_softmax_row_map<S>(y + r * cols, xr, cols,
                                  [=](int64_t, float v) { return (float)((double)(float)nf_exp_shifted(v, max) * inv); });
        }
    }
}

/* cpu/softmax.c's run_rows: its checks in its order, then one launch. */
int32_t run_rows(const char *op, bool log_softmax, float *y, const float *x, int64_t rows, int64_t cols,
                 int32_t device) {
    NF_CHECK_PTR(op, y);
    NF_CHECK_PTR(op, x);
    NF_CHECK_POSITIVE(op, rows);
    NF_CHECK_POSITIVE(op, cols);
    cudaStream_t stream = nullptr;
    NF_CUDA_ENTER(op, device, stream);
    const bool vec = cols % 4 == 0 && nf_aligned16(y) && nf_aligned16(x);
    return nf_softmax_dispatch(cols, vec, [&](auto shape) -> int32_t {
        using S = decltype(shape);
        NF_CUDA_LAUNCH_OR_FAIL(op, softmax_kernel<S>, nf_softmax_grid<S>(rows, device), S::kThreads, 0, stream, y, x,
                               rows, cols, log_softmax);
        return NF_OK;
    });
}

}  // namespace

NF_API int32_t nf_cuda_softmax_fwd_f32(float *y, const float *x, int64_t rows, int64_t cols, int32_t device) {
    return run_rows("nf_cuda_softmax_fwd_f32", false, y, x, rows, cols, device);
}

NF_API int32_t nf_cuda_log_softmax_fwd_f32(float *y, const float *x, int64_t rows, int64_t cols, int32_t device) {
    return run_rows("nf_cuda_log_softmax_fwd_f32", true, y, x, rows, cols, device);
}
