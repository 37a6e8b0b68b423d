# examples/llama/llama.mk - zoq inside llama.cpp, included by the Makefile.
# `make llm-deps` builds the engine and unpacks the model into build/llm/
# (tools/llm_deps.sh); once it is there ZOQ_LLAMA defaults to 1 and `make
# check` also builds zoq_llama and runs its --quick smoke.
# LLM_ARGS adds options to llm-demo (e.g. LLM_ARGS="--dev 100 --steps 20").
LLM := build/llm
LLM_SRCS := $(sort $(wildcard examples/llama/*.c))
LLM_BIN := $(BUILD)/llm/zoq_llama
# model_tensor.cpp reaches llama.cpp's internal llama_model (src/llama-model.h)
LLM_SHIM := $(BUILD)/llm/model_tensor.o
LLM_DATA ?= ../shared/data/hh-rlhf-harmless/pairs.jsonl.gz
LLM_LIB := $(LLM)/cmake/bin
LLM_INC := -isystem $(LLM)/src/include -isystem $(LLM)/src/ggml/include
ifeq ($(ZOQ_LLAMA),1)
CHECK_DEPS += $(LLM_BIN)
endif
.PHONY: llm-deps llm-demo llm-quick llm-sst2

llm-deps:
	@PYTHON=$(PYTHON) sh tools/llm_deps.sh

$(LLM_SHIM): examples/llama/model_tensor.cpp examples/llama/model_tensor.h
	@test -f $(LLM_LIB)/libllama.so || { echo "$(LLM_LIB)/libllama.so missing: make llm-deps"; exit 1; }
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CXX     $@")
	$(Q)$(CXX) -std=c++17 -O2 -fPIC $(LLM_INC) -isystem $(LLM)/src/src -c $< -o $@

$(LLM_BIN): $(LLM_SRCS) $(wildcard examples/llama/*.h) $(LLM_SHIM) $(SUPPORT_SRCS) $(SO_LINK)
	@test -f $(LLM_LIB)/libllama.so || { echo "$(LLM_LIB)/libllama.so missing: make llm-deps"; exit 1; }
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $@")
	$(Q)$(CC) $(ZOQ_CFLAGS) $(CFLAGS) -Itests $(LLM_INC) $(LLM_SRCS) $(LLM_SHIM) \
	    $(SUPPORT_SRCS) -o $@ -L$(BUILD) -L$(LLM_LIB) \
	    -Wl,-rpath,$(abspath $(BUILD)):$(abspath $(LLM_LIB)) -lzoq -lllama -lggml \
	    -lggml-base -lstdc++ -lz -lm $(LDSAN)

# The experiment of docs/integrations/llama.md (nice: it takes the machine's cores).
llm-demo: $(LLM_BIN)
	nice $(LLM_BIN) --data $(LLM_DATA) $(LLM_ARGS)

llm-quick: $(LLM_BIN)
	$(LLM_BIN) --quick --data $(LLM_DATA)

# The SST-2 headline of docs/integrations/llama.md, under an hour on 2 cores:
# zero-shot and calibration baselines of the lmbff prompt on the 500-sentence
# dev split, then 300 steps of QZO on layer 29's attn_output and ffn_down Q4_1
# scales in place, with the label bias started at the calibration fit (k = 16),
# then zoq_llama eval re-scoring the saved GGUF. LLM_THREADS (2): ggml threads.
LLM_THREADS ?= 2
LLM_SST2 := $(LLM)/sst2-headline
llm-sst2: $(LLM_BIN)
	nice $(LLM_BIN) sst2 --dev 500 --k 16 --prompts lmbff --runs qzo --layers 29:29 \
	    --matrices attn_output,ffn_down --sign 0 --lr 1e-5 --eps 1e-3 --label-bias fit \
	    --probe 0:0 --steps 300 --train-batch 16 --threads $(LLM_THREADS) --out $(LLM_SST2) $(LLM_ARGS)
	nice $(LLM_BIN) eval --task sst2 --data $(LLM_SST2)/dev.tsv --load $(LLM_SST2)/qzo \
	    --threads $(LLM_THREADS) --json $(LLM_SST2)/eval.json
