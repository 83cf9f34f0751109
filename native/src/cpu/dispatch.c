/*
 * The SIMD level of the CPU kernels: the widest this CPU supports, unless the
 * environment variable NNFUSE_CPU_LEVEL or nf_set_cpu_level names one. A level
 * the CPU lacks is an error, never a silent fallback to a slower one, so that
 * a forced level is the level that ran (as PyTorch's ATEN_CPU_CAPABILITY
 * forces one of its kernels' levels).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dispatch.h"

#include "../common/error.h"

static const char *const LEVEL_NAMES[NF_CPU_LEVELS] = {"scalar", "avx2", "avx512"};

/* The CPU features each level's code uses. */
static int cpu_has_level(int level) {
    if (level == NF_CPU_LEVEL_SCALAR) return 1;
#if NF_HAVE_X86_LEVELS
    __builtin_cpu_init();
    if (level == NF_CPU_LEVEL_AVX2) return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (level == NF_CPU_LEVEL_AVX512)
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx2") &&
               __builtin_cpu_supports("fma");
#endif
    return 0;
}

static const char *const LEVEL_FEATURES[NF_CPU_LEVELS] = {"", "avx2 and fma", "avx512f"};

/* The level from the environment (or detected), resolved once; failure holds why it could not be. */
static struct {
    pthread_once_t once;
    int level;
    const char *reason;
    char failure[200];
} from_environment = {PTHREAD_ONCE_INIT, -1, "", ""};

/* The level nf_set_cpu_level chose, or -1 before any call. */
static atomic_int set_level = -1;

static void resolve_environment(void) {
    const char *env = getenv("NNFUSE_CPU_LEVEL");
    if (env == NULL || env[0] == '\0') {
        int level = NF_CPU_LEVELS - 1;
        while (!cpu_has_level(level)) level--;
        from_environment.level = level;
        from_environment.reason = "detected: the widest level this CPU supports";
        return;
    }
    for (int level = 0; level < NF_CPU_LEVELS; level++) {
        if (strcmp(env, LEVEL_NAMES[level]) != 0) continue;
        if (cpu_has_level(level)) {
            from_environment.level = level;
            from_environment.reason = "forced by NNFUSE_CPU_LEVEL";
        } else {
            snprintf(from_environment.failure, sizeof from_environment.failure,
                     "NNFUSE_CPU_LEVEL=%s, but this CPU lacks %s", env, LEVEL_FEATURES[level]);
        }
        return;
    }
    snprintf(from_environment.failure, sizeof from_environment.failure,
             "NNFUSE_CPU_LEVEL=%.64s is not a level; expected scalar, avx2 or avx512", env);
}

/* The level in use, or -1 when the environment's request cannot be met (then failure says why). */
static int current_level(void) {
    const int set = atomic_load_explicit(&set_level, memory_order_acquire);
    if (set >= 0) return set;
    pthread_once(&from_environment.once, resolve_environment);
    return from_environment.level;
}

int32_t nf_cpu_level_for(const char *op, int *level) {
    *level = current_level();
    if (*level < 0) return nf_fail(NF_ERR_UNSUPPORTED, "%s: %s", op, from_environment.failure);
    return NF_OK;
}

NF_API int32_t nf_cpu_level(void) {
    int level;
    nf_cpu_level_for("nf_cpu_level", &level);
    return level;
}

NF_API const char *nf_cpu_level_name(int32_t level) {
    return level >= 0 && level < NF_CPU_LEVELS ? LEVEL_NAMES[level] : "";
}

NF_API const char *nf_cpu_level_reason(void) {
    if (atomic_load_explicit(&set_level, memory_order_acquire) >= 0) return "set by nf_set_cpu_level";
    pthread_once(&from_environment.once, resolve_environment);
    return from_environment.level >= 0 ? from_environment.reason : from_environment.failure;
}

NF_API int32_t nf_cpu_level_supported(int32_t level) {
    return level >= 0 && level < NF_CPU_LEVELS && cpu_has_level(level);
}

NF_API int32_t nf_set_cpu_level(int32_t level) {
    if (level < 0 || level >= NF_CPU_LEVELS)
        return nf_fail(NF_ERR_INVALID_ARGUMENT,
                       "nf_set_cpu_level: level must be 0 (scalar), 1 (avx2) or 2 (avx512), got %d", level);
    if (!cpu_has_level(level))
        return nf_fail(NF_ERR_UNSUPPORTED, "nf_set_cpu_level: %s requested, but this CPU lacks %s", LEVEL_NAMES[level],
                       LEVEL_FEATURES[level]);
    atomic_store_explicit(&set_level, level, memory_order_release);
    return NF_OK;
}
