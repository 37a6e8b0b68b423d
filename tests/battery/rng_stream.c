/* rng_stream.c - the raw 64-bit pair hashes of docs/rng.md section 4 on
 * stdout, little-endian, for a statistical battery (tests/battery/run.sh):
 *   rng_stream pairs   pairs 0, 1, 2, ... of one Gaussian stream
 *   rng_stream steps   pair p of steps 0..1023 of one tensor, then p + 1, ...
 *                      (consecutive words from different streams)
 * Runs until stdout closes. The hashes are what the transform consumes; the
 * transform's output is tested against N(0, 1) by tests/test_rng.c. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "rng/gauss.h"

#define KEY 0xC6D89249D5BE7411ull /* tensor key of "layer.0.weight", seed 42 */
#define STEPS 1024

int main(int argc, char **argv)
{
    const int steps = argc > 1 && strcmp(argv[1], "steps") == 0;
    if (argc != 2 || (!steps && strcmp(argv[1], "pairs") != 0)) {
        fprintf(stderr, "usage: rng_stream pairs|steps\n");
        return 2;
    }
    static uint64_t seed[STEPS], buf[1 << 14];
    for (int s = 0; s < STEPS; s++)
        seed[s] = zoq__gauss_seed(KEY, (uint64_t)s, 0, 0);
    for (uint64_t p = 0;; ) {
        for (size_t j = 0; j < sizeof buf / sizeof *buf; j++) {
            uint64_t h = steps ? zoq__gauss_hash(seed[p % STEPS], p / STEPS)
                               : zoq__gauss_hash(seed[0], p);
            p++;
            unsigned char *b = (unsigned char *)&buf[j];
            for (int k = 0; k < 8; k++)
                b[k] = (unsigned char)(h >> (8 * k));
        }
        if (fwrite(buf, sizeof buf, 1, stdout) != 1)
            return 0;
    }
}
