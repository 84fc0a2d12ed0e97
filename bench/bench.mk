# `make bench`: builds bench/bench.c against libminivmm and prints its table.
$(BUILD)/bench/bench: bench/bench.c $(BUILD)/libminivmm.a
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(CC) $(CFLAGS) -Isrc -o $@ $< $(BUILD)/libminivmm.a $(LDFLAGS) $(LDLIBS)

bench: $(BUILD)/minivmm $(BUILD)/bench/bench guests
	@$(BUILD)/bench/bench $(BUILD)/minivmm $(BUILD)/seed/vm.bin $(BUILD)/guests/hlt.bin
	@bench/rss.sh $(BUILD)/minivmm $(BUILD)/guests/hlt.bin
	@bench/boot.sh $(BUILD)/minivmm

# Linux boot time and RSS against QEMU microvm, in the vmhost.
bench-boot: $(BUILD)/minivmm
	@bench/boot.sh $(BUILD)/minivmm
