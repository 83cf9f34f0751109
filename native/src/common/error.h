/*
 * Status codes plus a thread-local message (the libgit2 error model).
 * Kernels report failures with `return nf_fail(NF_ERR_..., "fmt", ...);`.
 */
#ifndef NF_COMMON_ERROR_H
#define NF_COMMON_ERROR_H

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

/*
 * Whether the n-element array p and the m-element array q share memory.
 * NULL (an absent optional array) overlaps nothing.
 */
#define NF_OVERLAPS(p, n, q, m)                                                \
    ((p) != NULL && (q) != NULL &&                                             \
     (uintptr_t)(p) < (uintptr_t)((q) + (m)) &&                                \
     (uintptr_t)(q) < (uintptr_t)((p) + (n)))

/*
 * Fails unless the n-element output p and the m-element array q are disjoint:
 * a kernel reads its inputs while writing, so an overlap would corrupt them.
 */
#define NF_CHECK_DISJOINT(op, p, n, q, m)                                      \
    do {                                                                       \
        if (NF_OVERLAPS(p, n, q, m))                                           \
            return nf_fail(NF_ERR_INVALID_ARGUMENT, "%s: %s overlaps %s", (op), #p, #q); \
    } while (0)

#endif
