/* digits.c - the UCI digits reader of digits.h. */
#include "digits.h"

#include <stdlib.h>
#include <zlib.h>

int digits_read(const char *path, float (*x)[DIGITS_PIXELS], int *y)
{
    gzFile f = gzopen(path, "rb");
    if (!f)
        return -1;
    char line[1024];
    int n = 0;
    while (n < DIGITS_ROWS && gzgets(f, line, sizeof line)) {
        char *p = line, *end;
        for (int j = 0; j <= DIGITS_PIXELS; j++) {
            const double v = strtod(p, &end);
            if (end == p)
                return gzclose(f), -1;
            if (j < DIGITS_PIXELS)
                x[n][j] = (float)(v / 16.0);
            else
                y[n] = (int)v;
            p = *end == ',' ? end + 1 : end;
        }
        if (y[n] < 0 || y[n] > 9)
            return gzclose(f), -1;
        n++;
    }
    gzclose(f);
    return n == DIGITS_ROWS ? 0 : -1;
}
