/* flags.h - command lines of `--name value` pairs, read through a table of
 * the flags a command takes: each its name, the kind of its value and where
 * the value goes. */
#ifndef ZOQ_LLAMA_FLAGS_H
#define ZOQ_LLAMA_FLAGS_H

#include <stddef.h>

typedef enum {
    FLAG_STR,   /* const char *: the argument itself */
    FLAG_INT,   /* int (atoi) */
    FLAG_U64,   /* uint64_t (decimal) */
    FLAG_F64,   /* double (atof) */
    FLAG_PAIR,  /* "A:B" into two ints, dst and dst2 */
    FLAG_ON     /* no value: the int at dst becomes 1 */
} flag_kind;

typedef struct flag {
    const char *name;
    flag_kind kind;
    void *dst, *dst2;
} flag;

/* Table entries: a flag of one value (or FLAG_ON), and an "A:B" pair. */
#define FLAG_ONE(name, kind, dst) {(name), (kind), (dst), NULL}
#define FLAG_TWO(name, dst, dst2) {(name), FLAG_PAIR, (dst), (dst2)}

/* The flag of f[0..n) named a takes value v: 1 when it did, 0 when no flag
 * is named a, -1 when v is not a value of its kind. */
int flag_set(const flag *f, size_t n, const char *a, const char *v);

/* argv[0..argc) as flags of f[0..n): names not in the table go to
 * other(ctx, name, value) when other is not NULL (nonzero: rejected). 0, or
 * -1 for an unknown name, a missing value or a rejected one. */
int flags_parse(int argc, char **argv, const flag *f, size_t n,
                int (*other)(void *ctx, const char *a, const char *v), void *ctx);

#define FLAGS_N(table) (sizeof(table) / sizeof((table)[0]))

#endif
