/*
 * NF_HOST_DEVICE marks inline helpers shared by the C kernels and the CUDA
 * kernels: nvcc compiles them for both sides, a C compiler sees plain inline
 * functions.
 */
#ifndef NF_COMMON_HOST_DEVICE_H
#define NF_COMMON_HOST_DEVICE_H

#ifdef __CUDACC__
#define NF_HOST_DEVICE __host__ __device__
#else
#define NF_HOST_DEVICE
#endif

#endif
