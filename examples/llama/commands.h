/* commands.h - the subcommands of zoq_llama besides the HH-RLHF experiment:
 *   zoq_llama sst2 ...   the SST-2 experiment (sst2_cmd.c)
 *   zoq_llama eval ...   accuracy of a saved adapter on a labelled TSV (eval_cmd.c)
 *   zoq_llama speed ...  what one evaluation of the SST-2 loss costs, per way (speed_cmd.c)
 *   zoq_llama invariance ...  scores against the batch they are decoded in, per kernel
 *                        setting (invariance_cmd.c)
 * Each takes argv after the subcommand's name and returns the exit status. */
#ifndef ZOQ_EXAMPLES_LLAMA_COMMANDS_H
#define ZOQ_EXAMPLES_LLAMA_COMMANDS_H

int sst2_main(int argc, char **argv);
int eval_main(int argc, char **argv);
int speed_main(int argc, char **argv);
int invariance_main(int argc, char **argv);

#endif
