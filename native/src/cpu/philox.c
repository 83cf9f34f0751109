#include "../common/philox.h"

#include <stddef.h>

#include "../common/error.h"

/* One Philox4x32-10 block (Random123 philox4x32_R with R = 10). */
NF_API int32_t nf_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]) {
    NF_CHECK_PTR("nf_philox4x32_10", ctr);
    NF_CHECK_PTR("nf_philox4x32_10", key);
    NF_CHECK_PTR("nf_philox4x32_10", out);
    nf_philox4x32_10_block(ctr, key, out);
    return NF_OK;
}
