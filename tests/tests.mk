# tests/tests.mk - the test suites' build rules: the Criterion suites, the mock CUDA plugins of
# test_plugin, valgrind and the RNG battery (included by the top-level Makefile).

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

valgrind: lib $(TESTS)
	@BUILD=$(BUILD) sh tests/valgrind.sh $(TESTS)

# A statistical battery on the Gaussian pair hashes (tests/battery/run.sh):
# not part of check, it reads tens of GB. MODE=pairs (default) or steps.
RNG_STREAM := $(BUILD)/tests/battery/rng_stream
$(RNG_STREAM): tests/battery/rng_stream.c $(wildcard lib/rng/*.h) lib/core/bits.h lib/core/hd.h
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $@")
	$(Q)$(CC) $(ZOQ_CFLAGS) $(CFLAGS) $< -o $@ -lm

rng-battery: $(RNG_STREAM)
	BUILD=$(BUILD) sh tests/battery/run.sh $(or $(MODE),pairs)

# The Gaussian draws themselves against N(0, 1) on 10^9 of them (moments,
# KS, tails to 6.5 sigma; docs/rng.md section 10). Not part of check.
RNG_QUALITY := $(BUILD)/tests/battery/gauss_quality
$(RNG_QUALITY): tests/battery/gauss_quality.c $(STATIC)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $@")
	$(Q)$(CC) $(ZOQ_CFLAGS) $(CFLAGS) $< -o $@ $(STATIC) $(DEP_LIBS) -lm

rng-quality: $(RNG_QUALITY)
	$(RNG_QUALITY) $(DRAWS)
