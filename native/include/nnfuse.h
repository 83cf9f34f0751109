/*
 * nnfuse.h: the whole C ABI of libnnfuse.
 *
 * Conventions (every function follows them; the Java bindings depend on it):
 *  - Names are nf_<op>_<fwd|bwd>_<dtype>; utilities are nf_<noun>.
 *  - Parameters are flat: outputs first, then const inputs, then int64_t
 *    sizes, then scalars. Optional pointers may be NULL where documented.
 *  - Tensors are contiguous, row-major float32 unless a name says otherwise.
 *  - Every entry point returns an nf_status. On failure it also records a
 *    message in thread-local storage, readable with nf_last_error() on the
 *    same thread until the next failing call (the libgit2 error model).
 *  - Only symbols marked NF_API are exported; everything else is hidden.
 */
#ifndef NNFUSE_H
#define NNFUSE_H

#include <stdint.h>

#if defined(_WIN32)
#define NF_API __declspec(dllexport)
#else
#define NF_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Status codes returned by every entry point. */
#define NF_OK 0
#define NF_ERR_INVALID_ARGUMENT 1
#define NF_ERR_OUT_OF_MEMORY 2
#define NF_ERR_UNSUPPORTED 3
#define NF_ERR_CUDA 4
#define NF_ERR_INTERNAL 5

/* CPU feature bits reported by nf_cpu_features(). */
#define NF_CPU_SSE42 1
#define NF_CPU_AVX 2
#define NF_CPU_AVX2 4
#define NF_CPU_FMA 8
#define NF_CPU_AVX512F 16

/* ---- Library facts and errors ----------------------------------------- */

/* Message of the last failing call on this thread; "" when none. Never NULL. */
NF_API const char *nf_last_error(void);

/* Semantic version of the library, e.g. "0.1.0". */
NF_API const char *nf_version(void);

/* Bitmask of NF_CPU_* features of the running CPU. */
NF_API int32_t nf_cpu_features(void);

/* Threads kernels use: set by nf_set_num_threads, else NNFUSE_NUM_THREADS,
 * else the processors available. Results never depend on it. */
NF_API int32_t nf_get_num_threads(void);

/* Sets the number of threads kernels use, for every calling thread; n >= 1. */
NF_API int32_t nf_set_num_threads(int32_t n);

/* 1 when the library was built with the CUDA backend, else 0. */
NF_API int32_t nf_cuda_built(void);

/* Does nothing and returns NF_OK: measures the cost of one downcall. */
NF_API int32_t nf_noop(void);

/* ---- LayerNorm --------------------------------------------------------- */

/*
 * y[r, :] = (x[r, :] - mean[r]) * rstd[r] * gamma + beta over x[rows, cols],
 * with mean and biased variance per row and rstd = 1 / sqrt(var + eps).
 * gamma and beta ([cols]) may each be NULL (no scale, no shift).
 * mean and rstd ([rows]) may be NULL when the caller needs no backward pass.
 * Requires rows >= 1, cols >= 1, eps >= 0.
 */
NF_API int32_t nf_layernorm_fwd_f32(float *y, float *mean, float *rstd,
                                    const float *x, const float *gamma,
                                    const float *beta, int64_t rows,
                                    int64_t cols, float eps);

/* ---- Random numbers ----------------------------------------------------- */

/*
 * One block of the Philox4x32-10 counter-based generator (Random123's
 * philox4x32_R with 10 rounds): the four 32-bit words for counter ctr and
 * key. Exposed so that masks can be checked against the published
 * known-answer vectors and reproduced outside nnfuse. The one exception to
 * outputs-first: the arguments follow Random123's philox4x32(ctr, key).
 */
NF_API int32_t nf_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]);

/* ---- Softmax ----------------------------------------------------------- */

/*
 * y[r, :] = exp(x[r, :] - m[r]) / sum_j exp(x[r, j] - m[r]) over x[rows, cols],
 * with m[r] the row maximum (numerically stable for any finite logits), as
 * torch.softmax(x, dim=-1). The sum is accumulated in double in a fixed order.
 * A row with NaN, with +inf, or with every entry -inf gives NaN throughout, as
 * in PyTorch; -inf entries of an otherwise finite row give 0.
 * y may alias x (in place). Requires rows >= 1, cols >= 1.
 */
NF_API int32_t nf_softmax_fwd_f32(float *y, const float *x, int64_t rows,
                                  int64_t cols);

/*
 * y[r, :] = x[r, :] - m[r] - log(sum_j exp(x[r, j] - m[r])) over x[rows, cols],
 * as torch.log_softmax(x, dim=-1), without forming the softmax first (so
 * log-probabilities far below float's smallest normal stay finite). Rows with
 * NaN, +inf or only -inf give NaN, as in PyTorch; -inf entries give -inf.
 * y may alias x (in place). Requires rows >= 1, cols >= 1.
 */
NF_API int32_t nf_log_softmax_fwd_f32(float *y, const float *x, int64_t rows,
                                      int64_t cols);

/* ---- Cross-entropy ----------------------------------------------------- */

/* Reductions of a per-sample loss, as PyTorch's reduction='none'|'mean'|'sum'. */
#define NF_REDUCTION_NONE 0
#define NF_REDUCTION_MEAN 1
#define NF_REDUCTION_SUM 2

/*
 * Cross-entropy of logits[rows, classes] against integer labels[rows], as
 * torch.nn.functional.cross_entropy(logits, labels, weight, ignore_index=...,
 * reduction=..., label_smoothing=...). With logp = log_softmax(logits) and
 * e = label_smoothing, C = classes, w = weight (all ones when NULL), t = labels[i]:
 *   loss_i = (1 - e) * (-w[t] * logp[i, t]) + (e / C) * (-sum_c w[c] * logp[i, c])
 * (the smoothing term is absent when e == 0), and loss_i = 0 when t == ignore_index.
 * NF_REDUCTION_NONE writes loss[rows]; NF_REDUCTION_SUM writes sum_i loss_i to
 * loss[0]; NF_REDUCTION_MEAN writes sum_i loss_i / sum_i w[t_i] over the samples
 * not ignored (their count when weight is NULL) to loss[0]: NaN when all are
 * ignored (0/0), as PyTorch. Per-sample values and sums are computed in double,
 * the sums over samples in index order.
 * weight ([classes]) may be NULL. Every label must be ignore_index or in
 * [0, classes). Requires rows >= 1, classes >= 1, 0 <= label_smoothing <= 1.
 */
NF_API int32_t nf_cross_entropy_fwd_f32(float *loss, const float *logits,
                                        const int64_t *labels,
                                        const float *weight, int64_t rows,
                                        int64_t classes, int64_t ignore_index,
                                        float label_smoothing,
                                        int32_t reduction);

/* ---- Argmax ------------------------------------------------------------ */

/*
 * index[r] = the column of the largest x[r, :] over x[rows, cols], as
 * torch.argmax(x, dim=-1): the first one on ties, and the first NaN when the
 * row has one (NaN counts as the largest value). Requires rows >= 1, cols >= 1.
 */
NF_API int32_t nf_argmax_fwd_f32(int64_t *index, const float *x, int64_t rows,
                                 int64_t cols);

/* ---- L2 penalty -------------------------------------------------------- */

/*
 * *sum_squares = sum_i x[i]^2 over x[n], in double (each square of a float is
 * exact in double). The sum runs over fixed-size chunks in index order, so
 * the result is the same for every thread count. Requires n >= 1.
 */
NF_API int32_t nf_l2_fwd_f32(double *sum_squares, const float *x, int64_t n);
/* ---- Dropout ------------------------------------------------------------ */

/*
 * Dropout (Srivastava et al., 2014) of x[n] into y[n], training mode. Element i
 * takes draw offset + i of the Philox4x32-10 stream that cuRAND's
 * curand_init(seed, 0, 0, &state) starts, turns it into u in (0, 1] as
 * curand_uniform does (draw * 2^-32 + 2^-33 in float), and is kept when
 * u < 1 - p (1 - p rounded to float), as PyTorch's CUDA dropout compares.
 * (seed, offset) alone determine the mask, never the thread count; a caller
 * that advances offset by n per call continues one stream.
 * inverted = 1: kept units are x * (1 / (1 - p)), the factor rounded once to
 * float (PyTorch's dropout); inverted = 0: kept units are x unchanged.
 * Dropped units are +0.0, whatever x holds, so p = 1 gives zeros, never NaN.
 * p = 0 copies x bit for bit (PyTorch returns the input unchanged).
 * y may be x (in place). Requires n >= 1, p in [0, 1], offset + n <= 2^64.
 */
NF_API int32_t nf_dropout_fwd_f32(float *y, const float *x, int64_t n, uint64_t seed,
                                  uint64_t offset, float p, int32_t inverted);

/*
 * The keep mask of nf_dropout_fwd_f32 for the same (n, seed, offset, p):
 * mask[i] = 1.0 where element i is kept, 0.0 where it is dropped.
 * Requires n >= 1, p in [0, 1], offset + n <= 2^64.
 */
NF_API int32_t nf_dropout_mask_fwd_f32(float *mask, int64_t n, uint64_t seed, uint64_t offset,
                                       float p);

/* ---- Linear ------------------------------------------------------------ */

/*
 * y[r, j] = sum_k x[r, k] * weight[j, k] + bias[j]: y = x weight^T + bias over
 * x[rows, in_features], with weight[out_features, in_features] in PyTorch's
 * layout and y[rows, out_features]. bias ([out_features]) may be NULL.
 * Each element is a float32 sum in one fixed order, whatever the thread count
 * and the number of rows. y must not overlap x, weight or bias.
 * Requires rows >= 1, in_features >= 1, out_features >= 1.
 */
NF_API int32_t nf_linear_fwd_f32(float *y, const float *x, const float *weight,
                                 const float *bias, int64_t rows,
                                 int64_t in_features, int64_t out_features);

/* ---- Linear + LayerNorm + ReLU ----------------------------------------- */

/*
 * y = relu(layernorm(x weight^T + bias)) in one pass: each block of rows is
 * normalized right after its product is computed, while it is still in cache.
 * The product is the one of nf_linear_fwd_f32 and the normalization the one
 * of nf_layernorm_fwd_f32 over the out_features of each row, with gamma and
 * beta ([out_features]) each optional (NULL); relu = 0 skips the ReLU (for a
 * last block), relu = 1 applies it, keeping NaN as PyTorch does.
 * For the backward pass: h ([rows, out_features]) receives the product
 * x weight^T + bias before normalization, mean and rstd ([rows]) its per-row
 * statistics; each may be NULL. xhat = (h - mean) * rstd recomputes the rest,
 * so no normalized or rectified activation needs keeping.
 * Outputs must not overlap each other or the inputs.
 * Requires rows >= 1, in_features >= 1, out_features >= 1, eps >= 0.
 */
NF_API int32_t nf_linear_ln_relu_fwd_f32(float *y, float *h, float *mean, float *rstd,
                                         const float *x, const float *weight,
                                         const float *bias, const float *gamma,
                                         const float *beta, int64_t rows,
                                         int64_t in_features, int64_t out_features,
                                         float eps, int32_t relu);

/* ---- ReLU -------------------------------------------------------------- */

/*
 * y[i] = max(x[i], 0) over n elements; NaN stays NaN (as torch.relu) and -0
 * becomes +0. y may be x itself (in place) but must not otherwise overlap it.
 * Requires n >= 1.
 */
NF_API int32_t nf_relu_fwd_f32(float *y, const float *x, int64_t n);

/* ---- BatchNorm --------------------------------------------------------- */

/*
 * Training-mode batch normalization of x[n, c] over the batch (PyTorch's
 * batch_norm with training=True): y[:, j] = (x[:, j] - mean[j]) * rstd[j] *
 * gamma[j] + beta[j], with each column's batch mean and biased variance and
 * rstd = 1 / sqrt(var + eps), or 0 when var and eps are both 0 (as PyTorch).
 * save_mean and save_rstd ([c]) receive mean and rstd for the backward pass;
 * either may be NULL. running_mean and running_var ([c]) are read and updated
 * in place, running = momentum * batch + (1 - momentum) * running, with the
 * unbiased variance var * n / (n - 1); both are given or both are NULL (no
 * running statistics). gamma and beta ([c]) may each be NULL (no scale, no
 * shift). y may be x itself (in place); otherwise no output may overlap
 * another array. Requires n >= 2 (one sample has no variance), c >= 1, eps
 * finite and >= 0, momentum in [0, 1]. Column statistics are accumulated in
 * double; the result does not depend on the thread count.
 */
NF_API int32_t nf_batchnorm_fwd_train_f32(float *y, float *save_mean, float *save_rstd,
                                          float *running_mean, float *running_var,
                                          const float *x, const float *gamma,
                                          const float *beta, int64_t n, int64_t c,
                                          float eps, float momentum);

/*
 * Eval-mode batch normalization of x[n, c] (PyTorch's batch_norm with
 * training=False): y[:, j] = (x[:, j] - running_mean[j]) /
 * sqrt(running_var[j] + eps) * gamma[j] + beta[j]. running_mean and
 * running_var ([c]) are required; gamma and beta ([c]) may each be NULL.
 * y may be x itself (in place) but must not otherwise overlap an input.
 * Requires n >= 1, c >= 1, eps finite and >= 0; running_var is not
 * checked (NaN propagates, and running_var + eps == 0 gives non-finite y).
 */
NF_API int32_t nf_batchnorm_fwd_eval_f32(float *y, const float *x,
                                         const float *running_mean,
                                         const float *running_var,
                                         const float *gamma, const float *beta,
                                         int64_t n, int64_t c, float eps);

#ifdef __cplusplus
}
#endif

#endif
