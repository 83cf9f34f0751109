/*
 * Cross-entropy of logits against integer labels on the GPU, with
 * cpu/cross_entropy.c's semantics (PyTorch's aten/src/ATen/native/LossNLL.cpp:
 * nll_loss of log_softmax, plus cross_entropy_loss_label_smoothing), its
 * arithmetic (per-sample values in double from softmax.cuh's row max and
 * exp-sum) and its gradient with respect to the logits.
 *
 * The CPU checks every label before computing anything; a kernel cannot
 * return an error, so both ops first run check_kernel, which finds the first
 * bad label, and wait for its result (one small copy to the host: the only
 * synchronization of these ops) before launching the computation or failing
 * with the CPU's message.
 */
#include "softmax.cuh"

namespace {

constexpr int kCheckThreads = 256;
constexpr int kReduceThreads = 256;

/*
 * What check_kernel learns from the labels: the first sample whose label is
 * neither ignore_index nor a class (rows when none) and that label; MEAN's
 * denominator, the sum of w[t] over the samples not ignored; and W = sum_c w[c]
 * for the smoothed gradient (when weight is not NULL).
 */
struct LabelCheck {
    int64_t bad_index;
    int64_t bad_label;
    double total_weight;
    double weight_sum;
};

/* One block: each thread strides over the samples and classes in index order, then fixed trees merge them. */
__global__ void __launch_bounds__(kCheckThreads) check_kernel(LabelCheck *out, const int64_t *labels,
                                                              const float *weight, int64_t rows, int64_t classes,
                                                              int64_t ignore_index) {
    __shared__ double sums[32];
    __shared__ int64_t firsts[32];
    int64_t first = rows;
    double total = 0, weight_sum = 0;
    for (int64_t i = threadIdx.x; i < rows; i += kCheckThreads) {
        const int64_t t = labels[i];
        if (t == ignore_index) continue;
        if (t < 0 || t >= classes) {
            if (first == rows) first = i;
        } else {
            total += weight != nullptr ? (double)weight[t] : 1.0;
        }
    }
    if (weight != nullptr)
        for (int64_t c = threadIdx.x; c < classes; c += kCheckThreads) weight_sum += weight[c];
    total = nf_block_sum(total, sums);
    weight_sum = nf_block_sum(weight_sum, sums);
    for (int offset = 16; offset > 0; offset /= 2) {
        const int64_t other = __shfl_xor_sync(NF_FULL_WARP, first, offset);
        first = other < first ? other : first;
    }
    if (threadIdx.x % 32 == 0) firsts[threadIdx.x / 32] = first;
    __syncthreads();
    if (threadIdx.x == 0) {
        for (int w = 1; w < kCheckThreads / 32; w++) first = firsts[w] < first ? firsts[w] : first;
        out->bad_index = first;
        out->bad_label = first < rows ? labels[first] : 0;
        out->total_weight = total;
        out->weight_sum = weight != nullptr ? weight_sum : (double)classes;
    }
}

/* Runs check_kernel and waits for it; fails as cpu/cross_entropy.c's check_labels for the first bad label. */
int32_t check_labels(const char *op, LabelCheck *result, const int64_t *labels, const float *weight, int64_t rows,
                     int64_t classes, int64_t ignore_index, cudaStream_t stream) {
    LabelCheck *scratch = nullptr;
    cudaError_t error = cudaMallocAsync(reinterpret_cast<void **>(&scratch), sizeof *scratch, stream);
    if (error == cudaErrorMemoryAllocation) {
        cudaGetLastError();
        return nf_fail(NF_ERR_OUT_OF_MEMORY, "%s: cannot allocate the label check's result", op);
    }
    if (error != cudaSuccess) return nf_cuda_status(op, "cudaMallocAsync", error);
    error = NF_LAUNCH(check_kernel, 1, kCheckThreads, 0, stream, scratch, labels, weight, rows, classes, ignore_index);
    int32_t status = nf_cuda_status(op, "check_kernel", error);
    if (status == NF_OK)
        status = nf_cuda_status(op, "cudaMemcpyAsync",
                                cudaMemcpyAsync(result, scratch, sizeof *result, cudaMemcpyDeviceToHost, stream));
    if (status == NF_OK) status = nf_cuda_status(op, "cudaStreamSynchronize", cudaStreamSynchronize(stream));
    const int32_t freed = nf_cuda_status(op, "cudaFreeAsync", cudaFreeAsync(scratch, stream));
    if (status != NF_OK) return status;
    if (freed != NF_OK) return freed;
    if (result->bad_index < rows)
        return nf_fail(NF_ERR_INVALID_ARGUMENT,
                       "%s: labels[%lld] = %lld is out of range for %lld classes "
                       "(expected 0 <= label < %lld, or ignore_index %lld)",
                       op, (long long)result->bad_index, (long long)result->bad_label, (long long)classes,
                       (long long)classes, (long long)ignore_index);
    return NF_OK;
}

/* cpu/cross_entropy.c's check_args: sizes, scalars, then every label (on the device, waiting for the answer). */
int32_t check_args(const char *op, LabelCheck *result, const int64_t *labels, const float *weight, int64_t rows,
                   int64_t classes, int64_t ignore_index, float label_smoothing, int32_t reduction, int32_t device,
                   cudaStream_t *stream) {
    NF_CHECK_POSITIVE(op, rows);
    NF_CHECK_POSITIVE(op, classes);
    if (!(label_smoothing >= 0.0f && label_smoothing <= 1.0f))
        return nf_fail(NF_ERR_INVALID_ARGUMENT, "%s: label_smoothing must be in [0, 1], got %g", op,
                       (double)label_smoothing);
    if (reduction != NF_REDUCTION_NONE && reduction != NF_REDUCTION_MEAN && reduction != NF_REDUCTION_SUM)
        return nf_fail(NF_ERR_INVALID_ARGUMENT,
                       "%s: reduction must be NF_REDUCTION_NONE, _MEAN or _SUM (0, 1, 2), got %d", op,
                       (int)reduction);
    NF_CUDA_ENTER(op, device, *stream);
    return check_labels(op, result, labels, weight, rows, classes, ignore_index, *stream);
}

/*
 * Sample r's loss in double, in every thread of its row, as cpu/cross_entropy.c's
 * sample_loss: (1 - e) * nll + (e / C) * smooth with nll = -w[t] * logp[t] and
 * smooth = -sum_c w[c] * logp[c], the smoothing term only when e > 0.
 * Written as float to loss[r] (NONE) or as double to per_sample[r] for the reduction.
 * smooth_share is e / C, divided once on the host: a double division in the
 * row loop is a subroutine call on the GPU, and one more made ptxas spill.
 */
template <class S>
__global__ void __launch_bounds__(S::kThreads) fwd_kernel(float *loss, double *per_sample, const float *logits,
                                                          const int64_t *labels, const float *weight, int64_t rows,
                                                          int64_t classes, int64_t ignore_index, double smoothing,
                                                          double smooth_share) {
    for (int64_t r = S::first(); r < rows; r += S::stride()) {
        const int64_t t = labels[r];
        double value = 0.0;
        if (t != ignore_index) {
            const float *x = logits + r * classes;
            const float max = nf_softmax_row_max<S>(x, classes);
            const double shift = (double)max + log(nf_softmax_row_exp_sum<S>(x, classes, max));
            const double w_t = weight != nullptr ? (double)weight[t] : 1.0;
            value = -w_t * ((double)x[t] - shift);
            if (smoothing != 0.0) {
                double smooth = 0;
                nf_softmax_row_each<S>(x, classes, [&](int64_t c, float v) {
                    smooth -= (weight != nullptr ? (double)weight[c] : 1.0) * ((double)v - shift);
                });
                smooth = S::sum(smooth);
                value = (1.0 - smoothing) * value + smooth_share * smooth;
            }
        }
        if (S::tid() == 0) {
            if (per_sample != nullptr)
                per_sample[r] = value;
            else
                loss[r] = (float)value;
        }
    }
}

/* loss[0] = sum_r per_sample[r], over the total weight for MEAN; one block, so the order depends only on rows. */
__global__ void __launch_bounds__(kReduceThreads) reduce_kernel(float *loss, const double *per_sample, int64_t rows,
                                                                double denominator) {
    __shared__ double scratch[32];
    double sum = 0;
    for (int64_t i = threadIdx.x; i < rows; i += kReduceThreads) sum += per_sample[i];
    sum = nf_block_sum(sum, scratch);
    if (threadIdx.x == 0) *loss = (float)(sum / denominator);
}

/*
 * cpu/cross_entropy.c's sample_grad for each row: dx = g * (s * p - q) with
 * s = (1 - e) * w[t] + (e / C) * W and q[j] = (1 - e) * w[t] * [j == t] + (e / C) * w[j]
 * (smoothing terms only when e > 0), p[j] = (float)exp * (1 / sum) in double,
 * rounded once; zeros for an ignored row. dlogits may be logits (row_map).
 * g is dloss[r] (NONE) or dloss[0] / denominator (MEAN, SUM with denominator 1);
 * smooth_share is e / C, as in fwd_kernel.
 */
template <class S>
__global__ void __launch_bounds__(S::kThreads) bwd_kernel(float *dlogits, const float *dloss, const float *logits,
                                                          const int64_t *labels, const float *weight, int64_t rows,
                                                          int64_t classes, int64_t ignore_index, double smoothing,
                                                          double smooth_share, double weight_sum, bool per_row,
                                                          double denominator) {
    for (int64_t r = S::first(); r < rows; r += S::stride()) {
        const float *x = logits + r * classes;
        float *dx = dlogits + r * classes;
        const int64_t t = labels[r];
        if (t == ignore_index) {
            nf_softmax_row_map<S>(dx, x, classes, [](int64_t, float) { return 0.0f; });
            continue;
        }
        const float max = nf_softmax_row_max<S>(x, classes);
        const double inv_sum = 1.0 / nf_softmax_row_exp_sum<S>(x, classes, max);
        const double g = per_row ? (double)dloss[r] : (double)dloss[0] / denominator;
        const double w_t = weight != nullptr ? (double)weight[t] : 1.0;
        const double e = smoothing;
        const double s = e > 0 ? (1.0 - e) * w_t + smooth_share * weight_sum : w_t;
        nf_softmax_row_map<S>(dx, x, classes, [=](int64_t j, float v) {
            double q = j == t ? (1.0 - e) * w_t : 0.0;
            if (e > 0) q += smooth_share * (weight != nullptr ? (double)weight[j] : 1.0);
            return (float)(g * (s * ((double)(float)nf_exp_shifted(v, max) * inv_sum) - q));
        });
    }
}

}  // namespace

NF_API int32_t nf_cuda_cross_entropy_fwd_f32(float *loss, const float *logits, const int64_t *labels,
                                             const float *weight, int64_t rows, int64_t classes,
                                             int64_t ignore_index, float label_smoothing, int32_t reduction,
                                             int32_t device) {
    static const char op[] = "nf_cuda_cross_entropy_fwd_f32";
    NF_CHECK_PTR(op, loss);
    NF_CHECK_PTR(op, logits);
    NF_CHECK_PTR(op, labels);
    cudaStream_t stream = nullptr;
    LabelCheck check;
    int32_t status = check_args(op, &check, labels, weight, rows, classes, ignore_index, label_smoothing, reduction,
                                device, &stream);
    if (status != NF_OK) return status;

    double *per_sample = nullptr;
    if (reduction != NF_REDUCTION_NONE) {
        cudaError_t error = cudaMallocAsync(reinterpret_cast<void **>(&per_sample), (size_t)rows * sizeof(double), stream);
        if (error == cudaErrorMemoryAllocation) {
            cudaGetLastError();
            return nf_fail(NF_ERR_OUT_OF_MEMORY, "%s: cannot allocate %lld doubles", op, (long long)rows);
        }
        if (error != cudaSuccess) return nf_cuda_status(op, "cudaMallocAsync", error);
    }
    const bool vec = classes % 4 == 0 && nf_aligned16(logits);
    status = nf_softmax_dispatch(classes, vec, [&](auto shape) -> int32_t {
        using S = decltype(shape);
        NF_CUDA_LAUNCH_OR_FAIL(op, fwd_kernel<S>, nf_softmax_grid<S>(rows, device), S::kThreads, 0, stream, loss,
                               per_sample, logits, labels, weight, rows, classes, ignore_index,
                               (double)label_smoothing, (double)label_smoothing / (double)classes);
        return NF_OK;
    });
    if (status == NF_OK && per_sample != nullptr) {
        const double denominator = reduction == NF_REDUCTION_MEAN ? check.total_weight : 1.0;
        status = nf_cuda_status(op, "reduce_kernel",
                                NF_LAUNCH(reduce_kernel, 1, kReduceThreads, 0, stream, loss, per_sample, rows,
                                          denominator));
    }
    if (per_sample != nullptr) {
        const int32_t freed = nf_cuda_status(op, "cudaFreeAsync", cudaFreeAsync(per_sample, stream));
        if (status == NF_OK) status = freed;
    }
    return status;
}

NF_API int32_t nf_cuda_cross_entropy_bwd_f32(float *dlogits, const float *dloss, const float *logits,
                                             const int64_t *labels, const float *weight, int64_t rows,
                                             int64_t classes, int64_t ignore_index, float label_smoothing,
                                             int32_t reduction, int32_t device) {
    static const char op[] = "nf_cuda_cross_entropy_bwd_f32";
    NF_CHECK_PTR(op, dlogits);
    NF_CHECK_PTR(op, dloss);
    NF_CHECK_PTR(op, logits);
    NF_CHECK_PTR(op, labels);
    cudaStream_t stream = nullptr;
    LabelCheck check;
    const int32_t status = check_args(op, &check, labels, weight, rows, classes, ignore_index, label_smoothing,
                                      reduction, device, &stream);
    if (status != NF_OK) return status;
    const int64_t size = rows * classes;
    NF_CHECK_DISJOINT(op, dlogits, size, dloss, reduction == NF_REDUCTION_NONE ? rows : 1);
    NF_CHECK_DISJOINT(op, dlogits, size, labels, rows);
    NF_CHECK_DISJOINT(op, dlogits, size, weight, classes);
    /* dlogits == logits is in place (each thread reads its columns before writing them); partial overlap is not. */
    if (dlogits != logits && NF_OVERLAPS(dlogits, size, logits, size))
        return nf_fail(NF_ERR_INVALID_ARGUMENT, "%s: dlogits overlaps logits", op);

    const double denominator = reduction == NF_REDUCTION_MEAN ? check.total_weight : 1.0;
    const bool vec = classes % 4 == 0 && nf_aligned16(dlogits) && nf_aligned16(logits);
    return nf_softmax_dispatch(classes, vec, [&](auto shape) -> int32_t {
        using S = decltype(shape);
        NF_CUDA_LAUNCH_OR_FAIL(op, bwd_kernel<S>, nf_softmax_grid<S>(rows, device), S::kThreads, 0, stream, dlogits,
                               dloss, logits, labels, weight, rows, classes, ignore_index, (double)label_smoothing,
                               (double)label_smoothing / (double)classes, check.weight_sum,
                               reduction == NF_REDUCTION_NONE, denominator);
        return NF_OK;
    });
}
