/* digits.h - test/bench/example support, not part of libzoq: reads the UCI
 * handwritten digits in the packaging of Debian's python3-sklearn
 * (sklearn/datasets/data/digits.csv.gz: one line per image, 64 pixel values
 * 0..16 then the label 0..9, comma-separated). Linked with -lz. */
#ifndef ZOQ_TESTS_SUPPORT_DIGITS_H
#define ZOQ_TESTS_SUPPORT_DIGITS_H

#define DIGITS_ROWS 1797
#define DIGITS_PIXELS 64

/* Reads all DIGITS_ROWS images of the gzip'd CSV at path: pixels scaled to
 * [0, 1] (value / 16) into x, labels into y. Returns 0, or -1 when the file
 * cannot be read, a value does not parse, a label is outside 0..9 or there
 * are fewer rows (x and y are then partly written). */
int digits_read(const char *path, float (*x)[DIGITS_PIXELS], int *y);

#endif
