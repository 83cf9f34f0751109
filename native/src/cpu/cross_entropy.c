/*
 * Cross-entropy of logits against integer labels with PyTorch's semantics
 * (aten/src/ATen/native/LossNLL.cpp: nll_loss of log_softmax, plus
 * cross_entropy_loss_label_smoothing for label_smoothing > 0), and its
 * gradient with respect to the logits.
 */
#include <math.h>
#include <stdlib.h>

#include "../common/error.h"
#include "../common/parallel.h"
#include "cross_entropy.h"
#include "softmax.h"

typedef struct {
    const float *weight;
    int64_t classes;
    int64_t ignore_index;
    double smoothing;
} ce_params;

/*
 * One sample's loss in double: (1 - e) * nll + (e / C) * smooth, where
 * nll = -w[t] * logp[t] and smooth = -sum_c w[c] * logp[c]. PyTorch adds the
 * smoothing term only when e > 0, so e == 0 never turns an infinite smooth
 * term (a -inf logit) into 0 * inf = NaN.
 */
static double sample_loss(const float *x, int64_t t, const ce_params *p) {
    if (t == p->ignore_index) return 0.0;
    const int64_t n = p->classes;
    const float max = nf_row_max(x, n);
    const double shift = (double)max + log(nf_row_exp_sum(NULL, x, n, max));
    const double w_t = p->weight != NULL ? p->weight[t] : 1.0;
    const double nll = -w_t * ((double)x[t] - shift);
    if (p->smoothing == 0.0) return nll;
    double smooth = 0;
    for (int64_t c = 0; c < n; c++) {
        const double w_c = p->weight != NULL ? p->weight[c] : 1.0;
        smooth -= w_c * ((double)x[c] - shift);
    }
    return (1.0 - p->smoothing) * nll + (p->smoothing / (double)n) * smooth;
}

/* The first label that is neither ignore_index nor a class, reported with its sample. */
static int32_t check_labels(const char *op, const int64_t *labels, int64_t rows, const ce_params *p) {
    for (int64_t i = 0; i < rows; i++) {
        const int64_t t = labels[i];
        if (t != p->ignore_index && (t < 0 || t >= p->classes))
            return nf_fail(NF_ERR_INVALID_ARGUMENT,
                           "%s: labels[%lld] = %lld is out of range for %lld classes "
                           "(expected 0 <= label < %lld, or ignore_index %lld)",
                           op, (long long)i, (long long)t, (long long)p->classes,
                           (long long)p->classes, (long long)p->ignore_index);
    }
    return NF_OK;
}

/*
 * The denominator of MEAN, PyTorch's total weight: the sum of w[t] over the
 * samples not ignored (their count without weights), in double, in index order.
 */
static double total_weight(const int64_t *labels, int64_t rows, const ce_params *p) {
    double total = 0;
    for (int64_t i = 0; i < rows; i++)
        if (labels[i] != p->ignore_index) total += p->weight != NULL ? p->weight[labels[i]] : 1.0;
    return total;
}

/*
 * Per-sample losses in parallel (independent outputs), then sums over the
 * samples in index order on one thread, so the result never depends on the
 * thread count.
 */
static int32_t reduce(float *loss, const float *logits, const int64_t *labels, int64_t rows,
                      int32_t reduction, int parallel, const ce_params *p) {
    double *per_sample = malloc((size_t)rows * sizeof *per_sample);
    if (per_sample == NULL)
        return nf_fail(NF_ERR_OUT_OF_MEMORY, "nf_cross_entropy_fwd_f32: cannot allocate %lld doubles",
                       (long long)rows);
    NF_PARALLEL_IF(parallel, nf_threads(),
        _Pragma("omp for schedule(static)")
        for (int64_t i = 0; i < rows; i++)
            per_sample[i] = sample_loss(logits + i * p->classes, labels[i], p);
    );
    double sum = 0;
    for (int64_t i = 0; i < rows; i++) sum += per_sample[i];
    free(per_sample);
    *loss = (float)(reduction == NF_REDUCTION_MEAN ? sum / total_weight(labels, rows, p) : sum);
    return NF_OK;
}

/* The checks the forward and the backward share, past their pointers: sizes and scalars. */
static int32_t check_scalars(const char *op, int64_t rows, int64_t classes, float label_smoothing,
                             int32_t reduction) {
    NF_CHECK_POSITIVE(op, rows);
    NF_CHECK_POSITIVE(op, classes);
    if (!(label_smoothing >= 0.0f && label_smoothing <= 1.0f))
        return nf_fail(NF_ERR_INVALID_ARGUMENT, "%s: label_smoothing must be in [0, 1], got %g", op,
                       (double)label_smoothing);
    if (reduction != NF_REDUCTION_NONE && reduction != NF_REDUCTION_MEAN && reduction != NF_REDUCTION_SUM)
        return nf_fail(NF_ERR_INVALID_ARGUMENT,
                       "%s: reduction must be NF_REDUCTION_NONE, _MEAN or _SUM (0, 1, 2), got %d", op,
                       (int)reduction);
    return NF_OK;
}

int32_t nf_cross_entropy_fwd_check(const char *op, const float *loss, const float *logits, const int64_t *labels,
                                   int64_t rows, int64_t classes, float label_smoothing, int32_t reduction) {
    NF_CHECK_PTR(op, loss);
    NF_CHECK_PTR(op, logits);
    NF_CHECK_PTR(op, labels);
    return check_scalars(op, rows, classes, label_smoothing, reduction);
}

int32_t nf_cross_entropy_bwd_check(const char *op, const float *dlogits, const float *dloss, const float *logits,
                                   const int64_t *labels, int64_t rows, int64_t classes, float label_smoothing,
                                   int32_t reduction) {
    NF_CHECK_PTR(op, dlogits);
    NF_CHECK_PTR(op, dloss);
    NF_CHECK_PTR(op, logits);
    NF_CHECK_PTR(op, labels);
    return check_scalars(op, rows, classes, label_smoothing, reduction);
}

int32_t nf_cross_entropy_bwd_check_overlaps(const char *op, const float *dlogits, const float *dloss,
                                            const float *logits, const int64_t *labels, const float *weight,
                                            int64_t rows, int64_t classes, int32_t reduction) {
    const int64_t size = rows * classes;
    NF_CHECK_DISJOINT(op, dlogits, size, dloss, reduction == NF_REDUCTION_NONE ? rows : 1);
    NF_CHECK_DISJOINT(op, dlogits, size, labels, rows);
    NF_CHECK_DISJOINT(op, dlogits, size, weight, classes);
    /* dlogits == logits is in place (each backend reads a row before writing it); partial overlap is not. */
    if (dlogits != logits && NF_OVERLAPS(dlogits, size, logits, size))
        return nf_fail(NF_ERR_INVALID_ARGUMENT, "%s: dlogits overlaps logits", op);
    return NF_OK;
}

NF_API int32_t nf_cross_entropy_fwd_f32(float *loss, const float *logits, const int64_t *labels,
                                        const float *weight, int64_t rows, int64_t classes,
                                        int64_t ignore_index, float label_smoothing,
                                        int32_t reduction) {
    static const char op[] = "nf_cross_entropy_fwd_f32";
    int32_t status = nf_cross_entropy_fwd_check(op, loss, logits, labels, rows, classes, label_smoothing, reduction);
    if (status != NF_OK) return status;
    const ce_params p = {weight, classes, ignore_index, label_smoothing};
    status = check_labels(op, labels, rows, &p);
    if (status != NF_OK) return status;

    const int parallel = rows > 1 && rows * classes >= NF_PARALLEL_MIN_WORK;
    if (reduction != NF_REDUCTION_NONE) return reduce(loss, logits, labels, rows, reduction, parallel, &p);
    NF_PARALLEL_IF(parallel, nf_threads(),
        _Pragma("omp for schedule(static)")
        for (int64_t i = 0; i < rows; i++) loss[i] = (float)sample_loss(logits + i * classes, labels[i], &p);
    );
    return NF_OK;
}

/*
 * One row of the backward: dx = g * (s * softmax(x) - q), the derivative of
 * sample_loss's (1 - e) * nll + (e / C) * smooth through the log-softmax
 * (d logp[c] / d x[j] = [c == j] - p[j]), with s = (1 - e) * w[t] + (e / C) * W
 * and q[j] = (1 - e) * w[t] * [j == t] + (e / C) * w[j]; the smoothing terms
 * only when e > 0, as in the forward. The exponentials go through dx (so dx
 * may be x), one float rounding each, and the rest is in double.
 */
static void sample_grad(float *dx, const float *x, int64_t t, double g, double weight_sum, const ce_params *p) {
    const int64_t n = p->classes;
    if (t == p->ignore_index) {
        for (int64_t j = 0; j < n; j++) dx[j] = 0.0f;
        return;
    }
    const double inv_sum = 1.0 / nf_row_exp_sum(dx, x, n, nf_row_max(x, n));
    const double w_t = p->weight != NULL ? p->weight[t] : 1.0;
    const double e = p->smoothing;
    const double smooth = e / (double)n;
    const double s = e > 0 ? (1.0 - e) * w_t + smooth * weight_sum : w_t;
    for (int64_t j = 0; j < n; j++) {
        double q = j == t ? (1.0 - e) * w_t : 0.0;
        if (e > 0) q += smooth * (p->weight != NULL ? p->weight[j] : 1.0);
        dx[j] = (float)(g * (s * ((double)dx[j] * inv_sum) - q));
    }
}

/* The scale of row i's gradient: dloss[i], dloss[0], or dloss[0] over the total weight. */
static double row_scale(const float *dloss, int64_t i, int32_t reduction, double mean_denominator) {
    if (reduction == NF_REDUCTION_NONE) return dloss[i];
    return reduction == NF_REDUCTION_MEAN ? (double)dloss[0] / mean_denominator : (double)dloss[0];
}

NF_API int32_t nf_cross_entropy_bwd_f32(float *dlogits, const float *dloss, const float *logits,
                                        const int64_t *labels, const float *weight, int64_t rows,
                                        int64_t classes, int64_t ignore_index, float label_smoothing,
                                        int32_t reduction) {
    static const char op[] = "nf_cross_entropy_bwd_f32";
    int32_t status =
        nf_cross_entropy_bwd_check(op, dlogits, dloss, logits, labels, rows, classes, label_smoothing, reduction);
    if (status != NF_OK) return status;
    const ce_params p = {weight, classes, ignore_index, label_smoothing};
    status = check_labels(op, labels, rows, &p);
    if (status != NF_OK) return status;
    status = nf_cross_entropy_bwd_check_overlaps(op, dlogits, dloss, logits, labels, weight, rows, classes, reduction);
    if (status != NF_OK) return status;
    const int64_t size = rows * classes;

    double weight_sum = 0;
    if (label_smoothing > 0.0f)
        for (int64_t c = 0; c < classes; c++) weight_sum += weight != NULL ? weight[c] : 1.0;
    const double denominator = reduction == NF_REDUCTION_MEAN ? total_weight(labels, rows, &p) : 1.0;
    const int parallel = rows > 1 && size >= NF_PARALLEL_MIN_WORK;
    NF_PARALLEL_IF(parallel, nf_threads(),
        _Pragma("omp for schedule(static)")
        for (int64_t i = 0; i < rows; i++)
            sample_grad(dlogits + i * classes, logits + i * classes, labels[i],
                        row_scale(dloss, i, reduction, denominator), weight_sum, &p);
    );
    return NF_OK;
}
