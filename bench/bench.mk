# `make bench`: builds bench/bench.c against libminivmm and prints its table.
$(BUILD)/bench/bench: bench/bench.c $(BUILD)/libminivmm.a
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(CC) $(CFLAGS) -Isrc -o $@ $< $(BUILD)/libminivmm.a $(LDFLAGS) $(LDLIBS)

bench: $(BUILD)/minivmm $(BUILD)/bench/bench $(BUILD)/bench/blkbench guests
	@$(BUILD)/bench/bench $(BUILD)/minivmm $(BUILD)/seed/vm.bin $(BUILD)/guests/hlt.bin
	@bench/rss.sh $(BUILD)/minivmm $(BUILD)/guests/hlt.bin
	@bench/boot.sh $(BUILD)/minivmm
	@bench/blk.sh $(BUILD)/minivmm $(BUILD)/bench/blkbench

# Linux boot time and RSS against QEMU microvm, in the vmhost.
bench-boot: $(BUILD)/minivmm
	@bench/boot.sh $(BUILD)/minivmm

# virtio-blk throughput, host CPU per GiB and RSS against QEMU microvm, in the
# vmhost.  blkbench runs in the guest (static: its initramfs is busybox's).
$(BUILD)/bench/blkbench: bench/blkbench.c
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)gcc -static -s -O2 -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -o $@ $<

.PHONY: bench-blk
bench-blk: $(BUILD)/minivmm $(BUILD)/bench/blkbench
	@bench/blk.sh $(BUILD)/minivmm $(BUILD)/bench/blkbench
