/*
 * zoq/io.h - safetensors files and PEFT LoRA adapter folders
 * (docs/formats.md). Part of the public API: include <zoq.h>, which includes every part.
 */
#ifndef ZOQ_H_IO
#define ZOQ_H_IO

#include "core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* safetensors files and PEFT LoRA adapter folders                          */
/* ------------------------------------------------------------------------ */

/* No context: every failing call leaves its message for zoq_last_error(NULL)
 * (this thread's). The calls that take a message buffer (err, err_cap; NULL,
 * 0 to skip) also copy it there, NUL-terminated. A reader is immutable once
 * open, so its calls are thread-safe. Format, checks and layout:
 * docs/formats.md. */

/* Element types of a safetensors tensor. The first three equal the
 * zoq_dtype_t values, so a parameter's dtype can be passed as is. */
typedef enum zoq_st_dtype {
    ZOQ_ST_F32 = 0,             /* "F32" */
    ZOQ_ST_F16 = 1,             /* "F16", IEEE binary16 */
    ZOQ_ST_BF16 = 2,            /* "BF16" */
    ZOQ_ST_I8 = 3,              /* "I8" */
    ZOQ_ST_I32 = 4              /* "I32" */
} zoq_st_dtype_t;

#define ZOQ_ST_MAX_DIMS 8                       /* more dimensions: ZOQ_E_UNSUPPORTED */
#define ZOQ_ST_MAX_HEADER_BYTES 100000000u      /* larger JSON headers are refused */

/* A safetensors file open for reading. Opaque. */
typedef struct zoq_st zoq_st;

/* What the header says about one tensor. Set size = sizeof(zoq_st_info_t). */
typedef struct zoq_st_info {
    size_t size;
    const char *name;           /* owned by the reader, valid until zoq_st_free */
    int32_t dtype;              /* zoq_st_dtype_t */
    int32_t ndim;               /* 0 (a scalar) .. ZOQ_ST_MAX_DIMS */
    int64_t shape[ZOQ_ST_MAX_DIMS];
    int64_t numel;              /* product of the shape (1 for a scalar) */
    uint64_t nbytes;            /* numel times the element size */
    uint64_t offset;            /* of the first byte, from the start of the data buffer */
} zoq_st_info_t;

/* Opens the safetensors file at path and checks its whole header (bounds,
 * offsets, coverage, names, dtypes) into *out (free with zoq_st_free); data
 * is read on demand. ZOQ_E_INVALID, ZOQ_E_IO, ZOQ_E_FORMAT (malformed or
 * truncated), ZOQ_E_UNSUPPORTED (a dtype other than the five, > 8 dims), ZOQ_E_NOMEM. */
ZOQ_API int zoq_st_open(const char *path, zoq_st **out, char *err, size_t err_cap);
/* As zoq_st_open on the n bytes at data, which are borrowed: they must stay
 * valid and unchanged until zoq_st_free. */
ZOQ_API int zoq_st_open_memory(const void *data, size_t n, zoq_st **out, char *err,
                               size_t err_cap);
/* Closes a reader. Accepts NULL. */
ZOQ_API void zoq_st_free(zoq_st *st);
/* Number of tensors (0 for NULL). Index order is by name (bytewise). */
ZOQ_API int64_t zoq_st_count(const zoq_st *st);
/* Describes tensor `index` into *out. ZOQ_E_INVALID for NULL, a small size or a bad index. */
ZOQ_API int zoq_st_info(const zoq_st *st, int64_t index, zoq_st_info_t *out);
/* Index of the tensor called name into *index. ZOQ_E_NOT_FOUND if absent. */
ZOQ_API int zoq_st_find(const zoq_st *st, const char *name, int64_t *index);
/* Reads tensor `index` into dst as dtype (dst_bytes must be numel times its
 * size): the stored dtype copies; F32 accepts any stored dtype; F16/BF16
 * accept F32/F16/BF16 (via f32, round-to-nearest-even). ZOQ_E_INVALID for
 * bad arguments or conversions, ZOQ_E_IO, ZOQ_E_NOMEM (its 64 KiB conversion
 * buffer); dst is unspecified on error. */
ZOQ_API int zoq_st_read(const zoq_st *st, int64_t index, int dtype, void *dst,
                        size_t dst_bytes);
/* Number of "__metadata__" entries (0 for NULL), sorted by key. */
ZOQ_API int64_t zoq_st_metadata_count(const zoq_st *st);
/* Entry i of the metadata: *key and *value (either may be NULL) owned by
 * the reader. ZOQ_E_INVALID for a bad index. */
ZOQ_API int zoq_st_metadata_at(const zoq_st *st, int64_t i, const char **key,
                               const char **value);
/* The metadata value of key into *value (owned by the reader). ZOQ_E_NOT_FOUND if absent. */
ZOQ_API int zoq_st_metadata_get(const zoq_st *st, const char *key, const char **value);

/* Collects tensors and metadata, then writes one safetensors file. Opaque;
 * a failing call's message is zoq_last_error(NULL), as everywhere, and also
 * kept as zoq_st_writer_last_error. */
typedef struct zoq_st_writer zoq_st_writer;

/* Creates an empty writer into *out (free with zoq_st_writer_free).
 * ZOQ_E_INVALID, ZOQ_E_NOMEM. */
ZOQ_API int zoq_st_writer_create(zoq_st_writer **out);
/* Frees a writer (never the tensors' buffers). Accepts NULL. */
ZOQ_API void zoq_st_writer_free(zoq_st_writer *w);
/* Adds tensor name (copied; non-empty UTF-8, not "__metadata__", unique)
 * of shape[ndim] (copied; dims >= 0) whose elements are at data in
 * data_dtype; they are stored as file_dtype (equal, or both among F32/F16/
 * BF16: converted via f32 at write time). data is borrowed until write or
 * free. ZOQ_E_INVALID, ZOQ_E_EXISTS (name taken), ZOQ_E_NOMEM. */
ZOQ_API int zoq_st_writer_add(zoq_st_writer *w, const char *name, int32_t ndim,
                              const int64_t *shape, const void *data, int data_dtype,
                              int file_dtype);
/* Sets "__metadata__" entry key to value (both copied, UTF-8; a key set
 * again is replaced). ZOQ_E_INVALID, ZOQ_E_NOMEM. */
ZOQ_API int zoq_st_writer_set_metadata(zoq_st_writer *w, const char *key, const char *value);
/* Writes the file atomically (temporary file beside path, fsync, rename):
 * tensors ordered as the safetensors package does (F32, I32, BF16, F16,
 * I8, then by name), header padded with spaces to 8 bytes. The writer may
 * be written again. ZOQ_E_INVALID, ZOQ_E_IO, ZOQ_E_NOMEM. */
ZOQ_API int zoq_st_writer_write(zoq_st_writer *w, const char *path);
/* Message of the writer's last failed call ("" if none): the one
 * zoq_last_error(NULL) gave right after it, kept with the writer. For NULL, a
 * static string. */
ZOQ_API const char *zoq_st_writer_last_error(const zoq_st_writer *w);

/* One LoRA module of a PEFT adapter: ΔW = (alpha / rank) · B · A for the
 * base model's linear layer `module` (out_features x in_features). Set
 * size = sizeof(zoq_peft_module_t). */
typedef struct zoq_peft_module {
    size_t size;
    const char *module;         /* path in the base model, e.g. "model.layers.0.self_attn.q_proj" */
    int32_t rank;               /* r >= 1 */
    int32_t dtype;              /* F32, F16 or BF16: of a and b as given / as stored */
    int64_t in_features;        /* columns of A (r x in, row-major) */
    int64_t out_features;       /* rows of B (out x r, row-major) */
    double alpha;               /* lora_alpha > 0, finite, not subnormal */
    const void *a;              /* save: the A factor; from zoq_peft_module_info: NULL */
    const void *b;              /* save: the B factor; from zoq_peft_module_info: NULL */
} zoq_peft_module_t;

/* Adapter-wide settings. Zero-initialize and set size; NULL means defaults. */
typedef struct zoq_peft_config {
    size_t size;                /* sizeof(zoq_peft_config_t) */
    const char *base_model;     /* base_model_name_or_path; NULL writes null */
    const char *task_type;      /* NULL = "CAUSAL_LM" */
    int32_t file_dtype;         /* stored dtype of the factors, F32/F16/BF16 [F32 = 0] */
    int32_t reserved_;          /* must be 0 */
    uint32_t flags;             /* ZOQ_PEFT_* bits [0] */
    uint32_t reserved2_;        /* must be 0 */
} zoq_peft_config_t;

/* zoq_peft_config_t.flags: refuse (ZOQ_E_INVALID) modules whose rank or
 * alpha differ from the first module's. For SGLang, which scales the whole
 * adapter by one lora_alpha / r and sizes its memory pool by r. */
#define ZOQ_PEFT_UNIFORM 1u

/* Writes a PEFT LoRA adapter folder dir holding adapter_model.safetensors
 * (tensors base_model.model.<module>.lora_A.weight / .lora_B.weight) and
 * adapter_config.json (peft_type LORA, r, lora_alpha, target_modules = the
 * module paths, so that PEFT wraps exactly these modules, rank_pattern /
 * alpha_pattern for modules that differ from the first). Both files are
 * written into a fresh folder beside dir that then replaces dir atomically (Linux
 * RENAME_EXCHANGE; elsewhere two renames). An existing dir may hold only
 * those two files. ZOQ_E_INVALID, ZOQ_E_EXISTS, ZOQ_E_IO, ZOQ_E_NOMEM. */
ZOQ_API int zoq_peft_save(const char *dir, const zoq_peft_config_t *cfg,
                          const zoq_peft_module_t *modules, int64_t n, char *err,
                          size_t err_cap);

/* A PEFT LoRA adapter folder open for reading. Opaque, immutable. */
typedef struct zoq_peft zoq_peft;

/* Opens the adapter in dir: checks adapter_config.json (peft_type LORA, no
 * DoRA, rsLoRA, bias or fan_in_fan_out) and pairs every lora_A with its
 * lora_B in adapter_model.safetensors, shapes and ranks consistent, into
 * *out (free with zoq_peft_free). ZOQ_E_INVALID, ZOQ_E_IO, ZOQ_E_FORMAT,
 * ZOQ_E_UNSUPPORTED, ZOQ_E_NOMEM. */
ZOQ_API int zoq_peft_open(const char *dir, zoq_peft **out, char *err, size_t err_cap);
/* Closes an adapter. Accepts NULL. */
ZOQ_API void zoq_peft_free(zoq_peft *p);
/* Number of modules (0 for NULL), sorted by module path. */
ZOQ_API int64_t zoq_peft_count(const zoq_peft *p);
/* Describes module i into *out (module string owned by p; a, b NULL; dtype
 * as stored; alpha from alpha_pattern or lora_alpha). ZOQ_E_INVALID. */
ZOQ_API int zoq_peft_module_info(const zoq_peft *p, int64_t i, zoq_peft_module_t *out);
/* Index of the module with this path. ZOQ_E_NOT_FOUND if absent. */
ZOQ_API int zoq_peft_find(const zoq_peft *p, const char *module, int64_t *i);
/* Reads module i's factors into a (rank x in) and b (out x rank) as dtype,
 * a_bytes and b_bytes their exact sizes (conversions as zoq_st_read).
 * ZOQ_E_INVALID, ZOQ_E_IO. */
ZOQ_API int zoq_peft_read(const zoq_peft *p, int64_t i, int dtype, void *a, size_t a_bytes,
                          void *b, size_t b_bytes);

#ifdef __cplusplus
}
#endif
#endif /* ZOQ_H_IO */
