/* fuzz_safetensors.c - libFuzzer target for the safetensors reader: opens
 * the input as a file in memory and, when it is accepted, reads every
 * tensor as its stored dtype and as f32 and walks the metadata. Built by
 * `make fuzz` (clang, libFuzzer, ASan, UBSan) and replayed over the corpus
 * by `make check` through replay.c. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "zoq.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    zoq_st *st = NULL;
    char err[256];
    if (zoq_st_open_memory(data, size, &st, err, sizeof err) != ZOQ_OK)
        return 0;
    uint64_t start = 8;
    for (int b = 0; b < 8; b++)
        start += (uint64_t)data[b] << (8 * b);
    for (int64_t i = 0; i < zoq_st_count(st); i++) {
        zoq_st_info_t info = {.size = sizeof info};
        /* an accepted tensor lies inside the input, after the header */
        if (zoq_st_info(st, i, &info) != ZOQ_OK || info.offset > size - start ||
            info.nbytes > size - start - info.offset)
            abort();
        float *f = malloc((size_t)info.numel * sizeof *f + 1);
        unsigned char *raw = malloc((size_t)info.nbytes + 1);
        if (!f || !raw)
            abort();
        if (zoq_st_read(st, i, ZOQ_ST_F32, f, (size_t)info.numel * sizeof *f) != ZOQ_OK ||
            zoq_st_read(st, i, info.dtype, raw, (size_t)info.nbytes) != ZOQ_OK ||
            (info.dtype == ZOQ_ST_I8 &&
             memcmp(raw, data + start + info.offset, (size_t)info.nbytes) != 0))
            abort();
        int64_t j;
        if (zoq_st_find(st, info.name, &j) != ZOQ_OK || j != i)
            abort();
        free(f);
        free(raw);
    }
    for (int64_t i = 0; i < zoq_st_metadata_count(st); i++) {
        const char *k, *v, *w;
        if (zoq_st_metadata_at(st, i, &k, &v) || zoq_st_metadata_get(st, k, &w) || v != w)
            abort();
    }
    zoq_st_free(st);
    return 0;
}
