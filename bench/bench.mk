# bench/bench.mk - the benchmarks (make bench): each bench/NAME.c a program, JSON in
# bench/results/ (included by the top-level Makefile).

$(BUILD)/bench/%: bench/%.c $(wildcard bench/*.h) $(STATIC)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $@")
	$(Q)$(CC) $(ZOQ_CFLAGS) $(CFLAGS) -Wno-missing-prototypes -Itests $< -o $@ $(STATIC) \
	    $(BENCH_LIBS) $(DEP_LIBS) $(LDSAN)

# bench/quantized reads sklearn's digits.csv.gz through tests/support/digits.c.
$(BUILD)/bench/quantized: $(BUILD)/obj/tests/support/digits.o
$(BUILD)/bench/quantized: BENCH_LIBS := $(BUILD)/obj/tests/support/digits.o -lz

# The benchmarks' Python (MeZO in PyTorch, the plot) is SYS_PYTHON;
# ZOQ_BENCH_MAX=n caps the step sizes.
# rng_bench times RNG contract 1's Gaussian generator beside this build's in
# one process (docs/rng.md section 9): libzoq as of the last commit of
# contract 1, built from git into $(BUILD)/bench/v1 (outside a git checkout
# it times this build alone). It runs once per instruction set.
RNG_V1_COMMIT := 9f137882a740e08d33e07add66690cb534ecad92
RNG_V1_LIB := $(BUILD)/bench/v1/libzoq.so
$(RNG_V1_LIB):
	@rm -rf $(BUILD)/bench/v1 && mkdir -p $(BUILD)/bench/v1/src
	@if git cat-file -e $(RNG_V1_COMMIT) 2>/dev/null; then \
	    echo "  GIT     $(RNG_V1_COMMIT) (RNG contract 1) -> $(BUILD)/bench/v1"; \
	    git archive $(RNG_V1_COMMIT) Makefile include lib pkgconfig | tar -x -C $(BUILD)/bench/v1/src && \
	    $(MAKE) -s -C $(BUILD)/bench/v1/src BUILD=build SANITIZE= build/libzoq.so && \
	    cp -P $(BUILD)/bench/v1/src/build/libzoq.so* $(BUILD)/bench/v1/; \
	else echo "bench: no git history of RNG contract 1: rng_bench times this build alone"; fi

bench: $(BENCHES) $(RNG_V1_LIB) $(SO_LINK)
	@mkdir -p bench/results
	@rm -f bench/results/rng.json
	@for b in $(BENCHES); do ZOQ_BENCH_BUILD=$(BUILD) $$b || exit 1; done
	@ZOQ_CPU_ISA=avx2 ZOQ_BENCH_BUILD=$(BUILD) $(BUILD)/bench/rng_bench
	@$(SYS_PYTHON) bench/mezo_torch.py
	@$(SYS_PYTHON) bench/summary.py
