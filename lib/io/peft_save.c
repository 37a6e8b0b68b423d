/* peft_save.c - writes a PEFT LoRA adapter folder (docs/formats.md):
 * adapter_model.safetensors with base_model.model.<module>.lora_A.weight
 * (r x in) and .lora_B.weight (out x r), and adapter_config.json with the
 * keys PEFT's LoraConfig and PeftConfig define (vLLM and SGLang read the
 * same file). Both files go into a fresh folder beside the target, which
 * then replaces the target in one atomic exchange. */
#define _GNU_SOURCE /* renameat2 / RENAME_EXCHANGE */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <stddef.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/abi.h"
#include "io/file.h"
#include "io/json.h"
#include "io/peft.h"
#include "io/safetensors.h"
#include "zoq.h"

/* A module to save; first is module 0 (checked first), flags the config's.
 * The modules are an array, indexed with this build's sizeof: the one place
 * the growth rule of lib/core/abi.h cannot apply, so size must be exact. */
static int check_module(const zoq_peft_module_t *m, int64_t i, const zoq_peft_module_t *first,
                        uint32_t flags)
{
    if (m->size != sizeof *m)
        return zoq__fail(NULL, ZOQ_E_INVALID, "module %lld: size %zu is not "
                         "sizeof(zoq_peft_module_t) = %zu (an array's elements cannot be of "
                         "another version)", (long long)i, m->size, sizeof *m);
    if (!m->module || !m->module[0] ||
        !zoq__utf8_valid((const unsigned char *)m->module, strlen(m->module)))
        return zoq__fail(NULL, ZOQ_E_INVALID, "module %lld: empty or non-UTF-8 path",
                         (long long)i);
    if (m->rank < 1 || m->in_features < 1 || m->out_features < 1 || !isnormal(m->alpha) ||
        m->alpha < 0 || !zoq__st_is_float(m->dtype) || !m->a || !m->b ||
        m->in_features > INT64_MAX / 8 / m->rank || m->out_features > INT64_MAX / 8 / m->rank)
        return zoq__fail(NULL, ZOQ_E_INVALID, "module '%.64s': needs rank, in/out features "
                         ">= 1, alpha > 0 (finite, not subnormal), dtype F32/F16/BF16 and both "
                         "factors", m->module);
    if ((flags & ZOQ_PEFT_UNIFORM) && (m->rank != first->rank || m->alpha != first->alpha))
        return zoq__fail(NULL, ZOQ_E_INVALID, "module '%.64s': rank %d, alpha %g, the first "
                         "module's %d, %g; ZOQ_PEFT_UNIFORM (SGLang: one lora_alpha / r for the "
                         "whole adapter) needs one rank and one alpha", m->module, m->rank,
                         m->alpha, first->rank, first->alpha);
    return ZOQ_OK;
}

/* The caller's config (NULL: defaults) checked and copied into *c, fields
 * it is too old to have as 0 (lib/core/abi.h). */
static int check_config(const zoq_peft_config_t *cfg, zoq_peft_config_t *c)
{
    memset(c, 0, sizeof *c);
    c->size = sizeof *c;
    if (cfg) {
        const int rc = zoq__sized_in(NULL, "zoq_peft_save: config", c, cfg, sizeof *c);
        if (rc != ZOQ_OK)
            return rc;
    }
    if (c->reserved_ || c->reserved2_ || (c->flags & ~ZOQ_PEFT_UNIFORM) ||
        !zoq__st_is_float(c->file_dtype) ||
        (c->base_model && !zoq__utf8_valid((const unsigned char *)c->base_model,
                                           strlen(c->base_model))) ||
        (c->task_type && !zoq__utf8_valid((const unsigned char *)c->task_type,
                                          strlen(c->task_type))))
        return zoq__fail(NULL, ZOQ_E_INVALID, "zoq_peft_save: bad config ("
                         "file_dtype F32/F16/BF16, UTF-8 strings, known flags, reserved 0)");
    return ZOQ_OK;
}

/* The shortest %g text that reads back as x (16 -> "16", 0.1 -> "0.1"),
 * with JSON's '.' whatever the locale's decimal point. */
static void put_number(zoq__buf *b, double x)
{
    char text[40], point = localeconv()->decimal_point[0];
    for (int digits = 1; digits <= 17; digits++) {
        snprintf(text, sizeof text, "%.*g", digits, x);
        if (strtod(text, NULL) == x)
            break;
    }
    char *p = point ? strchr(text, point) : NULL;
    if (p)
        *p = '.';
    zoq__buf_puts(b, text);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* adapter_config.json, keys sorted and indented as PEFT writes them;
 * target_modules lists full module paths (not PEFT's usual short names,
 * which would make PEFT wrap every layer of those names). */
static int encode_config(const zoq_peft_config_t *cfg, const zoq_peft_module_t *m, int64_t n,
                         zoq__buf *b)
{
    const char **paths = malloc((size_t)n * sizeof *paths);
    if (!paths)
        return ZOQ_E_NOMEM;
    for (int64_t i = 0; i < n; i++)
        paths[i] = m[i].module;
    qsort(paths, (size_t)n, sizeof *paths, cmp_str);
    zoq__buf_puts(b, "{\n  \"alpha_pattern\": {");
    int any = 0;
    for (int64_t i = 1; i < n; i++)
        if (m[i].alpha != m[0].alpha) {
            zoq__buf_puts(b, any++ ? ",\n    " : "\n    ");
            zoq__buf_json_string(b, m[i].module);
            zoq__buf_puts(b, ": ");
            put_number(b, m[i].alpha);
        }
    zoq__buf_puts(b, any ? "\n  },\n" : "},\n");
    zoq__buf_puts(b, "  \"auto_mapping\": null,\n  \"base_model_name_or_path\": ");
    if (cfg->base_model)
        zoq__buf_json_string(b, cfg->base_model);
    else
        zoq__buf_puts(b, "null");
    zoq__buf_puts(b, ",\n  \"bias\": \"none\",\n  \"fan_in_fan_out\": false,\n"
                     "  \"inference_mode\": true,\n  \"init_lora_weights\": true,\n"
                     "  \"layers_pattern\": null,\n  \"layers_to_transform\": null,\n"
                     "  \"lora_alpha\": ");
    put_number(b, m[0].alpha);
    zoq__buf_puts(b, ",\n  \"lora_dropout\": 0.0,\n  \"modules_to_save\": null,\n"
                     "  \"peft_type\": \"LORA\",\n");
    zoq__buf_printf(b, "  \"r\": %d,\n  \"rank_pattern\": {", m[0].rank);
    any = 0;
    for (int64_t i = 1; i < n; i++)
        if (m[i].rank != m[0].rank) {
            zoq__buf_puts(b, any++ ? ",\n    " : "\n    ");
            zoq__buf_json_string(b, m[i].module);
            zoq__buf_printf(b, ": %d", m[i].rank);
        }
    zoq__buf_puts(b, any ? "\n  },\n" : "},\n");
    zoq__buf_puts(b, "  \"revision\": null,\n  \"target_modules\": [");
    for (int64_t i = 0; i < n; i++) {
        zoq__buf_puts(b, i ? ",\n    " : "\n    ");
        zoq__buf_json_string(b, paths[i]);
    }
    zoq__buf_puts(b, "\n  ],\n  \"task_type\": ");
    zoq__buf_json_string(b, cfg->task_type ? cfg->task_type : "CAUSAL_LM");
    zoq__buf_puts(b, ",\n  \"use_dora\": false,\n  \"use_rslora\": false\n}\n");
    free(paths);
    return b->oom ? ZOQ_E_NOMEM : ZOQ_OK;
}

/* Adds both factors of every module to a writer. */
static int add_tensors(zoq_st_writer *w, const zoq_peft_config_t *cfg,
                       const zoq_peft_module_t *m, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        char *name = malloc(strlen(m[i].module) + sizeof ZOQ__PEFT_PREFIX ZOQ__PEFT_A);
        if (!name)
            return zoq__fail(NULL, ZOQ_E_NOMEM, "out of memory");
        int64_t sa[2] = {m[i].rank, m[i].in_features}, sb[2] = {m[i].out_features, m[i].rank};
        sprintf(name, "%s%s%s", ZOQ__PEFT_PREFIX, m[i].module, ZOQ__PEFT_A);
        int rc = zoq_st_writer_add(w, name, 2, sa, m[i].a, m[i].dtype, cfg->file_dtype);
        sprintf(name, "%s%s%s", ZOQ__PEFT_PREFIX, m[i].module, ZOQ__PEFT_B);
        if (rc == ZOQ_OK)
            rc = zoq_st_writer_add(w, name, 2, sb, m[i].b, m[i].dtype, cfg->file_dtype);
        free(name);
        if (rc != ZOQ_OK)
            return zoq__fail(NULL, rc == ZOQ_E_EXISTS ? ZOQ_E_INVALID : rc, "%s%s",
                             rc == ZOQ_E_EXISTS ? "module listed twice: " : "",
                             zoq_st_writer_last_error(w));
    }
    return ZOQ_OK;
}

/* "<dir>/<file>" in a new string (NULL when out of memory). */
static char *join(const char *dir, const char *file)
{
    char *p = malloc(strlen(dir) + strlen(file) + 2);
    if (p)
        sprintf(p, "%s/%s", dir, file);
    return p;
}

/* Removes the adapter files of folder `name` (relative to folder fd parent,
 * fd: the folder itself) and the temporaries of a killed writer of them,
 * then the folder. 0, or -1 with errno when the folder remains. */
static int remove_adapter_at(int parent, const char *name, int fd)
{
    const char *files[] = {ZOQ__PEFT_WEIGHTS, ZOQ__PEFT_CONFIG};
    for (int i = 0; i < 2; i++) {
        if (unlinkat(fd, files[i], 0) != 0 && errno != ENOENT)
            return -1;
        zoq__clean_stale_in(fd, files[i], 0, zoq__drop_file);
    }
    return unlinkat(parent, name, AT_REMOVEDIR);
}

/* zoq__clean_stale's drop for the folders of killed saves. */
static void drop_adapter(int parent, const char *name, int fd)
{
    remove_adapter_at(parent, name, fd);
}

/* Removes the adapter folder at path (0 if it is gone), or -1 with errno. */
static int remove_adapter_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : -1;
    int rc = remove_adapter_at(AT_FDCWD, path, fd);
    int e = errno;
    close(fd);
    errno = e;
    return rc;
}

/* ZOQ_OK if dir is absent (*exists = 0) or a folder holding only adapter
 * files (*exists = 1). */
static int check_target(const char *dir, int *exists)
{
    struct stat sb;
    *exists = 0;
    if (lstat(dir, &sb) != 0) {
        if (errno == ENOENT)
            return ZOQ_OK;
        return zoq__fail(NULL, ZOQ_E_IO, "cannot inspect '%s': %s", dir, strerror(errno));
    }
    if (!S_ISDIR(sb.st_mode))
        return zoq__fail(NULL, ZOQ_E_EXISTS, "'%s' exists and is not a folder", dir);
    DIR *d = opendir(dir);
    if (!d)
        return zoq__fail(NULL, zoq__io_status(errno), "cannot list '%s': %s", dir,
                         strerror(errno));
    int rc = ZOQ_OK;
    for (struct dirent *e; rc == ZOQ_OK && (e = readdir(d));)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
            strcmp(e->d_name, ZOQ__PEFT_WEIGHTS) && strcmp(e->d_name, ZOQ__PEFT_CONFIG))
            rc = zoq__fail(NULL, ZOQ_E_EXISTS, "'%s' holds '%.64s'; zoq replaces only folders "
                           "holding nothing but adapter files", dir, e->d_name);
    closedir(d);
    *exists = 1;
    return rc;
}

/* Puts the finished folder tmp in place of dir. */
static int install(const char *tmp, const char *dir, int exists)
{
    if (!exists) {
        if (rename(tmp, dir) != 0)
            return zoq__fail(NULL, ZOQ_E_IO, "cannot rename '%s' to '%s': %s", tmp, dir,
                             strerror(errno));
        return ZOQ_OK;
    }
#ifdef RENAME_EXCHANGE
    if (renameat2(AT_FDCWD, tmp, AT_FDCWD, dir, RENAME_EXCHANGE) == 0) {
        if (remove_adapter_dir(tmp) != 0) /* now the old adapter */
            return zoq__fail(NULL, ZOQ_E_IO, "'%s' is in place, but the old adapter "
                             "remains in '%s': %s", dir, tmp, strerror(errno));
        return ZOQ_OK;
    }
    if (errno != EINVAL && errno != ENOSYS && errno != ENOTSUP)
        return zoq__fail(NULL, ZOQ_E_IO, "cannot exchange '%s' with '%s': %s", tmp, dir,
                         strerror(errno));
#endif
    /* No atomic exchange here: move the old folder aside, then the new in. */
    char *old = malloc(strlen(dir) + 12);
    if (!old)
        return zoq__fail(NULL, ZOQ_E_NOMEM, "out of memory");
    sprintf(old, "%s.old.XXXXXX", dir);
    int rc = ZOQ_OK;
    if (!mkdtemp(old) || rename(dir, old) != 0)
        rc = zoq__fail(NULL, ZOQ_E_IO, "cannot move '%s' aside: %s", dir, strerror(errno));
    else if (rename(tmp, dir) != 0) {
        rc = zoq__fail(NULL, ZOQ_E_IO, "cannot rename '%s' to '%s': %s", tmp, dir,
                       strerror(errno));
        rename(old, dir); /* put the old adapter back */
    } else if (remove_adapter_dir(old) != 0)
        rc = zoq__fail(NULL, ZOQ_E_IO, "'%s' is in place, but the old adapter remains in "
                       "'%s': %s", dir, old, strerror(errno));
    free(old);
    return rc;
}

/* Writes the config text atomically to path. */
static int write_text(const char *path, const zoq__buf *b)
{
    zoq__afile f;
    int rc = zoq__afile_open(&f, path);
    if (rc != ZOQ_OK)
        return rc;
    zoq__afile_write(&f, b->p, b->n);
    return zoq__afile_commit(&f);
}

static int peft_save(const char *dir, const zoq_peft_config_t *cfg,
                     const zoq_peft_module_t *modules, int64_t n)
{
    zoq_peft_config_t c;
    if (!dir || !dir[0] || !modules || n < 1)
        return zoq__fail(NULL, ZOQ_E_INVALID,
                         "zoq_peft_save: needs a folder and >= 1 module");
    int rc = check_config(cfg, &c);
    for (int64_t i = 0; i < n && rc == ZOQ_OK; i++)
        rc = check_module(&modules[i], i, &modules[0], c.flags);
    if (rc != ZOQ_OK)
        return rc;
    cfg = &c;
    size_t len = strlen(dir);
    while (len > 1 && dir[len - 1] == '/')
        len--;
    char *target = strndup(dir, len), *tmp = malloc(len + 12);
    zoq_st_writer *w = NULL;
    zoq__buf conf = {0};
    int exists = 0, lock = -1;
    if (!target || !tmp || zoq_st_writer_create(&w) != ZOQ_OK) {
        rc = zoq__fail(NULL, ZOQ_E_NOMEM, "out of memory");
        goto done;
    }
    if ((rc = add_tensors(w, cfg, modules, n)) != ZOQ_OK ||
        (rc = encode_config(cfg, modules, n, &conf)) != ZOQ_OK ||
        (rc = check_target(target, &exists)) != ZOQ_OK)
        goto done;
    zoq__clean_stale(target, 1, drop_adapter);
    sprintf(tmp, "%s.tmp.XXXXXX", target);
    if ((lock = zoq__make_temp(tmp, 1)) < 0) {
        rc = zoq__fail(NULL, zoq__io_status(errno), "cannot create a folder beside "
                       "'%s': %s", target, strerror(errno));
        goto done;
    }
    char *wpath = join(tmp, ZOQ__PEFT_WEIGHTS), *cpath = join(tmp, ZOQ__PEFT_CONFIG);
    if (!wpath || !cpath)
        rc = zoq__fail(NULL, ZOQ_E_NOMEM, "out of memory");
    else if ((rc = zoq_st_writer_write(w, wpath)) == ZOQ_OK &&
             (rc = write_text(cpath, &conf)) == ZOQ_OK)
        rc = install(tmp, target, exists);
    free(wpath);
    free(cpath);
    if (rc != ZOQ_OK)
        remove_adapter_dir(tmp); /* or the next save of target removes it */
    else
        rc = zoq__fsync_parent(target);
    close(lock);
done:
    free(conf.p);
    zoq_st_writer_free(w);
    free(target);
    free(tmp);
    return rc;
}

int zoq_peft_save(const char *dir, const zoq_peft_config_t *cfg,
                  const zoq_peft_module_t *modules, int64_t n, char *err, size_t err_cap)
{
    return zoq__fail_copy(peft_save(dir, cfg, modules, n), err, err_cap);
}
