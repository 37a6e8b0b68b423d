/* label_bias.h - the classifier's one trained bias on the label words'
 * log-odds (log p(w1) - log p(w0)), kept beside a trained adapter as
 * DIR/label_bias.txt so zoq_llama eval applies what training used. */
#ifndef ZOQ_EXAMPLES_LLAMA_LABEL_BIAS_H
#define ZOQ_EXAMPLES_LLAMA_LABEL_BIAS_H

/* Writes b to dir/label_bias.txt. 0 or -1. */
int label_bias_save(const char *dir, double b);
/* Reads dir/label_bias.txt into *b; *b = 0 and returns 0 when the file is
 * absent (an adapter trained without a bias), -1 when it is unreadable. */
int label_bias_load(const char *dir, double *b);

#endif
