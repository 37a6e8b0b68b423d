/* artifact.h - puts a trained adapter that target_save wrote (a folder with
 * control_vector.gguf or adapter.gguf) into an engine, for evaluation
 * without the zoq context that trained it. */
#ifndef ZOQ_EXAMPLES_LLAMA_ARTIFACT_H
#define ZOQ_EXAMPLES_LLAMA_ARTIFACT_H

#include "engine.h"

typedef struct artifact {
    lm_engine *e;
    struct llama_adapter_lora *lora; /* NULL for a control vector */
    float *cvec;                     /* (n_layer - 1) x n_embd, or NULL */
    int32_t il_start, il_end;
} artifact;

/* Loads dir's adapter into e (not yet active). 0 or -1 (message on stderr). */
int artifact_load(artifact *a, lm_engine *e, const char *dir);
/* Activates (on = 1) or removes (on = 0) the adapter in e->ctx. 0 or -1. */
int artifact_use(artifact *a, int on);
void artifact_free(artifact *a);

#endif
