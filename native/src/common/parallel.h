/*
 * The library-wide thread count. OpenMP's omp_set_num_threads only affects the
 * calling thread, but Java calls in from many threads, so every parallel
 * region names the count explicitly: `NF_PARALLEL_IF(work >= NF_PARALLEL_MIN_WORK, nf_threads(), ...)`.
 * Kernels split work so that results never depend on this number.
 */
#ifndef NF_COMMON_PARALLEL_H
#define NF_COMMON_PARALLEL_H

#include <stdint.h>

/* Current thread count (>= 1): NNFUSE_NUM_THREADS, else the cores available. */
int nf_threads(void);

/* Below this many elements of work a kernel runs on the calling thread. */
#define NF_PARALLEL_MIN_WORK ((int64_t)1 << 15)

/*
 * Runs the statements given after `threads` in a parallel region of `threads`
 * threads when cond holds, and otherwise on the calling thread without
 * entering the OpenMP runtime: libgomp's `#pragma omp parallel if (0)` still
 * builds a team of one, about half a microsecond per call, more than the
 * arithmetic of a small op (a layer of the worksheet's model at batch 4).
 * Orphaned `omp for` loops in the statements share their iterations among
 * the team, or run them all on the calling thread.
 */
#define NF_PARALLEL_IF(cond, threads, ...)                                                                   \
    do {                                                                                                      \
        if (cond) {                                                                                           \
            const int nf_team_threads_ = (threads);                                                           \
            _Pragma("omp parallel num_threads(nf_team_threads_)") { __VA_ARGS__ }                             \
        } else {                                                                                              \
            __VA_ARGS__                                                                                       \
        }                                                                                                     \
    } while (0)

#endif
