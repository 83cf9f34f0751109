#include "error.h"

#include <stdarg.h>
#include <stdio.h>

enum { NF_ERROR_CAPACITY = 512 };

static _Thread_local char nf_error_message[NF_ERROR_CAPACITY];

int32_t nf_fail(int32_t status, const char *fmt, ...) {
    va_list args;
    va_start(args, fmt);
    vsnprintf(nf_error_message, sizeof nf_error_message, fmt, args);
    va_end(args);
    return status;
}

static int spans_overlap(nf_span a, nf_span b) {
    return a.p != NULL && b.p != NULL && (uintptr_t)a.p < (uintptr_t)b.p + (uintptr_t)b.bytes &&
           (uintptr_t)b.p < (uintptr_t)a.p + (uintptr_t)a.bytes;
}

int32_t nf_check_disjoint(const char *op, const nf_span *outputs, int n_outputs, const nf_span *inputs,
                          int n_inputs) {
    for (int i = 0; i < n_outputs; i++) {
        for (int j = i + 1; j < n_outputs; j++)
            if (spans_overlap(outputs[i], outputs[j]))
                return nf_fail(NF_ERR_INVALID_ARGUMENT, "%s: %s overlaps %s", op, outputs[i].name,
                               outputs[j].name);
        for (int j = 0; j < n_inputs; j++)
            if (spans_overlap(outputs[i], inputs[j]))
                return nf_fail(NF_ERR_INVALID_ARGUMENT, "%s: %s overlaps %s", op, outputs[i].name,
                               inputs[j].name);
    }
    return NF_OK;
}

NF_API const char *nf_last_error(void) { return nf_error_message; }
