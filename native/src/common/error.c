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

NF_API const char *nf_last_error(void) { return nf_error_message; }
