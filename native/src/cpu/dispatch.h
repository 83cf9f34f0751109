/*
 * The SIMD level the CPU kernels run at (nf_cpu_level in nnfuse.h): chosen
 * once from CPUID, or forced by NNFUSE_CPU_LEVEL or nf_set_cpu_level.
 * Internal: hidden, not part of the ABI.
 *
 * A family with per-level code keeps one function per level in a table
 * indexed by the level, compiles the faster ones for their instruction sets
 * with the target attributes below (so one file holds every level of a
 * family, and the baseline build flags stay those of the whole library), and
 * reads the level once per call with nf_cpu_level_for, so that every thread of
 * a call runs the same level.
 */
#ifndef NF_CPU_DISPATCH_H
#define NF_CPU_DISPATCH_H

#include <stdint.h>

#include "nnfuse.h"

/* The number of levels: NF_CPU_LEVEL_SCALAR .. NF_CPU_LEVEL_AVX512. */
#define NF_CPU_LEVELS 3

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
/* The instruction sets of the levels above scalar; their code is compiled only for x86-64. */
#define NF_HAVE_X86_LEVELS 1
#define NF_TARGET_AVX2 __attribute__((target("avx2,fma")))
#define NF_TARGET_AVX512 __attribute__((target("avx512f,avx2,fma")))
#else
#define NF_HAVE_X86_LEVELS 0
#endif

/*
 * The level to run op at: NF_OK and *level, or, when NNFUSE_CPU_LEVEL names
 * no level or one this CPU lacks (and nf_set_cpu_level has not overridden it),
 * NF_ERR_UNSUPPORTED with a message that names op and says why.
 */
int32_t nf_cpu_level_for(const char *op, int *level);

#endif
