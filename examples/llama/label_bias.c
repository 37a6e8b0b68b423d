/* label_bias.c - label_bias.h. The file is one line, "label_bias <b>",
 * printed with 17 significant digits so the double round-trips exactly. */
#define _POSIX_C_SOURCE 200809L
#include "label_bias.h"

#include <math.h>
#include <stdio.h>

static void bias_path(char *path, size_t cap, const char *dir)
{
    snprintf(path, cap, "%s/label_bias.txt", dir);
}

int label_bias_save(const char *dir, double b)
{
    char path[1024];
    bias_path(path, sizeof path, dir);
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return -1;
    fprintf(f, "label_bias %.17g\n", b);
    return fclose(f) == 0 ? 0 : -1;
}

int label_bias_load(const char *dir, double *b)
{
    char path[1024];
    bias_path(path, sizeof path, dir);
    *b = 0.0;
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return 0;
    const int ok = fscanf(f, "label_bias %lf", b) == 1 && isfinite(*b);
    fclose(f);
    if (!ok) {
        *b = 0.0;
        fprintf(stderr, "label_bias: %s is not \"label_bias <number>\"\n", path);
    }
    return ok ? 0 : -1;
}
