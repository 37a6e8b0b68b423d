# lib/backend/cuda/cuda.mk - the CUDA plugin libzoq-cuda.so (docs/backends.md),
# included by the Makefile: `make cuda`, `make check-gpu`, `make bench-gpu`.
# ZOQ_CUDA=1 (the default where nvcc is) also builds and host-tests it in
# `make check` and installs it; ZOQ_CUDA=0 leaves it out.
# Exact binary32 as the noise spec demands: nothing contracted into FMA, IEEE
# division and square root, no flush to zero. Static cudart: the plugin needs
# only the driver at run time. CUDA_ARCH picks the GPUs (sm_80: A100, sm_90:
# H100/H200, plus PTX for newer ones).
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
# `make check` builds the plugin and runs its host-side tests (not under
# SANITIZE: nvcc's host objects are not instrumented); `make install`
# installs it (building it first): what it installs does not depend on what
# an earlier make built.
ifeq ($(ZOQ_CUDA),1)
ifneq ($(SANITIZE),1)
CHECK_CUDA := $(CUDA_PLUGIN) $(CUDA_HOST_TEST) $(CUDA_PTX)
CHECK_DEPS += $(CHECK_CUDA)
endif
INSTALL_CUDA := $(CUDA_PLUGIN)
endif
.PHONY: cuda check-gpu bench-gpu

# test_plugin also loads the real plugin when make check builds it.
ifneq ($(CHECK_CUDA),)
$(BUILD)/tests/test_plugin: $(CUDA_PLUGIN)
$(BUILD)/tests/test_plugin: TEST_DEFS += -DZOQ_TEST_CUDA_PLUGIN_DIR='"$(abspath $(BUILD))"'
endif

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
