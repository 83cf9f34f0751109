/*
 * Status codes plus a thread-local message (the libgit2 error model).
 * Kernels report failures with `return nf_fail(NF_ERR_..., "fmt", ...);`.
 */
#ifndef NF_COMMON_ERROR_H
#define NF_COMMON_ERROR_H

#include <math.h>
#include <stdint.h>

#include "nnfuse.h"

/* Records a printf-style message for nf_last_error() and returns status. */
int32_t nf_fail(int32_t status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define NF_CHECK_PTR(op, p)                                                    \
    do {                                                                       \
        if ((p) == NULL)                                                       \
            return nf_fail(NF_ERR_INVALID_ARGUMENT, "%s: %s is NULL", (op), #p); \
    } while (0)

#define NF_CHECK_POSITIVE(op, n)                                               \
    do {                                                                       \
        if ((n) < 1)                                                           \
            return nf_fail(NF_ERR_INVALID_ARGUMENT, "%s: %s must be >= 1, got %lld", \
                           (op), #n, (long long)(n));                          \
    } while (0)

#define NF_CHECK_FINITE_NON_NEGATIVE(op, v)                                    \
    do {                                                                       \
        if (!((v) >= 0) || isinf(v))                                           \
            return nf_fail(NF_ERR_INVALID_ARGUMENT, "%s: %s must be finite and >= 0, got %g", \
                           (op), #v, (double)(v));                             \
    } while (0)

#endif
