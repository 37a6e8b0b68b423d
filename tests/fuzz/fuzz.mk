# tests/fuzz/fuzz.mk - fuzz targets (tests/fuzz/fuzz_*.c), included by the
# Makefile. With ZOQ_FUZZ=1 (the default) `make check` replays each committed
# corpus tests/fuzz/corpus/<name>/ through the target with the ordinary
# compiler (replay.c); `make fuzz` runs libFuzzer on them with clang.
FUZZ_NAMES := $(patsubst tests/fuzz/fuzz_%.c,%,$(sort $(wildcard tests/fuzz/fuzz_*.c)))
REPLAYS := $(FUZZ_NAMES:%=$(BUILD)/fuzz/replay_%)
ifeq ($(ZOQ_FUZZ),1)
CHECK_DEPS += $(REPLAYS)
CHECK_FUZZ := $(FUZZ_NAMES)
endif
.PHONY: fuzz

$(BUILD)/fuzz/replay_%: tests/fuzz/fuzz_%.c tests/fuzz/replay.c $(STATIC)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $@")
	$(Q)$(CC) $(ZOQ_CFLAGS) $(CFLAGS) -Wno-missing-prototypes -MMD -MP $< tests/fuzz/replay.c \
	    -o $@ $(STATIC) $(DEP_LIBS) $(LDSAN)

FUZZ_CC ?= clang
FUZZ_TIME ?= 60
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_FLAGS := -std=c11 -g -O1 -fsanitize=fuzzer $(FUZZ_SAN) -Iinclude -Ilib
# The library as the targets see it: built by FUZZ_CC into build/fuzz/lib with
# libFuzzer's coverage and the same sanitizers (a make of its own, so that its
# objects follow every rule of the library's build).
FUZZ_LIB := build/fuzz/lib/libzoq.a

.PHONY: fuzz-lib
fuzz-lib:
	@$(MAKE) --no-print-directory CC=$(FUZZ_CC) BUILD=build/fuzz/lib \
	    CFLAGS="-g -O1 -fsanitize=fuzzer-no-link $(FUZZ_SAN)" $(FUZZ_LIB)

build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c fuzz-lib
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) $< $(FUZZ_LIB) $(DEP_LIBS) -o $@

# FUZZ_TIME seconds per target; new inputs go to build/fuzz/new_<name>/.
# Fold them into the committed corpus with
#   build/fuzz/fuzz_<name> -merge=1 tests/fuzz/corpus/<name> build/fuzz/new_<name>
fuzz: $(FUZZ_NAMES:%=build/fuzz/fuzz_%)
	@for t in $(FUZZ_NAMES); do \
	    mkdir -p build/fuzz/new_$$t; \
	    build/fuzz/fuzz_$$t -max_total_time=$(FUZZ_TIME) -max_len=65536 \
	        -dict=tests/fuzz/safetensors.dict \
	        build/fuzz/new_$$t tests/fuzz/corpus/$$t || exit 1; \
	done

-include $(REPLAYS:=.d)
