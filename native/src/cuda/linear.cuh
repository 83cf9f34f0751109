/*
 * Linear's backward products on the GPU, shared by linear.cu and the fused
 * linear_ln_relu.cu (as cpu/linear.h shares nf_linear_bwd_team_f32).
 */
#ifndef NF_CUDA_LINEAR_CUH
#define NF_CUDA_LINEAR_CUH

#include "common.cuh"

/*
 * Launches dx = dy weight, dweight = dy^T x and dbias = the column sums of dy
 * on stream, each output skipped when NULL, with nf_linear_bwd_f32's
 * semantics (accumulate for dweight and dbias). partial is scratch of
 * nf_column_partial_numel<nf_column_of>(rows, out_features) doubles (NULL
 * when that is 0 or dbias is NULL). The callers validated everything. Returns
 * NF_OK or op's NF_ERR_CUDA naming the kernel that failed to launch.
 */
int32_t nf_cuda_linear_bwd_launch(const char *op, float *dx, float *dweight, float *dbias, const float *dy,
                                  const float *x, const float *weight, int64_t rows, int64_t in_features,
                                  int64_t out_features, bool accumulate, double *partial, cudaStream_t stream);

#endif
