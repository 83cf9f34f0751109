/* Facts about the library and the machine, and the thread count. */
#include <stdatomic.h>
#include <stdlib.h>

#include "error.h"
#include "parallel.h"

#ifdef _OPENMP
#include <omp.h>
#endif

#ifndef NF_VERSION_STRING
#error "NF_VERSION_STRING must be defined by the build"
#endif

NF_API const char *nf_version(void) { return NF_VERSION_STRING; }

NF_API int32_t nf_cpu_features(void) {
    int32_t bits = 0;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("sse4.2")) bits |= NF_CPU_SSE42;
    if (__builtin_cpu_supports("avx")) bits |= NF_CPU_AVX;
    if (__builtin_cpu_supports("avx2")) bits |= NF_CPU_AVX2;
    if (__builtin_cpu_supports("fma")) bits |= NF_CPU_FMA;
    if (__builtin_cpu_supports("avx512f")) bits |= NF_CPU_AVX512F;
#endif
    return bits;
}

static atomic_int nf_thread_count; /* 0 until first use */

static int nf_default_threads(void) {
    const char *env = getenv("NNFUSE_NUM_THREADS");
    if (env != NULL) {
        int n = atoi(env);
        if (n >= 1) return n;
    }
#ifdef _OPENMP
    return omp_get_num_procs();
#else
    return 1;
#endif
}

int nf_threads(void) {
    int n = atomic_load_explicit(&nf_thread_count, memory_order_relaxed);
    if (n == 0) {
        int expected = 0;
        n = nf_default_threads();
        if (!atomic_compare_exchange_strong(&nf_thread_count, &expected, n)) n = expected;
    }
    return n;
}

NF_API int32_t nf_get_num_threads(void) { return nf_threads(); }

NF_API int32_t nf_set_num_threads(int32_t n) {
    if (n < 1)
        return nf_fail(NF_ERR_INVALID_ARGUMENT,
                       "nf_set_num_threads: n must be >= 1, got %d", n);
#ifndef _OPENMP
    if (n != 1)
        return nf_fail(NF_ERR_UNSUPPORTED,
                       "nf_set_num_threads: built without OpenMP, only 1 thread");
#endif
    atomic_store(&nf_thread_count, n);
    return NF_OK;
}

NF_API int32_t nf_noop(void) { return NF_OK; }
