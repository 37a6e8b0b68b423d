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
        rng-battery rng-quality

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

# ---- Optional parts: their rules live in their own .mk files ----
include lib/backend/cuda/cuda.mk tests/fuzz/fuzz.mk examples/llama/llama.mk lib/mpi/mpi.mk

# ---- The two commands of the README, then the rest by concern ----
test check: lib $(TESTS) $(EXAMPLES) $(CHECK_DEPS)
	@BUILD=$(BUILD) CC=$(CC) CXX=$(CXX) PYTHON=$(PYTHON) SYS_PYTHON=$(SYS_PYTHON) SAN="$(SAN)" \
	    FUZZ="$(CHECK_FUZZ)" CUDA_CHECKS="$(if $(CHECK_CUDA),$(CUDA_HOST_TEST) $(CUDA_PTX))" \
	    LLM_DATA=$(LLM_DATA) sh tests/run.sh $(TESTS)

demo: lib
	ZOQ_LIBRARY=$(abspath $(SO_LINK)) $(SYS_PYTHON) demo/digits.py --out $(BUILD)/demo

include tests/tests.mk examples/examples.mk bench/bench.mk tools/install.mk

-include $(LIB_OBJS:.o=.d) $(SUPPORT_OBJS:.o=.d) $(TESTS:=.d)
