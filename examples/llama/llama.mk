# examples/llama/llama.mk - zoq inside llama.cpp, included by the Makefile.
# `make llm-deps` builds the engine and unpacks the model into build/llm/
# (tools/llm_deps.sh); once it is there ZOQ_LLAMA defaults to 1 and `make
# check` also builds zoq_llama and runs its --quick smoke.
# LLM_ARGS adds options to llm-demo (e.g. LLM_ARGS="--dev 100 --steps 20").
LLM := build/llm
LLM_SRCS := $(sort $(wildcard examples/llama/*.c))
LLM_BIN := $(BUILD)/llm/zoq_llama
LLM_DATA ?= ../shared/data/hh-rlhf-harmless/pairs.jsonl.gz
LLM_LIB := $(LLM)/cmake/bin
LLM_INC := -isystem $(LLM)/src/include -isystem $(LLM)/src/ggml/include
ifeq ($(ZOQ_LLAMA),1)
CHECK_DEPS += $(LLM_BIN)
endif
.PHONY: llm-deps llm-demo llm-quick

llm-deps:
	@PYTHON=$(PYTHON) sh tools/llm_deps.sh

$(LLM_BIN): $(LLM_SRCS) $(wildcard examples/llama/*.h) $(SUPPORT_SRCS) $(SO_LINK)
	@test -f $(LLM_LIB)/libllama.so || { echo "$(LLM_LIB)/libllama.so missing: make llm-deps"; exit 1; }
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $@")
	$(Q)$(CC) $(ZOQ_CFLAGS) $(CFLAGS) -Itests $(LLM_INC) $(LLM_SRCS) \
	    $(SUPPORT_SRCS) -o $@ -L$(BUILD) -L$(LLM_LIB) \
	    -Wl,-rpath,$(abspath $(BUILD)):$(abspath $(LLM_LIB)) -lzoq -lllama -lggml \
	    -lggml-base -lz -lm $(LDSAN)

# The experiment of docs/integrations/llama.md (nice: it takes the machine's cores).
llm-demo: $(LLM_BIN)
	nice $(LLM_BIN) --data $(LLM_DATA) $(LLM_ARGS)

llm-quick: $(LLM_BIN)
	$(LLM_BIN) --quick --data $(LLM_DATA)
