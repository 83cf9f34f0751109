/*
 * What every CUDA kernel file shares: the CUDA headers (or the CPU harness's,
 * in a harness build), the one launch macro, and the host-side helpers that
 * pick the device and its stream and turn CUDA errors into nnfuse statuses.
 */
#ifndef NF_CUDA_COMMON_CUH
#define NF_CUDA_COMMON_CUH

#include <stdint.h>

#include "nnfuse.h"
#include "../common/error.h"

#ifdef NF_CUDA_HARNESS
#include "nf_harness.h"
#else
#include <cuda_runtime.h>
#endif

/*
 * NF_LAUNCH(kernel, grid, block, shared_bytes, stream, args...) launches a
 * kernel and evaluates to the launch's cudaError_t. nvcc sees the <<<...>>>
 * syntax; the harness gets a call that runs every thread of the grid on the
 * CPU before it returns.
 */
#ifdef NF_CUDA_HARNESS
#define NF_LAUNCH(kernel, grid, block, shared_bytes, stream, ...)                                       \
    (nf_harness_launch((grid), (block), (shared_bytes), #kernel, [=] { kernel(__VA_ARGS__); }),       \
     cudaGetLastError())
#define NF_DYNAMIC_SHARED(type, name) type *name = static_cast<type *>(nf_harness_dynamic_shared())
#else
#define NF_LAUNCH(kernel, grid, block, shared_bytes, stream, ...)                                       \
    (kernel<<<(grid), (block), (shared_bytes), (stream)>>>(__VA_ARGS__), cudaGetLastError())
#define NF_DYNAMIC_SHARED(type, name)                                                                  \
    extern __shared__ __align__(16) unsigned char nf_dynamic_shared_[];                               \
    type *name = reinterpret_cast<type *>(nf_dynamic_shared_)
#endif

/* Full-warp mask for the *_sync intrinsics: nnfuse launches only whole warps. */
#define NF_FULL_WARP 0xffffffffu

/*
 * Makes device current on the calling thread and gives its stream (created
 * at first use). Fails with NF_ERR_INVALID_ARGUMENT for a device index that
 * does not exist and NF_ERR_CUDA when CUDA does.
 */
int32_t nf_cuda_enter(const char *op, int32_t device, cudaStream_t *stream);

/* NF_OK for cudaSuccess; otherwise NF_ERR_CUDA with "op: what: <CUDA's name>: <CUDA's message>". */
int32_t nf_cuda_status(const char *op, const char *what, cudaError_t error);

/* The device's multiprocessor count (for grid sizes that fill it; never for a reduction's shape). */
int nf_cuda_multiprocessors(int32_t device);

/* Blocks of threads_per_block needed to give every one of n items a thread, capped at max_blocks. */
static inline unsigned int nf_cuda_blocks(int64_t n, int threads_per_block, int64_t max_blocks) {
    int64_t blocks = (n + threads_per_block - 1) / threads_per_block;
    return (unsigned int)(blocks < max_blocks ? blocks : max_blocks);
}

/* Whether p is 16-byte aligned, so that float4 loads and stores may use it. */
static inline bool nf_aligned16(const void *p) { return (reinterpret_cast<uintptr_t>(p) & 15) == 0; }

/* Opens an op's body: the device and its stream, or return the failure. */
#define NF_CUDA_ENTER(op, device, stream)                                                              \
    do {                                                                                               \
        int32_t nf_enter_status_ = nf_cuda_enter((op), (device), &(stream));                          \
        if (nf_enter_status_ != NF_OK) return nf_enter_status_;                                        \
    } while (0)

/* Launches and returns the op's status: NF_OK, or NF_ERR_CUDA naming the kernel. */
#define NF_CUDA_LAUNCH_OR_FAIL(op, kernel, grid, block, shared_bytes, stream, ...)                    \
    do {                                                                                               \
        cudaError_t nf_launch_error_ = NF_LAUNCH(kernel, grid, block, shared_bytes, stream, __VA_ARGS__); \
        if (nf_launch_error_ != cudaSuccess) return nf_cuda_status((op), #kernel, nf_launch_error_);   \
    } while (0)

#endif
