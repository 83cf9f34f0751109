/*
 * A CPU execution harness for nnfuse's CUDA kernels: the subset of CUDA C++
 * that native/src/cuda uses, compiled by a host C++ compiler, so that every
 * kernel's indexing, reductions and synchronization run on machines without a
 * GPU (this one and CI).
 *
 * Execution model, chosen to expose the bugs a GPU would:
 *  - A launch runs its blocks one after another, in blockIdx order.
 *  - The threads of a block run concurrently as fibers on the calling OS
 *    thread, each on its own stack. A thread runs until it reaches a barrier
 *    (__syncthreads, __syncwarp, a shuffle) or returns; the barrier releases
 *    when every thread that must reach it has, so a value written before a
 *    barrier is seen after it and one written after it is not seen before.
 *  - Warp shuffles exchange values through a per-warp slot array between two
 *    warp barriers.
 *  - A barrier some thread can never reach (__syncthreads in divergent code,
 *    or after some threads returned), a shuffle mask that is not the whole
 *    warp, or an invalid launch configuration makes the launch fail with a
 *    CUDA error code and a message, as a GPU reports a faulting kernel.
 *  - Dynamic shared memory is filled with 0xFF bytes (a NaN pattern) at every
 *    launch, so reading what no thread wrote shows up in the results.
 *
 * Floating point matches the GPU's where the kernels depend on it: nnfuse
 * compiles CUDA with --fmad=false, so a*b+c is two roundings on both sides,
 * and fmaf() is the correctly rounded fused operation on both.
 *
 * Not supported, and not used by the kernels: atomics, cooperative groups,
 * textures, managed memory, clusters, more than one stream per device, and
 * warps that are not full (block sizes must be multiples of 32).
 */
#ifndef NF_HARNESS_H
#define NF_HARNESS_H

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>

/* ---- Language ------------------------------------------------------------ */

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline __attribute__((always_inline))
#define __noinline__ __attribute__((noinline))
#define __launch_bounds__(...)
#define __restrict__ __restrict
/* Static shared arrays: one per kernel per OS thread; blocks run one at a time on it. */
#define __shared__ static thread_local
#define __constant__ static

struct dim3 {
    unsigned int x, y, z;
    constexpr dim3(unsigned int vx = 1, unsigned int vy = 1, unsigned int vz = 1) : x(vx), y(vy), z(vz) {}
};
typedef dim3 uint3;

struct alignas(16) float4 {
    float x, y, z, w;
};
struct alignas(8) float2 {
    float x, y;
};
struct alignas(16) uint4 {
    unsigned int x, y, z, w;
};
static inline float4 make_float4(float x, float y, float z, float w) { return float4{x, y, z, w}; }
static inline float2 make_float2(float x, float y) { return float2{x, y}; }
static inline uint4 make_uint4(unsigned x, unsigned y, unsigned z, unsigned w) { return uint4{x, y, z, w}; }

/* The running fiber's indices and the launch's shape. */
struct nf_harness_thread_state {
    dim3 thread_idx;
};
extern thread_local nf_harness_thread_state *nf_harness_current;
extern thread_local dim3 nf_harness_block_idx;
extern thread_local dim3 nf_harness_block_dim;
extern thread_local dim3 nf_harness_grid_dim;
#define threadIdx (nf_harness_current->thread_idx)
#define blockIdx (nf_harness_block_idx)
#define blockDim (nf_harness_block_dim)
#define gridDim (nf_harness_grid_dim)
static constexpr int warpSize = 32;

/* ---- Synchronization ------------------------------------------------------ */

void __syncthreads();
void __syncwarp(unsigned int mask = 0xffffffffu);

/* Exchanges 8 bytes with the lane src_lane of the calling thread's warp. */
uint64_t nf_harness_shuffle(unsigned int mask, uint64_t bits, int src_lane);
int nf_harness_lane();

template <class T>
static inline T nf_harness_shfl(unsigned int mask, T value, int src_lane) {
    static_assert(sizeof(T) <= sizeof(uint64_t), "shuffles move at most 8 bytes");
    uint64_t bits = 0;
    std::memcpy(&bits, &value, sizeof(T));
    bits = nf_harness_shuffle(mask, bits, src_lane);
    T out;
    std::memcpy(&out, &bits, sizeof(T));
    return out;
}

/* CUDA's rule for width: lanes are split into groups of width; a source outside the group is the caller. */
template <class T>
static inline T __shfl_sync(unsigned int mask, T value, int src_lane, int width = warpSize) {
    int lane = nf_harness_lane();
    int base = lane & ~(width - 1);
    return nf_harness_shfl(mask, value, base + (src_lane & (width - 1)));
}
template <class T>
static inline T __shfl_xor_sync(unsigned int mask, T value, int lane_mask, int width = warpSize) {
    int lane = nf_harness_lane();
    int src = lane ^ lane_mask;
    if ((src & ~(width - 1)) != (lane & ~(width - 1))) src = lane;
    return nf_harness_shfl(mask, value, src);
}
template <class T>
static inline T __shfl_down_sync(unsigned int mask, T value, unsigned int delta, int width = warpSize) {
    int lane = nf_harness_lane();
    int src = lane + (int)delta;
    if ((src & ~(width - 1)) != (lane & ~(width - 1))) src = lane;
    return nf_harness_shfl(mask, value, src);
}
template <class T>
static inline T __shfl_up_sync(unsigned int mask, T value, unsigned int delta, int width = warpSize) {
    int lane = nf_harness_lane();
    int src = lane - (int)delta;
    if (src < (lane & ~(width - 1))) src = lane;
    return nf_harness_shfl(mask, value, src);
}

/* ---- Device functions the kernels use -------------------------------------- */

template <class T>
static inline T __ldg(const T *p) { return *p; }
static inline float __int_as_float(int v) { float f; std::memcpy(&f, &v, 4); return f; }
static inline int __float_as_int(float v) { int i; std::memcpy(&i, &v, 4); return i; }
static inline unsigned int __float_as_uint(float v) { unsigned int i; std::memcpy(&i, &v, 4); return i; }
static inline float __uint_as_float(unsigned int v) { float f; std::memcpy(&f, &v, 4); return f; }
static inline unsigned int __umulhi(unsigned int a, unsigned int b) {
    return (unsigned int)(((uint64_t)a * b) >> 32);
}
static inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }

/* ---- Launches -------------------------------------------------------------- */

/*
 * Runs body once per thread of a grid x block launch with shared_bytes of
 * dynamic shared memory; returns a cudaError_t value (0 on success) and
 * records it for cudaGetLastError.
 */
int nf_harness_launch(dim3 grid, dim3 block, size_t shared_bytes, const char *kernel,
                      const std::function<void()> &body);

/* The launch's dynamic shared memory (extern __shared__ in CUDA). */
void *nf_harness_dynamic_shared();

/* ---- The runtime API subset ------------------------------------------------ */

typedef int cudaError_t;
enum {
    cudaSuccess = 0,
    cudaErrorInvalidValue = 1,
    cudaErrorMemoryAllocation = 2,
    cudaErrorInvalidConfiguration = 9,
    cudaErrorInvalidDevice = 101,
    cudaErrorLaunchFailure = 719,
};
typedef struct nf_harness_stream *cudaStream_t;
enum cudaMemcpyKind {
    cudaMemcpyHostToDevice = 1,
    cudaMemcpyDeviceToHost = 2,
    cudaMemcpyDeviceToDevice = 3,
};
enum cudaDeviceAttr {
    cudaDevAttrMultiProcessorCount = 16,
    cudaDevAttrMaxSharedMemoryPerBlockOptin = 97,
};
#define cudaStreamNonBlocking 0x01

const char *cudaGetErrorString(cudaError_t error);
const char *cudaGetErrorName(cudaError_t error);
cudaError_t cudaGetLastError();
cudaError_t cudaPeekAtLastError();
cudaError_t cudaGetDeviceCount(int *count);
cudaError_t cudaSetDevice(int device);
cudaError_t cudaGetDevice(int *device);
cudaError_t cudaDeviceGetAttribute(int *value, cudaDeviceAttr attr, int device);
cudaError_t cudaStreamCreateWithFlags(cudaStream_t *stream, unsigned int flags);
cudaError_t cudaStreamSynchronize(cudaStream_t stream);
cudaError_t cudaMallocAsync(void **ptr, size_t bytes, cudaStream_t stream);
cudaError_t cudaFreeAsync(void *ptr, cudaStream_t stream);
cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind, cudaStream_t stream);
cudaError_t cudaMemsetAsync(void *dst, int value, size_t bytes, cudaStream_t stream);

/* The device's name as cudaDeviceProp::name would give it. */
const char *nf_harness_device_name();

#endif
