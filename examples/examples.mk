# examples/examples.mk - the examples' build rules: one file each (examples/*.c) or a folder of
# files (examples/<name>/) (included by the top-level Makefile).

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

examples: $(EXAMPLES)
