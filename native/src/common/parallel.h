/*
 * The library-wide thread count. OpenMP's omp_set_num_threads only affects the
 * calling thread, but Java calls in from many threads, so every parallel
 * region names the count explicitly: `#pragma omp parallel for num_threads(nf_threads())`.
 * Kernels split work so that results never depend on this number.
 */
#ifndef NF_COMMON_PARALLEL_H
#define NF_COMMON_PARALLEL_H

#include <stdint.h>

/* Current thread count (>= 1): NNFUSE_NUM_THREADS, else the cores available. */
int nf_threads(void);

/* Below this many elements of work a kernel runs on the calling thread. */
#define NF_PARALLEL_MIN_WORK ((int64_t)1 << 15)

#endif
