/* test_pairs.c - the JSON-lines pair reader (tests/support/pairs.c): the real
 * HH-RLHF harmless file of ../shared/data, and crafted files for escapes,
 * the prompt split and malformed input. */
#define _POSIX_C_SOURCE 200809L /* mkstemp, access, unlink */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "support/pairs.h"

#define HH_PATH "../shared/data/hh-rlhf-harmless/pairs.jsonl.gz"

static int ends_with(const char *s, const char *suffix)
{
    const size_t n = strlen(s), k = strlen(suffix);
    return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

Test(pairs, hh_rlhf_harmless_file)
{
    const char *path = getenv("ZOQ_HH_PAIRS") ? getenv("ZOQ_HH_PAIRS") : HH_PATH;
    if (access(path, R_OK) != 0)
        cr_skip_test("%s not found (set ZOQ_HH_PAIRS)", path);
    pair_set s;
    size_t line;
    cr_assert_eq(pairs_read(path, &s, &line), PAIRS_OK, "line %zu", line);
    cr_expect_eq(s.n, 1800);
    size_t identical = 0;
    for (size_t i = 0; i < s.n; i++) {
        const pair_text *p = &s.pairs[i];
        cr_expect(ends_with(p->prompt, PAIRS_DELIM), "pair %zu: prompt end", i);
        cr_expect(strncmp(p->prompt, "\n\nHuman:", 8) == 0, "pair %zu: prompt start", i);
        cr_expect(p->chosen[0] != '\0' && p->rejected[0] != '\0', "pair %zu: empty", i);
        identical += strcmp(p->chosen, p->rejected) == 0;
    }
    cr_expect_eq(identical, 0, "completions differ");
    /* First pair, from the file as printed by zcat. */
    cr_expect(strncmp(s.pairs[0].prompt, "\n\nHuman: what are some pranks with a pen i can do?",
                      50) == 0);

    pair_view train, eval;
    cr_assert_eq(pairs_split(&s, 300, &train, &eval), 0);
    cr_expect_eq(train.n, 1500);
    cr_expect_eq(eval.n, 300);
    cr_expect(train.pairs == s.pairs && eval.pairs == s.pairs + 1500);
    cr_expect_eq(pairs_split(&s, 1801, &train, &eval), -1);

    /* Deterministic: a second read gives the same strings. */
    pair_set t;
    cr_assert_eq(pairs_read(path, &t, NULL), PAIRS_OK);
    cr_assert_eq(t.n, s.n);
    for (size_t i = 0; i < s.n; i++)
        cr_expect(strcmp(s.pairs[i].prompt, t.pairs[i].prompt) == 0 &&
                  strcmp(s.pairs[i].chosen, t.pairs[i].chosen) == 0 &&
                  strcmp(s.pairs[i].rejected, t.pairs[i].rejected) == 0);
    pairs_free(&t);
    pairs_free(&s);
}

/* Writes text to a temporary file; returns its path (static buffer). */
static const char *temp_file(const char *text)
{
    static char path[64];
    strcpy(path, "/tmp/zoq_pairs_XXXXXX");
    const int fd = mkstemp(path);
    cr_assert(fd >= 0);
    const size_t n = strlen(text);
    cr_assert_eq(write(fd, text, n), (ssize_t)n);
    close(fd);
    return path;
}

Test(pairs, escapes_and_split)
{
    /* Plain (not gzip'd) input is read too. Second line: keys swapped, an
     * extra field, \u escapes with a surrogate pair, and a later
     * "\n\nAssistant:" inside the common prefix. */
    const char *path = temp_file(
        "{\"chosen\": \"\\n\\nHuman: hi\\n\\nAssistant: yes \\\"ok\\\"\", "
        "\"rejected\": \"\\n\\nHuman: hi\\n\\nAssistant: no\"}\n"
        "\n"
        "{\"rejected\":\"\\n\\nHuman: a\\n\\nAssistant: b\\n\\nHuman: c\\n\\nAssistant: x\","
        "\"note\":\"z\",\"chosen\":\"\\n\\nHuman: a\\n\\nAssistant: b\\n\\nHuman: c\\n\\nAssistant:"
        " \\u00e9\\ud83d\\ude00\\/\\\\\"}\n");
    pair_set s;
    cr_assert_eq(pairs_read(path, &s, NULL), PAIRS_OK);
    unlink(path);
    cr_assert_eq(s.n, 2);
    cr_expect_str_eq(s.pairs[0].prompt, "\n\nHuman: hi\n\nAssistant:");
    cr_expect_str_eq(s.pairs[0].chosen, " yes \"ok\"");
    cr_expect_str_eq(s.pairs[0].rejected, " no");
    cr_expect_str_eq(s.pairs[1].prompt, "\n\nHuman: a\n\nAssistant: b\n\nHuman: c\n\nAssistant:");
    cr_expect_str_eq(s.pairs[1].chosen, " \xc3\xa9\xf0\x9f\x98\x80/\\");
    cr_expect_str_eq(s.pairs[1].rejected, " x");
    pairs_free(&s);
}

Test(pairs, malformed_input)
{
    static const char *const bad[] = {
        "{\"chosen\": \"same\", \"rejected\": \"same\"}\n",           /* no delimiter */
        "{\"chosen\": \"\\n\\nAssistant: a\"}\n",                    /* no rejected */
        "{\"chosen\": \"x\", \"rejected\": 3}\n",                    /* not a string */
        "{\"chosen\": \"\\q\", \"rejected\": \"x\"}\n",              /* bad escape */
        "{\"chosen\": \"\\ud83d\", \"rejected\": \"x\"}\n",          /* lone surrogate */
        "{\"chosen\": \"a\", \"chosen\": \"a\", \"rejected\": \"b\"}\n", /* duplicate */
        "{\"chosen\": \"unterminated}\n",
        "[\"chosen\"]\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[256];
        snprintf(text, sizeof text,
                 "{\"chosen\": \"\\n\\nAssistant: a\", \"rejected\": \"\\n\\nAssistant: b\"}\n%s",
                 bad[i]);
        const char *path = temp_file(text);
        pair_set s;
        size_t line = 0;
        cr_expect_eq(pairs_read(path, &s, &line), PAIRS_E_FORMAT, "case %zu", i);
        cr_expect_eq(line, 2, "case %zu: line %zu", i, line);
        cr_expect(s.n == 0 && s.pairs == NULL);
        unlink(path);
    }
    pair_set s;
    cr_expect_eq(pairs_read("/nonexistent/zoq/pairs.jsonl.gz", &s, NULL), PAIRS_E_IO);
}
