/* fuzz_state.c - libFuzzer target for the optimizer-state loader
 * (lib/core/state.c). The input is a state file's payload: the target wraps
 * it in a valid header (magic, version, flags, payload size) and XXH64
 * trailer, so every input passes the checksum and reaches the decoder, and
 * loads it into a context of an 8 x 8 f32, an f16 and a bf16 parameter. A
 * refused file must leave the context unchanged; an accepted one must be
 * usable: a step runs on it (queries capped to keep inputs fast), and it
 * saves and loads again. Built by `make fuzz` (clang, libFuzzer, ASan,
 * UBSan) and replayed over tests/fuzz/corpus/state by `make check`. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include "core/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static float a[64];
static uint16_t h[16], g[12];

/* The context every input is loaded into (tests/fuzz/corpus/state was saved
 * from contexts made by this function). */
static zoq_ctx *fuzz_state_ctx(void)
{
    zoq_ctx *ctx;
    if (zoq_create(&ctx) != ZOQ_OK)
        abort();
    const zoq_param_desc_t d = {.size = sizeof d, .name = "layer.weight", .data = a,
                                .dtype = ZOQ_F32, .numel = 64, .rows = 8, .cols = 8};
    if (zoq_param_add_desc(ctx, &d, NULL) != ZOQ_OK ||
        zoq_param_add(ctx, "layer.bias", h, ZOQ_F16, 16, NULL) != ZOQ_OK ||
        zoq_param_add(ctx, "norm", g, ZOQ_BF16, 12, NULL) != ZOQ_OK ||
        zoq_set_int(ctx, ZOQ_OPT_THREADS, 1) != ZOQ_OK)
        abort();
    return ctx;
}

static int sum_objective(void *user, const zoq_eval_t *ev, double *loss)
{
    (void)user;
    double s = ev->coef;
    for (int i = 0; i < 64; i++)
        s += (double)a[i] * a[i];
    *loss = s;
    return 0;
}

static void put_le(unsigned char *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    memset(a, 0, sizeof a);
    memset(h, 0, sizeof h);
    memset(g, 0, sizeof g);
    unsigned char *file = malloc(24 + size + 8);
    if (!file)
        return 0;
    memcpy(file, "ZOQSTATE", 8);
    put_le(file + 8, 2, 4);
    put_le(file + 12, 0, 4);
    put_le(file + 16, size, 8);
    if (size)
        memcpy(file + 24, data, size);
    put_le(file + 24 + size, XXH64(file, 24 + size, 0), 8);
    zoq_ctx *ctx = fuzz_state_ctx();
    double lr;
    uint64_t step;
    if (zoq__state_decode(ctx, file, 24 + size + 8, "fuzz") != ZOQ_OK) {
        /* refused: nothing changed */
        if (zoq_get_step(ctx, &step) != ZOQ_OK || step != 0 ||
            zoq_get_double(ctx, ZOQ_OPT_LR, &lr) != ZOQ_OK || lr != 1e-3 || !zoq_last_error(ctx)[0])
            abort();
    } else {
        int64_t queries, accumulate;
        zoq_get_int(ctx, ZOQ_OPT_QUERIES, &queries);
        zoq_get_int(ctx, ZOQ_OPT_ACCUMULATE, &accumulate);
        zoq_set_objective(ctx, sum_objective, NULL);
        if (queries <= 8 && accumulate <= 8 &&
            strcmp(zoq_strerror(zoq_step(ctx, NULL)), "unknown status") == 0)
            abort();
        char path[64];
        snprintf(path, sizeof path, "/tmp/zoq-fuzz-state-%ld", (long)getpid());
        zoq_ctx *again = fuzz_state_ctx();
        if (zoq_state_save(ctx, path) != ZOQ_OK || zoq_state_load(again, path) != ZOQ_OK)
            abort();
        unlink(path);
        zoq_destroy(again);
    }
    zoq_destroy(ctx);
    free(file);
    return 0;
}
