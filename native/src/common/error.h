/*
 * Status codes plus a thread-local message (the libgit2 error model).
 * Kernels report failures with `return nf_fail(NF_ERR_..., "fmt", ...);`.
 */
#ifndef NF_COMMON_ERROR_H
#define NF_COMMON_ERROR_H

#include <stdint.h>

#include "nnfuse.h"

#ifdef __cplusplus
extern "C" {
#endif

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

/* Fails unless flag is 0 or 1 (a C boolean argument of the ABI). */
#define NF_CHECK_FLAG(op, flag)                                                \
    do {                                                                       \
        if ((flag) != 0 && (flag) != 1)                                        \
            return nf_fail(NF_ERR_INVALID_ARGUMENT, "%s: %s must be 0 or 1, got %d", \
                           (op), #flag, (int)(flag));                          \
    } while (0)

/* An array for nf_check_disjoint: its name, address and size in bytes; p NULL is an absent array. */
typedef struct {
    const char *name;
    const void *p;
    int64_t bytes;
} nf_span;

/* The n-element array p, named as written. */
#ifdef __cplusplus
#define NF_SPAN(p, n) (nf_span{#p, (p), (int64_t)(n) * (int64_t)sizeof *(p)})
#else
#define NF_SPAN(p, n) ((nf_span){#p, (p), (int64_t)(n) * (int64_t)sizeof *(p)})
#endif

/*
 * NF_CHECK_DISJOINT for kernels with many arrays: fails unless every output
 * is disjoint from every other output and from every input, reporting the
 * first overlapping pair as "op: output overlaps other".
 */
int32_t nf_check_disjoint(const char *op, const nf_span *outputs, int n_outputs, const nf_span *inputs,
                          int n_inputs);

#ifdef __cplusplus
}
#endif

#endif
