/* model_save.h - the engine's current weights as a GGUF model file that
 * stock llama.cpp loads: the metadata and tensor infos of the file the
 * engine was loaded from, each tensor's data taken from the engine's own
 * buffer (after QZO: the tuned scales, qzo.h). */
#ifndef ZOQ_EXAMPLES_LLAMA_MODEL_SAVE_H
#define ZOQ_EXAMPLES_LLAMA_MODEL_SAVE_H

#include "engine.h"

/* Writes out_path from src_path's metadata and e's tensors (which must all
 * be in host buffers: lm_open_weights(..., LM_WRITABLE)). 0 or -1 (message on stderr). */
int lm_save_model(const lm_engine *e, const char *src_path, const char *out_path);

#endif
