/*
 * One step of stochastic gradient descent with PyTorch's torch.optim.SGD
 * semantics (its documented algorithm and _single_tensor_sgd): weight decay,
 * momentum with dampening, and Nesterov momentum (Sutskever et al., 2013, in
 * PyTorch's formulation, which scales the velocity by lr at the update).
 */
#include <math.h>
#include <stddef.h>

#include "../common/error.h"
#include "../common/sgd.h"
#include "../common/parallel.h"

/* NF_OK when value is finite and >= 0; else records PyTorch's "Invalid <what> value" message. */
static int32_t check_hyperparameter(const char *op, const char *name, const char *what, float value) {
    if (!(value >= 0.0f) || isinf(value))
        return nf_fail(NF_ERR_INVALID_ARGUMENT, "%s: Invalid %s: %g (%s must be finite and >= 0)", op, what,
                       (double)value, name);
    return NF_OK;
}

static int32_t check_flag(const char *op, const char *name, int32_t value) {
    if (value != 0 && value != 1)
        return nf_fail(NF_ERR_INVALID_ARGUMENT, "%s: %s must be 0 or 1, got %d", op, name, value);
    return NF_OK;
}

static int32_t check_params(const char *op, nf_sgd_params s) {
    int32_t status = check_hyperparameter(op, "lr", "learning rate", s.lr);
    if (status == NF_OK) status = check_hyperparameter(op, "momentum", "momentum value", s.momentum);
    if (status == NF_OK) status = check_hyperparameter(op, "weight_decay", "weight_decay value", s.weight_decay);
    if (status == NF_OK && !isfinite(s.dampening))
        status = nf_fail(NF_ERR_INVALID_ARGUMENT, "%s: dampening must be finite, got %g", op, (double)s.dampening);
    if (status == NF_OK) status = check_flag(op, "nesterov", s.nesterov);
    if (status == NF_OK) status = check_flag(op, "first_step", s.first_step);
    /* PyTorch's rule and message (torch.optim.SGD.__init__). */
    if (status == NF_OK && s.nesterov && (s.momentum <= 0.0f || s.dampening != 0.0f))
        status = nf_fail(NF_ERR_INVALID_ARGUMENT,
                         "%s: Nesterov momentum requires a momentum and zero dampening, got momentum %g and "
                         "dampening %g", op, (double)s.momentum, (double)s.dampening);
    return status;
}

int32_t nf_sgd_check(const char *op, const float *param, const float *momentum_buffer, const float *grad,
                     int64_t n, nf_sgd_params s) {
    NF_CHECK_PTR(op, param);
    NF_CHECK_PTR(op, grad);
    NF_CHECK_POSITIVE(op, n);
    const int32_t status = check_params(op, s);
    if (status != NF_OK) return status;
    if (s.momentum != 0.0f && momentum_buffer == NULL)
        return nf_fail(NF_ERR_INVALID_ARGUMENT, "%s: momentum_buffer is NULL but momentum is %g", op,
                       (double)s.momentum);
    NF_CHECK_DISJOINT(op, param, n, momentum_buffer, n);
    NF_CHECK_DISJOINT(op, param, n, grad, n);
    NF_CHECK_DISJOINT(op, momentum_buffer, n, grad, n);
    return NF_OK;
}

/* Elements per parallel chunk: a multiple of any vector width. */
#define SGD_CHUNK ((int64_t)1 << 14)

/*
 * nf_sgd_update over one span, its cases in separate loops: with the
 * arguments' disjointness (checked) stated by restrict and no branch left in
 * the loop, the compiler vectorizes each; the operations, and so the bits,
 * are nf_sgd_update's.
 */
static void sgd_span(float *restrict param, float *restrict buf, const float *restrict grad, int64_t n,
                     nf_sgd_params s, float keep) {
    if (buf == NULL && s.weight_decay == 0.0f) {
        for (int64_t i = 0; i < n; i++) param[i] = param[i] - s.lr * grad[i];
    } else if (buf == NULL) {
        for (int64_t i = 0; i < n; i++) param[i] = param[i] - s.lr * (grad[i] + s.weight_decay * param[i]);
    } else {
        for (int64_t i = 0; i < n; i++) param[i] = nf_sgd_update(param[i], buf + i, grad[i], s, keep);
    }
}

NF_API int32_t nf_sgd_step_f32(float *param, float *momentum_buffer, const float *grad, int64_t n, float lr,
                               float momentum, float dampening, float weight_decay, int32_t nesterov,
                               int32_t first_step) {
    const nf_sgd_params s = {lr, momentum, dampening, weight_decay, nesterov, first_step};
    const int32_t status = nf_sgd_check("nf_sgd_step_f32", param, momentum_buffer, grad, n, s);
    if (status != NF_OK) return status;

    /* Each element reads only its own param, buffer and grad: any split of the work gives the same bits. */
    float *buf = momentum != 0.0f ? momentum_buffer : NULL;
    const float keep = 1.0f - dampening;
    const int64_t chunks = (n + SGD_CHUNK - 1) / SGD_CHUNK;
    NF_PARALLEL_IF(n >= NF_PARALLEL_MIN_WORK, nf_threads(),
        _Pragma("omp for schedule(static)")
        for (int64_t c = 0; c < chunks; c++) {
            const int64_t begin = c * SGD_CHUNK;
            const int64_t len = n - begin < SGD_CHUNK ? n - begin : SGD_CHUNK;
            sgd_span(param + begin, buf == NULL ? NULL : buf + begin, grad + begin, len, s, keep);
        }
    );
    return NF_OK;
}
