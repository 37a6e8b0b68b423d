# lib/mpi/mpi.mk - libzoq-mpi, the optional MPI add-on (include/zoq_mpi.h,
# docs/distributed.md), included by the Makefile. Built with ZOQ_MPI=1, the
# default where an MPI compiler is (MPICC; Debian: libopenmpi-dev, make
# deps); libzoq never links MPI. Its own version node ZOQ_MPI_0.1, pkg-config zoq-mpi. `make check`
# also builds it, the MPI tests, the example and runs tests/mpi/run.sh;
# `make valgrind` runs tests/mpi/valgrind.sh.
MPI_SRCS := $(sort $(wildcard lib/mpi/*.c))
MPI_SO_REAL := $(BUILD)/libzoq-mpi.so.$(VERSION)
MPI_SO_MAJOR := $(BUILD)/libzoq-mpi.so.$(MAJOR)
MPI_SO_LINK := $(BUILD)/libzoq-mpi.so
MPI_TEST := $(BUILD)/tests/mpi/test_mpi
MPI_EXAMPLE := $(BUILD)/examples/mpi/digits_mpi
MPI_BENCH := $(BUILD)/bench/mpi_scaling

ifeq ($(ZOQ_MPI),1)
MPI_OBJS := $(MPI_SRCS:%.c=$(BUILD)/mpi/obj/%.o)
MPI_LINK_ZOQ := -L$(BUILD) -Wl,-rpath,$(abspath $(BUILD)) -lzoq-mpi -lzoq
MPI_PC_SED = $(PC_SED:pkgconfig/zoq.pc.in=) -e 's|@MPI_CFLAGS@|$(shell $(MPICC) --showme:compile 2>/dev/null)|' \
    -e 's|@MPI_LIBS@|$(shell $(MPICC) --showme:link 2>/dev/null)|' pkgconfig/zoq-mpi.pc.in

.PHONY: mpi install-mpi uninstall-mpi bench-mpi valgrind-mpi
mpi: $(MPI_SO_REAL) $(MPI_SO_MAJOR) $(MPI_SO_LINK) $(BUILD)/zoq-mpi.pc
lib: mpi
test check: $(MPI_TEST) $(MPI_EXAMPLE) $(MPI_BENCH)
valgrind: valgrind-mpi

# Two cases on 2 ranks under memcheck, OpenMPI's own leaks suppressed.
valgrind-mpi: $(MPI_TEST)
	@sh tests/mpi/valgrind.sh $(BUILD)

$(BUILD)/mpi/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  MPICC   $<")
	$(Q)$(MPICC) $(CPPFLAGS) $(ZOQ_CFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

$(MPI_SO_REAL): $(MPI_OBJS) lib/mpi/libzoq-mpi.map $(SO_LINK)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(MPICC) -shared $(LDSAN) $(LDFLAGS) -Wl,-soname,libzoq-mpi.so.$(MAJOR) \
	    -Wl,--version-script=lib/mpi/libzoq-mpi.map -Wl,--no-undefined -o $@ $(MPI_OBJS) \
	    -L$(BUILD) -lzoq -lxxhash

$(MPI_SO_MAJOR) $(MPI_SO_LINK): $(MPI_SO_REAL)
	$(Q)ln -sf $(notdir $<) $@

$(BUILD)/zoq-mpi.pc: pkgconfig/zoq-mpi.pc.in include/zoq/core.h
	$(Q)$(MPI_PC_SED) > $@

$(MPI_TEST): tests/mpi/test_mpi.c $(wildcard tests/mpi/*.h) $(MPI_SO_LINK)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  MPICC   $@")
	$(Q)$(MPICC) $(ZOQ_CFLAGS) $(CFLAGS) -Wno-missing-prototypes -Itests $< -o $@ \
	    $(MPI_LINK_ZOQ) -lm $(LDSAN)

$(MPI_EXAMPLE): $(wildcard examples/mpi/*.c examples/mpi/*.h) tests/support/digits.c $(MPI_SO_LINK)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  MPICC   $@")
	$(Q)$(MPICC) $(ZOQ_CFLAGS) $(CFLAGS) -Itests $(filter %.c,$^) -o $@ $(MPI_LINK_ZOQ) \
	    -lz -lm $(LDSAN)

$(MPI_BENCH): bench/mpi/scaling.c bench/timing.h $(MPI_SO_LINK)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  MPICC   $@")
	$(Q)$(MPICC) $(ZOQ_CFLAGS) $(CFLAGS) -Wno-missing-prototypes -Ibench $< -o $@ \
	    $(MPI_LINK_ZOQ) -lopenblas -lm $(LDSAN)

# Steps/s against ranks and bytes per step (bench/results/mpi.json).
bench-mpi: $(MPI_BENCH)
	@mkdir -p bench/results
	sh bench/mpi/run.sh $(MPI_BENCH) bench/results/mpi.json

install: install-mpi
uninstall: uninstall-mpi
install-mpi: mpi
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(PKGCONFIGDIR)
	install -m 644 include/zoq_mpi.h $(DESTDIR)$(INCLUDEDIR)/zoq_mpi.h
	install -m 755 $(MPI_SO_REAL) $(DESTDIR)$(LIBDIR)/
	ln -sf libzoq-mpi.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libzoq-mpi.so.$(MAJOR)
	ln -sf libzoq-mpi.so.$(MAJOR) $(DESTDIR)$(LIBDIR)/libzoq-mpi.so
	$(MPI_PC_SED) > $(DESTDIR)$(PKGCONFIGDIR)/zoq-mpi.pc
uninstall-mpi:
	rm -f $(DESTDIR)$(INCLUDEDIR)/zoq_mpi.h $(DESTDIR)$(LIBDIR)/libzoq-mpi.so.$(VERSION) \
	    $(DESTDIR)$(LIBDIR)/libzoq-mpi.so.$(MAJOR) $(DESTDIR)$(LIBDIR)/libzoq-mpi.so \
	    $(DESTDIR)$(PKGCONFIGDIR)/zoq-mpi.pc

-include $(MPI_OBJS:.o=.d) $(MPI_TEST).d
else
mpi bench-mpi:
	@echo "make $@: ZOQ_MPI=0, or no MPI compiler (mpicc; make deps installs libopenmpi-dev)"; exit 1
endif
