/*
 * Devices, streams and memory for the CUDA backend: one stream per device,
 * created at first use and shared by every op on that device, so the ops of
 * one device run in call order and memory allocated on the stream
 * (cudaMallocAsync, stream-ordered since CUDA 11.2) is ready for the next op
 * without a device-wide synchronization.
 */
#include <mutex>
#include <stdio.h>
#include <string.h>

#include "common.cuh"

namespace {

constexpr int kMaxDevices = 64;

std::mutex streams_lock;
cudaStream_t streams[kMaxDevices];
int multiprocessors[kMaxDevices];

int32_t device_count(const char *op, int32_t *count) {
    int n = 0;
    cudaError_t error = cudaGetDeviceCount(&n);
    if (error != cudaSuccess) {
        cudaGetLastError();  // a missing driver is not a sticky error of a later call
        *count = 0;
        return nf_cuda_status(op, "cudaGetDeviceCount", error);
    }
    *count = n < kMaxDevices ? n : kMaxDevices;
    return NF_OK;
}

}  // namespace

int32_t nf_cuda_status(const char *op, const char *what, cudaError_t error) {
    if (error == cudaSuccess) return NF_OK;
    return nf_fail(NF_ERR_CUDA, "%s: %s: %s: %s", op, what, cudaGetErrorName(error), cudaGetErrorString(error));
}

int32_t nf_cuda_enter(const char *op, int32_t device, cudaStream_t *stream) {
    int32_t count = 0;
    int32_t status = device_count(op, &count);
    if (status != NF_OK) return status;
    if (device < 0 || device >= count) {
        return nf_fail(NF_ERR_INVALID_ARGUMENT, "%s: device %d does not exist (%d CUDA devices)", op, (int)device,
                       (int)count);
    }
    cudaError_t error = cudaSetDevice(device);
    if (error != cudaSuccess) return nf_cuda_status(op, "cudaSetDevice", error);
    std::lock_guard<std::mutex> guard(streams_lock);
    if (streams[device] == nullptr) {
        error = cudaStreamCreateWithFlags(&streams[device], cudaStreamNonBlocking);
        if (error != cudaSuccess) return nf_cuda_status(op, "cudaStreamCreateWithFlags", error);
        error = cudaDeviceGetAttribute(&multiprocessors[device], cudaDevAttrMultiProcessorCount, device);
        if (error != cudaSuccess) return nf_cuda_status(op, "cudaDeviceGetAttribute", error);
    }
    *stream = streams[device];
    return NF_OK;
}

int nf_cuda_multiprocessors(int32_t device) {
    std::lock_guard<std::mutex> guard(streams_lock);
    return multiprocessors[device];
}

NF_API int32_t nf_cuda_built(void) { return 1; }

NF_API int32_t nf_cuda_emulated(void) {
#ifdef NF_CUDA_HARNESS
    return 1;
#else
    return 0;
#endif
}

NF_API int32_t nf_cuda_device_count(int32_t *count) {
    static const char op[] = "nf_cuda_device_count";
    NF_CHECK_PTR(op, count);
    return device_count(op, count);
}

NF_API int32_t nf_cuda_device_name(char *name, int64_t capacity, int32_t device) {
    static const char op[] = "nf_cuda_device_name";
    NF_CHECK_PTR(op, name);
    NF_CHECK_POSITIVE(op, capacity);
    cudaStream_t stream = nullptr;
    NF_CUDA_ENTER(op, device, stream);
#ifdef NF_CUDA_HARNESS
    const char *text = nf_harness_device_name();
#else
    cudaDeviceProp properties;
    cudaError_t error = cudaGetDeviceProperties(&properties, device);
    if (error != cudaSuccess) return nf_cuda_status(op, "cudaGetDeviceProperties", error);
    const char *text = properties.name;
#endif
    snprintf(name, (size_t)capacity, "%s", text);
    return NF_OK;
}

NF_API int32_t nf_cuda_malloc(void **ptr, int64_t bytes, int32_t device) {
    static const char op[] = "nf_cuda_malloc";
    NF_CHECK_PTR(op, ptr);
    NF_CHECK_POSITIVE(op, bytes);
    *ptr = nullptr;
    cudaStream_t stream = nullptr;
    NF_CUDA_ENTER(op, device, stream);
    cudaError_t error = cudaMallocAsync(ptr, (size_t)bytes, stream);
    if (error == cudaErrorMemoryAllocation) {
        cudaGetLastError();
        return nf_fail(NF_ERR_OUT_OF_MEMORY, "%s: %lld bytes on device %d: %s", op, (long long)bytes, (int)device,
                       cudaGetErrorString(error));
    }
    return nf_cuda_status(op, "cudaMallocAsync", error);
}

NF_API int32_t nf_cuda_free(void *ptr, int32_t device) {
    static const char op[] = "nf_cuda_free";
    if (ptr == nullptr) return NF_OK;
    cudaStream_t stream = nullptr;
    NF_CUDA_ENTER(op, device, stream);
    return nf_cuda_status(op, "cudaFreeAsync", cudaFreeAsync(ptr, stream));
}

namespace {

/* One copy on the device's stream; to_host waits for it (and for everything before it). */
int32_t copy(const char *op, void *dst, const void *src, int64_t bytes, int32_t device, cudaMemcpyKind kind,
             bool wait) {
    NF_CHECK_PTR(op, dst);
    NF_CHECK_PTR(op, src);
    NF_CHECK_POSITIVE(op, bytes);
    cudaStream_t stream = nullptr;
    NF_CUDA_ENTER(op, device, stream);
    cudaError_t error = cudaMemcpyAsync(dst, src, (size_t)bytes, kind, stream);
    if (error != cudaSuccess) return nf_cuda_status(op, "cudaMemcpyAsync", error);
    return wait ? nf_cuda_status(op, "cudaStreamSynchronize", cudaStreamSynchronize(stream)) : NF_OK;
}

}  // namespace

/* A copy from pageable host memory must be complete before the caller may reuse the buffer, hence the wait. */
NF_API int32_t nf_cuda_memcpy_h2d(void *dst, const void *src, int64_t bytes, int32_t device) {
    return copy("nf_cuda_memcpy_h2d", dst, src, bytes, device, cudaMemcpyHostToDevice, true);
}

NF_API int32_t nf_cuda_memcpy_d2h(void *dst, const void *src, int64_t bytes, int32_t device) {
    return copy("nf_cuda_memcpy_d2h", dst, src, bytes, device, cudaMemcpyDeviceToHost, true);
}

NF_API int32_t nf_cuda_memcpy_d2d(void *dst, const void *src, int64_t bytes, int32_t device) {
    return copy("nf_cuda_memcpy_d2d", dst, src, bytes, device, cudaMemcpyDeviceToDevice, false);
}

NF_API int32_t nf_cuda_memset_zero(void *dst, int64_t bytes, int32_t device) {
    static const char op[] = "nf_cuda_memset_zero";
    NF_CHECK_PTR(op, dst);
    NF_CHECK_POSITIVE(op, bytes);
    cudaStream_t stream = nullptr;
    NF_CUDA_ENTER(op, device, stream);
    return nf_cuda_status(op, "cudaMemsetAsync", cudaMemsetAsync(dst, 0, (size_t)bytes, stream));
}

NF_API int32_t nf_cuda_synchronize(int32_t device) {
    static const char op[] = "nf_cuda_synchronize";
    cudaStream_t stream = nullptr;
    NF_CUDA_ENTER(op, device, stream);
    return nf_cuda_status(op, "cudaStreamSynchronize", cudaStreamSynchronize(stream));
}
