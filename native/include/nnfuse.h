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

/*
 * The backward pass of nf_layernorm_fwd_f32 over x[rows, cols], given dy, the
 * gradient of a loss with respect to y, and the forward's saved per-row mean
 * and rstd ([rows]), as PyTorch's native_layer_norm_backward:
 *   dx[r, :] = rstd * (g - mean(g) - xhat * mean(g * xhat)), g = dy * gamma,
 *   dgamma[j] = sum_r dy[r, j] * xhat[r, j],  dbeta[j] = sum_r dy[r, j],
 * with xhat = (x - mean) * rstd and the means over the cols of a row.
 * xhat is the forward's, bit for bit: each row is summed again in double as
 * the forward sums it, to recover the part of the mean that rounding it to
 * float dropped (so a large mean costs no accuracy; a mean that is not the
 * forward's is thereby corrected to the row's mean). Row means and column
 * sums are accumulated in double in a fixed order: the result does not
 * depend on the thread count.
 * gamma ([cols]) may be NULL (no scale: g = dy). dx, dgamma and dbeta
 * ([cols]) may each be NULL (not needed). dx is always overwritten; dgamma
 * and dbeta are overwritten when accumulate = 0 and, as PyTorch accumulates
 * .grad, incremented (old + new, one float addition) when accumulate = 1.
 * No output may overlap another array. Requires rows >= 1, cols >= 1,
 * accumulate 0 or 1; returns NF_ERR_OUT_OF_MEMORY when the scratch for
 * [rows] floats cannot be allocated.
 */
NF_API int32_t nf_layernorm_bwd_f32(float *dx, float *dgamma, float *dbeta, const float *dy,
                                    const float *x, const float *mean, const float *rstd,
                                    const float *gamma, int64_t rows, int64_t cols,
                                    int32_t accumulate);

/* The CUDA backend's LayerNorm: see "CUDA backend" below. */
NF_API int32_t nf_cuda_layernorm_fwd_f32(float *y, float *mean, float *rstd, const float *x,
                                         const float *gamma, const float *beta, int64_t rows,
                                         int64_t cols, float eps, int32_t device);
NF_API int32_t nf_cuda_layernorm_bwd_f32(float *dx, float *dgamma, float *dbeta, const float *dy,
                                         const float *x, const float *mean, const float *rstd,
                                         const float *gamma, int64_t rows, int64_t cols,
                                         int32_t accumulate, int32_t device);

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

/* The CUDA backend's softmax and log-softmax: see "CUDA backend" below. */
NF_API int32_t nf_cuda_softmax_fwd_f32(float *y, const float *x, int64_t rows, int64_t cols,
                                       int32_t device);
NF_API int32_t nf_cuda_log_softmax_fwd_f32(float *y, const float *x, int64_t rows, int64_t cols,
                                           int32_t device);

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

/* The CUDA backend's cross-entropy: see "CUDA backend" below. It checks the labels
 * on the device and waits for that check (a synchronization) to report a bad one. */
NF_API int32_t nf_cuda_cross_entropy_fwd_f32(float *loss, const float *logits, const int64_t *labels,
                                             const float *weight, int64_t rows, int64_t classes,
                                             int64_t ignore_index, float label_smoothing,
                                             int32_t reduction, int32_t device);

/* ---- Argmax ------------------------------------------------------------ */

/*
 * index[r] = the column of the largest x[r, :] over x[rows, cols], as
 * torch.argmax(x, dim=-1): the first one on ties, and the first NaN when the
 * row has one (NaN counts as the largest value). Requires rows >= 1, cols >= 1.
 */
NF_API int32_t nf_argmax_fwd_f32(int64_t *index, const float *x, int64_t rows,
                                 int64_t cols);

/* The CUDA backend's argmax: see "CUDA backend" below. */
NF_API int32_t nf_cuda_argmax_fwd_f32(int64_t *index, const float *x, int64_t rows, int64_t cols,
                                      int32_t device);

/* ---- L2 penalty -------------------------------------------------------- */

/*
 * *sum_squares = sum_i x[i]^2 over x[n], in double (each square of a float is
 * exact in double). The sum runs over fixed-size chunks in index order, so
 * the result is the same for every thread count. Requires n >= 1.
 */
NF_API int32_t nf_l2_fwd_f32(double *sum_squares, const float *x, int64_t n);

/* The CUDA backend's sum of squares, the same bits: see "CUDA backend" below. sum_squares is a
 * host pointer: the call synchronizes to return the sum. */
NF_API int32_t nf_cuda_l2_fwd_f32(double *sum_squares, const float *x, int64_t n, int32_t device);

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

/* The CUDA backend's dropout, the same masks bit for bit: see "CUDA backend" below. */
NF_API int32_t nf_cuda_dropout_fwd_f32(float *y, const float *x, int64_t n, uint64_t seed,
                                       uint64_t offset, float p, int32_t inverted, int32_t device);
NF_API int32_t nf_cuda_dropout_mask_fwd_f32(float *mask, int64_t n, uint64_t seed, uint64_t offset,
                                            float p, int32_t device);

/* ---- Linear ------------------------------------------------------------ */

/*
 * y[r, j] = sum_k x[r, k] * weight[j, k] + bias[j]: y = x weight^T + bias over
 * x[rows, in_features], with weight[out_features, in_features] in PyTorch's
 * layout and y[rows, out_features]. bias ([out_features]) may be NULL.
 * Each element is a float32 sum from 0 in ascending k, then the bias: at the
 * scalar level each product is rounded and added, at the avx2 and avx512
 * levels each step is one fused multiply-add (nf_cpu_level). At a given level
 * the result does not depend on the thread count or on the number of rows.
 * The weight is packed into scratch memory on each call; see
 * nf_linear_pack_f32 to pack it once. y must not overlap x, weight or bias.
 * Requires rows >= 1, in_features >= 1, out_features >= 1.
 */
NF_API int32_t nf_linear_fwd_f32(float *y, const float *x, const float *weight,
                                 const float *bias, int64_t rows,
                                 int64_t in_features, int64_t out_features);

/*
 * The backward pass of nf_linear_fwd_f32, given dy[rows, out_features], the
 * gradient of a loss with respect to y:
 *   dx = dy weight          ([rows, in_features]),
 *   dweight = dy^T x        ([out_features, in_features]),
 *   dbias[j] = sum_r dy[r, j]  ([out_features]).
 * dx, dweight and dbias may each be NULL (not needed, e.g. dx of the first
 * layer). dx is always overwritten (an activation's gradient); dweight and
 * dbias are overwritten when accumulate = 0 and, as PyTorch accumulates
 * .grad, incremented (old + new, one float addition) when accumulate = 1.
 * Each element of dx and dweight is a float32 sum in ascending order of its
 * reduction index (out_features for dx, the rows for dweight), with the
 * forward's arithmetic at each level, and dbias a double sum over the rows
 * rounded once: the result does not depend on the thread count. No output
 * may overlap another array.
 * Requires rows >= 1, in_features >= 1, out_features >= 1, accumulate 0 or 1.
 */
NF_API int32_t nf_linear_bwd_f32(float *dx, float *dweight, float *dbias, const float *dy,
                                 const float *x, const float *weight, int64_t rows,
                                 int64_t in_features, int64_t out_features, int32_t accumulate);

/* The CUDA backend's Linear: see "CUDA backend" below. */
NF_API int32_t nf_cuda_linear_fwd_f32(float *y, const float *x, const float *weight, const float *bias,
                                      int64_t rows, int64_t in_features, int64_t out_features,
                                      int32_t device);
NF_API int32_t nf_cuda_linear_bwd_f32(float *dx, float *dweight, float *dbias, const float *dy,
                                      const float *x, const float *weight, int64_t rows,
                                      int64_t in_features, int64_t out_features, int32_t accumulate,
                                      int32_t device);

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

/*
 * The backward pass of nf_linear_ln_relu_fwd_f32 from what its forward kept
 * (h = x weight^T + bias, [rows, out_features], and the rows' mean and rstd),
 * without running the forward's product again: xhat = (h - mean) * rstd and
 * the ReLU mask (xhat * gamma + beta > 0) are recomputed bit for bit as the
 * forward computed them, and then the steps are those of the unfused ops:
 * nf_relu_bwd_f32 on dy, nf_layernorm_bwd_f32 giving dh, the gradient of h,
 * and nf_linear_bwd_f32 on dh, so every output is bit-identical to that
 * chain's (dh itself lives in scratch).
 * gamma and beta ([out_features]) may each be NULL, as in the forward; relu
 * must be the forward's. Each output may be NULL (not needed): dx
 * ([rows, in_features]), dweight ([out_features, in_features]), dbias,
 * dgamma and dbeta ([out_features]). dx is always overwritten; the parameter
 * gradients are overwritten when accumulate = 0 and incremented (old + new,
 * one float addition, as PyTorch accumulates .grad) when accumulate = 1.
 * The result does not depend on the thread count. No output may overlap
 * another array. Requires rows >= 1, in_features >= 1, out_features >= 1,
 * relu and accumulate 0 or 1; returns NF_ERR_OUT_OF_MEMORY when the scratch
 * for dh ([rows, out_features] floats) cannot be allocated.
 */
NF_API int32_t nf_linear_ln_relu_bwd_f32(float *dx, float *dweight, float *dbias, float *dgamma,
                                         float *dbeta, const float *dy, const float *x,
                                         const float *weight, const float *h, const float *mean,
                                         const float *rstd, const float *gamma, const float *beta,
                                         int64_t rows, int64_t in_features, int64_t out_features,
                                         int32_t relu, int32_t accumulate);

/* The CUDA backend's Linear + LayerNorm + ReLU: see "CUDA backend" below. */
NF_API int32_t nf_cuda_linear_ln_relu_fwd_f32(float *y, float *h, float *mean, float *rstd,
                                              const float *x, const float *weight, const float *bias,
                                              const float *gamma, const float *beta, int64_t rows,
                                              int64_t in_features, int64_t out_features, float eps,
                                              int32_t relu, int32_t device);
NF_API int32_t nf_cuda_linear_ln_relu_bwd_f32(float *dx, float *dweight, float *dbias, float *dgamma,
                                              float *dbeta, const float *dy, const float *x,
                                              const float *weight, const float *h, const float *mean,
                                              const float *rstd, const float *gamma, const float *beta,
                                              int64_t rows, int64_t in_features, int64_t out_features,
                                              int32_t relu, int32_t accumulate, int32_t device);

/* ---- ReLU -------------------------------------------------------------- */

/*
 * y[i] = max(x[i], 0) over n elements; NaN stays NaN (as torch.relu) and -0
 * becomes +0. y may be x itself (in place) but must not otherwise overlap it.
 * Requires n >= 1.
 */
NF_API int32_t nf_relu_fwd_f32(float *y, const float *x, int64_t n);

/*
 * The backward pass of nf_relu_fwd_f32 from its output y: dx[i] = dy[i]
 * where y[i] > 0, else 0, as PyTorch's threshold_backward(dy, y, 0), which
 * zeroes where y <= 0: a NaN y (NaN <= 0 is false) passes dy on. Exact.
 * dx may be dy itself (in place) but must not otherwise overlap dy, nor y.
 * Requires n >= 1.
 */
NF_API int32_t nf_relu_bwd_f32(float *dx, const float *dy, const float *y, int64_t n);

/* The CUDA backend's ReLU: see "CUDA backend" below. */
NF_API int32_t nf_cuda_relu_fwd_f32(float *y, const float *x, int64_t n, int32_t device);
NF_API int32_t nf_cuda_relu_bwd_f32(float *dx, const float *dy, const float *y, int64_t n,
                                    int32_t device);

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

/* ---- BatchNorm backward ------------------------------------------------ */

/*
 * Backward of nf_batchnorm_fwd_train_f32 (PyTorch's batch_norm backward with
 * training=True) over x[n, c], from the forward's save_mean and save_rstd
 * ([c]). With g = dy * gamma and xhat = (x - mean) * rstd per column:
 *   dx     = rstd / n * (n * g - sum(g) - xhat * sum(g * xhat)),
 *   dgamma = sum(dy * xhat),  dbeta = sum(dy),
 * sums over the batch (the rows). The column sums are accumulated in double
 * over fixed blocks of rows merged in order, and each dx is computed in double
 * and rounded once: the results do not depend on the thread count.
 * dx, dgamma and dbeta ([c]) may each be NULL (not needed); gamma ([c]) may be
 * NULL (no scale: gamma = 1). accumulate = 0 overwrites dgamma and dbeta,
 * accumulate = 1 adds the new gradient, rounded to float, to them (PyTorch's
 * .grad accumulation); dx is always overwritten. dx may be dy itself (in
 * place); otherwise no output may overlap another array.
 * Requires n >= 1, c >= 1, accumulate 0 or 1.
 */
NF_API int32_t nf_batchnorm_bwd_train_f32(float *dx, float *dgamma, float *dbeta,
                                          const float *dy, const float *x,
                                          const float *save_mean, const float *save_rstd,
                                          const float *gamma, int64_t n, int64_t c,
                                          int32_t accumulate);

/*
 * Backward of nf_batchnorm_fwd_eval_f32 (batch_norm with training=False, as
 * when a model is fine-tuned in eval mode): the running statistics are
 * constants, so with rstd = 1 / sqrt(running_var + eps) and
 * xhat = (x - running_mean) * rstd per column:
 *   dx = dy * gamma * rstd,  dgamma = sum(dy * xhat),  dbeta = sum(dy).
 * Sums, NULL outputs, gamma, accumulate and overlaps as in
 * nf_batchnorm_bwd_train_f32; running_mean and running_var ([c]) are required.
 * Requires n >= 1, c >= 1, eps finite and >= 0, accumulate 0 or 1.
 */
NF_API int32_t nf_batchnorm_bwd_eval_f32(float *dx, float *dgamma, float *dbeta,
                                         const float *dy, const float *x,
                                         const float *running_mean,
                                         const float *running_var, const float *gamma,
                                         int64_t n, int64_t c, float eps,
                                         int32_t accumulate);

/* The CUDA backend's BatchNorm: see "CUDA backend" below. */
NF_API int32_t nf_cuda_batchnorm_fwd_train_f32(float *y, float *save_mean, float *save_rstd,
                                               float *running_mean, float *running_var,
                                               const float *x, const float *gamma, const float *beta,
                                               int64_t n, int64_t c, float eps, float momentum,
                                               int32_t device);
NF_API int32_t nf_cuda_batchnorm_fwd_eval_f32(float *y, const float *x, const float *running_mean,
                                              const float *running_var, const float *gamma,
                                              const float *beta, int64_t n, int64_t c, float eps,
                                              int32_t device);
NF_API int32_t nf_cuda_batchnorm_bwd_train_f32(float *dx, float *dgamma, float *dbeta, const float *dy,
                                               const float *x, const float *save_mean,
                                               const float *save_rstd, const float *gamma, int64_t n,
                                               int64_t c, int32_t accumulate, int32_t device);
NF_API int32_t nf_cuda_batchnorm_bwd_eval_f32(float *dx, float *dgamma, float *dbeta, const float *dy,
                                              const float *x, const float *running_mean,
                                              const float *running_var, const float *gamma, int64_t n,
                                              int64_t c, float eps, int32_t accumulate, int32_t device);

/* ---- Dropout backward --------------------------------------------------- */

/*
 * Backward of nf_dropout_fwd_f32 for the same (n, seed, offset, p, inverted):
 * dropout's Jacobian is diagonal, kept * scale, so dx is the forward applied
 * to dy. The mask is drawn again from (seed, offset), never stored: dropped
 * units give +0.0 whatever dy holds, kept ones dy * (1 / (1 - p)) (inverted)
 * or dy (plain), and p = 0 copies dy bit for bit. dx may be dy (in place).
 * Requires n >= 1, p in [0, 1], offset + n <= 2^64.
 */
NF_API int32_t nf_dropout_bwd_f32(float *dx, const float *dy, int64_t n, uint64_t seed,
                                  uint64_t offset, float p, int32_t inverted);

/* The CUDA backend's dropout backward: see "CUDA backend" below. */
NF_API int32_t nf_cuda_dropout_bwd_f32(float *dx, const float *dy, int64_t n, uint64_t seed,
                                       uint64_t offset, float p, int32_t inverted, int32_t device);

/* ---- Cross-entropy backward -------------------------------------------- */

/*
 * Gradient of nf_cross_entropy_fwd_f32 with respect to the logits, softmax and
 * loss in one pass. With p = softmax(logits[i, :]), e, C, w and t as there,
 * W = sum_c w[c] and the smoothing terms present only when e > 0:
 *   dlogits[i, j] = g_i * (s_i * p[j] - q_i[j]),
 *   s_i = (1 - e) * w[t] + (e / C) * W,  q_i[j] = (1 - e) * w[t] * [j == t] + (e / C) * w[j],
 * (p - onehot(t) without weights or smoothing), and 0 for a row whose label is
 * ignore_index. g_i is dloss[i] for NF_REDUCTION_NONE (dloss[rows]), dloss[0]
 * for NF_REDUCTION_SUM and dloss[0] / sum_i w[t_i] over the samples not ignored
 * for NF_REDUCTION_MEAN (dloss[1]), the forward's denominator. Each row is
 * computed in double from the softmax's float exponentials and rounded once;
 * rows are independent, so the result does not depend on the thread count.
 * dlogits may be logits itself (in place) but must not overlap the other
 * arrays. Labels, sizes and scalars are checked as by the forward.
 */
NF_API int32_t nf_cross_entropy_bwd_f32(float *dlogits, const float *dloss,
                                        const float *logits, const int64_t *labels,
                                        const float *weight, int64_t rows,
                                        int64_t classes, int64_t ignore_index,
                                        float label_smoothing, int32_t reduction);

/* The CUDA backend's cross-entropy backward: see "CUDA backend" below; synchronizes as the forward. */
NF_API int32_t nf_cuda_cross_entropy_bwd_f32(float *dlogits, const float *dloss, const float *logits,
                                             const int64_t *labels, const float *weight, int64_t rows,
                                             int64_t classes, int64_t ignore_index,
                                             float label_smoothing, int32_t reduction, int32_t device);

/* ---- L2 penalty backward ----------------------------------------------- */

/*
 * grad[i] = 2 * lambda * x[i] (accumulate = 0) or grad[i] + 2 * lambda * x[i]
 * (accumulate = 1) over n elements: the gradient of lambda * ||x||^2, added
 * to a parameter's gradient as PyTorch accumulates into .grad. 2 * lambda is
 * exact in float, and the product and the sum are each rounded to float, the
 * order of torch.optim.SGD's grad + weight_decay * param: weight_decay =
 * 2 * lambda in nf_sgd_step_f32 gives the same update bit for bit.
 * grad must not overlap x. Requires n >= 1, lambda finite and >= 0,
 * accumulate 0 or 1.
 */
NF_API int32_t nf_l2_bwd_f32(float *grad, const float *x, int64_t n, float lambda,
                             int32_t accumulate);

/* The CUDA backend's L2 gradient: see "CUDA backend" below. */
NF_API int32_t nf_cuda_l2_bwd_f32(float *grad, const float *x, int64_t n, float lambda,
                                  int32_t accumulate, int32_t device);

/* ---- SGD ---------------------------------------------------------------- */

/*
 * One step of torch.optim.SGD on param[n] in place, element by element, in
 * float, each operation rounded separately, in PyTorch's order:
 *   g = grad + weight_decay * param                (when weight_decay != 0)
 *   buf = first_step ? g : momentum * buf + (1 - dampening) * g
 *   g = nesterov ? g + momentum * buf : buf         (both when momentum != 0)
 *   param = param - lr * g
 * momentum_buffer ([n]) is updated in place; it may be NULL when momentum is
 * 0. first_step = 1 starts the buffer (PyTorch's empty momentum_buffer state).
 * Arrays must not overlap. Requires n >= 1, lr, momentum and weight_decay
 * finite and >= 0, dampening finite, nesterov and first_step 0 or 1, and for
 * nesterov momentum > 0 and dampening == 0 (PyTorch's rule).
 */
NF_API int32_t nf_sgd_step_f32(float *param, float *momentum_buffer, const float *grad,
                               int64_t n, float lr, float momentum, float dampening,
                               float weight_decay, int32_t nesterov, int32_t first_step);

/* The CUDA backend's SGD step, the same bits: see "CUDA backend" below. */
NF_API int32_t nf_cuda_sgd_step_f32(float *param, float *momentum_buffer, const float *grad, int64_t n,
                                    float lr, float momentum, float dampening, float weight_decay,
                                    int32_t nesterov, int32_t first_step, int32_t device);

/* ---- CPU dispatch ------------------------------------------------------ */

/* SIMD levels of the CPU kernels, from nf_cpu_level(); each needs the CPU features named. */
#define NF_CPU_LEVEL_SCALAR 0 /* portable C, any CPU */
#define NF_CPU_LEVEL_AVX2 1   /* AVX2 and FMA */
#define NF_CPU_LEVEL_AVX512 2 /* AVX-512F (with AVX2 and FMA) */

/*
 * The level the CPU kernels run at: set by nf_set_cpu_level, else forced by
 * the environment variable NNFUSE_CPU_LEVEL=scalar|avx2|avx512, else the
 * widest level this CPU supports, chosen at first use. A level the CPU lacks
 * is never replaced by another: when NNFUSE_CPU_LEVEL names one (or names no
 * level), this returns -1 with the reason in nf_last_error(), and every
 * kernel with per-level code fails with NF_ERR_UNSUPPORTED, until
 * nf_set_cpu_level chooses a level.
 * Levels compute the same functions; results agree within rounding and may
 * differ in the last bits where a level fuses a multiply and an add (the
 * matrix products); at every level results are bit-identical whatever the
 * thread count. Dropout masks are integer arithmetic: the same at every level.
 */
NF_API int32_t nf_cpu_level(void);

/* The name of level: "scalar", "avx2" or "avx512"; "" for any other value. Never NULL. */
NF_API const char *nf_cpu_level_name(int32_t level);

/*
 * Why nf_cpu_level() is what it is: "detected: ...", "forced by
 * NNFUSE_CPU_LEVEL" or "set by nf_set_cpu_level"; the failure when the
 * environment's request cannot be met. Never NULL.
 */
NF_API const char *nf_cpu_level_reason(void);

/* 1 when this CPU (and this build) can run level, else 0. */
NF_API int32_t nf_cpu_level_supported(int32_t level);

/*
 * Makes every later call run at level, overriding NNFUSE_CPU_LEVEL. Fails
 * with NF_ERR_UNSUPPORTED, changing nothing, when the CPU lacks the level.
 * Meant for tests and benchmarks: a call already running keeps the level it
 * started with.
 */
NF_API int32_t nf_set_cpu_level(int32_t level);

/* ---- Packed Linear weights ---------------------------------------------- */

/*
 * A Linear weight packed for the forward product: panels of the weight's
 * rows, laid out as the matrix-product kernels read them, in an array of
 * floats whose layout is private to nnfuse (it may change between versions).
 * Packing costs a pass over the weight; a caller that runs many forward
 * passes between weight updates packs once per update and calls the
 * *_packed_fwd_* functions, which give bit-identical results to the unpacked
 * ones (which pack the weight into scratch memory on every call).
 * One packed weight serves every CPU level.
 */

/*
 * *numel = the floats of a packed weight[out_features, in_features]: the
 * weight's, with out_features rounded up to a multiple of 16.
 * Requires in_features >= 1, out_features >= 1.
 */
NF_API int32_t nf_linear_packed_numel(int64_t *numel, int64_t in_features, int64_t out_features);

/*
 * Packs weight[out_features, in_features] (PyTorch's layout) into packed,
 * nf_linear_packed_numel floats, which must not overlap weight. Pack again
 * after every change to the weight. Requires in_features >= 1,
 * out_features >= 1.
 */
NF_API int32_t nf_linear_pack_f32(float *packed, const float *weight, int64_t in_features, int64_t out_features);

/*
 * nf_linear_fwd_f32 with the weight packed by nf_linear_pack_f32 for the
 * same in_features and out_features: the same result, bit for bit. y must not
 * overlap x, packed or bias.
 */
NF_API int32_t nf_linear_packed_fwd_f32(float *y, const float *x, const float *packed, const float *bias,
                                        int64_t rows, int64_t in_features, int64_t out_features);

/*
 * nf_linear_ln_relu_fwd_f32 with the weight packed by nf_linear_pack_f32 for
 * the same in_features and out_features: the same results, bit for bit.
 */
NF_API int32_t nf_linear_ln_relu_packed_fwd_f32(float *y, float *h, float *mean, float *rstd, const float *x,
                                                const float *packed, const float *bias, const float *gamma,
                                                const float *beta, int64_t rows, int64_t in_features,
                                                int64_t out_features, float eps, int32_t relu);

/* ---- CUDA backend ------------------------------------------------------- */

/*
 * Every nf_cuda_* function exists only in a library built with the CUDA
 * backend (nf_cuda_built() == 1), except nf_cuda_device_count and
 * nf_cuda_emulated, which every build has.
 *
 * Device memory comes from nf_cuda_malloc on one device; the ops take device
 * pointers only (host pointers where a name says so), and the device index
 * last. Each device has one stream, created at its first use, on which
 * nnfuse enqueues every op and copy in call order, so ops on one device never
 * race each other. Ops return once their work is enqueued: a fault inside a
 * kernel is reported by the next call that synchronizes (a copy to the host,
 * nf_cuda_synchronize, nf_cuda_l2_fwd_f32). CUDA errors return NF_ERR_CUDA
 * with a message naming the op and carrying CUDA's error string.
 *
 * A harness build (CMake NNFUSE_CUDA=HARNESS) compiles the same kernels for
 * the CPU and runs them with native/test/cudaharness; device memory is then
 * host memory, and nf_cuda_emulated() returns 1.
 */

/* 1 when the CUDA kernels run on the CPU harness instead of a GPU, else 0. */
NF_API int32_t nf_cuda_emulated(void);

/* *count = the CUDA devices usable; 0, with NF_ERR_CUDA and the reason in
 * nf_last_error(), when the driver is missing or finds none; 0 with NF_OK
 * when the library was built without CUDA. */
NF_API int32_t nf_cuda_device_count(int32_t *count);

/* The device's name, NUL-terminated and cut to capacity bytes. */
NF_API int32_t nf_cuda_device_name(char *name, int64_t capacity, int32_t device);

/* *ptr = bytes (>= 1) of device memory, 256-byte aligned, ordered on the device's stream. */
NF_API int32_t nf_cuda_malloc(void **ptr, int64_t bytes, int32_t device);

/* Frees memory from nf_cuda_malloc once the work enqueued before it is done; NULL is a no-op. */
NF_API int32_t nf_cuda_free(void *ptr, int32_t device);

/* Copies bytes from host src to device dst; returns when the host buffer may be reused. */
NF_API int32_t nf_cuda_memcpy_h2d(void *dst, const void *src, int64_t bytes, int32_t device);

/* Copies bytes from device src to host dst after the work enqueued before it; synchronizes. */
NF_API int32_t nf_cuda_memcpy_d2h(void *dst, const void *src, int64_t bytes, int32_t device);

/* Copies bytes between device buffers, in stream order. */
NF_API int32_t nf_cuda_memcpy_d2d(void *dst, const void *src, int64_t bytes, int32_t device);

/* Sets bytes of device memory to zero, in stream order. */
NF_API int32_t nf_cuda_memset_zero(void *dst, int64_t bytes, int32_t device);

/* Waits for the work enqueued on the device's stream; reports a kernel fault. */
NF_API int32_t nf_cuda_synchronize(int32_t device);

/*
 * The ops, nf_cuda_<op>_<fwd|bwd>_f32, are declared in each op's section
 * above: each is its CPU namesake with the same arguments, semantics, checks
 * and messages, on device pointers of device (the last argument).
 * Dropout masks are bit-identical to the CPU backend's for the same seed and
 * offset. Reductions run in a fixed order, so results do not depend on the
 * launch configuration or on timing, run after run.
 */


#ifdef __cplusplus
}
#endif

#endif
