/*
 * Cross-entropy of logits against integer labels with PyTorch's semantics
 * (aten/src/ATen/native/LossNLL.cpp: nll_loss of log_softmax, plus
 * cross_entropy_loss_label_smoothing for label_smoothing > 0).
 */
#include <math.h>
#include <stdlib.h>

#include "../common/error.h"
#include "../common/parallel.h"
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
 * Per-sample losses in parallel (independent outputs), then sums over the
 * samples in index order on one thread, so the result never depends on the
 * thread count. The denominator of MEAN is PyTorch's total weight: the sum of
 * w[t] over the samples not ignored, or their count without weights.
 */
static int32_t reduce(float *loss, const float *logits, const int64_t *labels, int64_t rows,
                      int32_t reduction, int parallel, const ce_params *p) {
    double *per_sample = malloc((size_t)rows * sizeof *per_sample);
    if (per_sample == NULL)
        return nf_fail(NF_ERR_OUT_OF_MEMORY, "nf_cross_entropy_fwd_f32: cannot allocate %lld doubles",
                       (long long)rows);
#pragma omp parallel for schedule(static) num_threads(nf_threads()) if (parallel)
    for (int64_t i = 0; i < rows; i++)
        per_sample[i] = sample_loss(logits + i * p->classes, labels[i], p);
    double sum = 0;
    double total_weight = 0;
    for (int64_t i = 0; i < rows; i++) {
        sum += per_sample[i];
        if (labels[i] != p->ignore_index) total_weight += p->weight != NULL ? p->weight[labels[i]] : 1.0;
    }
    free(per_sample);
    *loss = (float)(reduction == NF_REDUCTION_MEAN ? sum / total_weight : sum);
    return NF_OK;
}

NF_API int32_t nf_cross_entropy_fwd_f32(float *loss, const float *logits, const int64_t *labels,
                                        const float *weight, int64_t rows, int64_t classes,
                                        int64_t ignore_index, float label_smoothing,
                                        int32_t reduction) {
    static const char op[] = "nf_cross_entropy_fwd_f32";
    NF_CHECK_PTR(op, loss);
    NF_CHECK_PTR(op, logits);
    NF_CHECK_PTR(op, labels);
    NF_CHECK_POSITIVE(op, rows);
    NF_CHECK_POSITIVE(op, classes);
    if (!(label_smoothing >= 0.0f && label_smoothing <= 1.0f))
        return nf_fail(NF_ERR_INVALID_ARGUMENT, "%s: label_smoothing must be in [0, 1], got %g", op,
                       (double)label_smoothing);
    if (reduction != NF_REDUCTION_NONE && reduction != NF_REDUCTION_MEAN && reduction != NF_REDUCTION_SUM)
        return nf_fail(NF_ERR_INVALID_ARGUMENT,
                       "%s: reduction must be NF_REDUCTION_NONE, _MEAN or _SUM (0, 1, 2), got %d", op,
                       (int)reduction);
    const ce_params p = {weight, classes, ignore_index, label_smoothing};
    const int32_t status = check_labels(op, labels, rows, &p);
    if (status != NF_OK) return status;

    const int parallel = rows > 1 && rows * classes >= NF_PARALLEL_MIN_WORK;
    if (reduction != NF_REDUCTION_NONE) return reduce(loss, logits, labels, rows, reduction, parallel, &p);
#pragma omp parallel for schedule(static) num_threads(nf_threads()) if (parallel)
    for (int64_t i = 0; i < rows; i++) loss[i] = (float)sample_loss(logits + i * classes, labels[i], &p);
    return NF_OK;
}
