/* qzo_check.h - the --quick checks of QZO inside llama.cpp (qzo.h): a step
 * abandoned at its last point leaves every weight byte of the engine as it
 * was; a full step changes the trained scales and nothing else; the model
 * saved with them (model_save.h) reloads and scores bit for bit as the
 * engine did; freeing the target gives the engine its loaded weights back. */
#ifndef ZOQ_EXAMPLES_LLAMA_QZO_CHECK_H
#define ZOQ_EXAMPLES_LLAMA_QZO_CHECK_H

/* Runs the checks on the model at model_path, writing dir/qzo/model.gguf.
 * 0 or -1 (message on stderr). */
int qzo_check(const char *model_path, const char *dir, int threads);

#endif
