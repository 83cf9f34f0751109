/*
 * The CUDA entry points every build has, for a library built without the
 * CUDA backend (native/src/cuda/runtime.cu defines them otherwise): callers
 * learn that there is no CUDA device rather than failing to find a symbol.
 */
#include "error.h"

NF_API int32_t nf_cuda_built(void) { return 0; }

NF_API int32_t nf_cuda_emulated(void) { return 0; }

NF_API int32_t nf_cuda_device_count(int32_t *count) {
    NF_CHECK_PTR("nf_cuda_device_count", count);
    *count = 0;
    return NF_OK;
}
