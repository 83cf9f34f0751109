/*
 * One element of torch.optim.SGD's step (its documented algorithm and
 * _single_tensor_sgd), shared by the CPU kernel and the CUDA kernel so that
 * both round the same operations in the same order.
 */
#ifndef NF_COMMON_SGD_H
#define NF_COMMON_SGD_H

#include <stddef.h>
#include <stdint.h>

#include "host_device.h"

typedef struct {
    float lr, momentum, dampening, weight_decay;
    int nesterov, first_step;
} nf_sgd_params;

/*
 * The new value of one parameter; its momentum buffer element *buf (NULL when
 * momentum is 0) is updated too. Each operation is one float rounding, in
 * PyTorch's order: grad.add(param, alpha=weight_decay),
 * buf.mul_(momentum).add_(g, alpha=1 - dampening), g.add(buf, alpha=momentum),
 * param.add_(g, alpha=-lr). keep = 1 - dampening is one rounding of the exact
 * value, as PyTorch's double alpha converted to float is. PyTorch's vectorized
 * CPU add fuses alpha * b + a into an FMA, so it may differ from this in the
 * last bit; the builds keep contraction off (nvcc --fmad=false).
 */
static inline NF_HOST_DEVICE float nf_sgd_update(float param, float *buf, float grad, nf_sgd_params s,
                                                 float keep) {
    float g = grad;
    /* PyTorch skips weight decay and momentum when they are 0, so 0 * inf never makes a NaN. */
    if (s.weight_decay != 0.0f) g = g + s.weight_decay * param;
    if (buf != NULL) {
        const float b = s.first_step ? g : s.momentum * *buf + keep * g;
        *buf = b;
        g = s.nesterov ? g + s.momentum * b : b;
    }
    return param - s.lr * g;
}

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The argument checks of nf_sgd_step_f32, in its order and with its messages
 * under the name op, for every backend's step (the pointers are only compared).
 */
int32_t nf_sgd_check(const char *op, const float *param, const float *momentum_buffer, const float *grad,
                     int64_t n, nf_sgd_params s);

#ifdef __cplusplus
}
#endif

#endif
