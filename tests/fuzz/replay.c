/* replay.c - runs a libFuzzer target's LLVMFuzzerTestOneInput over every
 * file of the given folders (or files), without libFuzzer: `make check`
 * replays the committed corpus this way with the ordinary compiler. Prints
 * how many inputs ran; a crash or abort fails the check. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    unsigned char *buf = NULL;
    size_t n = 0, cap = 0, got;
    do {
        if (n == cap) {
            cap = cap ? 2 * cap : 4096;
            unsigned char *p = realloc(buf, cap);
            if (!p) {
                free(buf);
                fclose(f);
                return -1;
            }
            buf = p;
        }
        got = fread(buf + n, 1, cap - n, f);
        n += got;
    } while (got > 0);
    fclose(f);
    LLVMFuzzerTestOneInput(buf, n);
    free(buf);
    return 0;
}

int main(int argc, char **argv)
{
    long ran = 0;
    for (int a = 1; a < argc; a++) {
        struct stat st;
        if (stat(argv[a], &st) != 0) {
            fprintf(stderr, "replay: cannot stat %s\n", argv[a]);
            return 1;
        }
        if (!S_ISDIR(st.st_mode)) {
            if (run_file(argv[a]) != 0)
                return 1;
            ran++;
            continue;
        }
        DIR *d = opendir(argv[a]);
        if (!d)
            return 1;
        for (struct dirent *e; (e = readdir(d));) {
            if (e->d_name[0] == '.')
                continue;
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", argv[a], e->d_name);
            if (stat(path, &st) != 0 || !S_ISREG(st.st_mode) || run_file(path) != 0) {
                fprintf(stderr, "replay: %s is not a readable regular file\n", path);
                closedir(d);
                return 1;
            }
            ran++;
        }
        closedir(d);
    }
    printf("replay: %ld inputs, no crash\n", ran);
    return ran > 0 ? 0 : 1;
}
