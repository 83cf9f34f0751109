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
 * shift). y may be x. Requires n >= 2 (one sample has no variance), c >= 1,
 * eps finite and >= 0, momentum in [0, 1]. Column statistics are accumulated
 * in double; the result does not depend on the thread count.
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
 * y may be x. Requires n >= 1, c >= 1, eps finite and >= 0; running_var is not
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
