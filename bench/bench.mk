# `make bench`: builds bench/bench.c against libminivmm and prints its table.
$(BUILD)/bench/bench: bench/bench.c $(BUILD)/libminivmm.a
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(CC) $(CFLAGS) -Isrc -o $@ $< $(BUILD)/libminivmm.a $(LDFLAGS) $(LDLIBS)

bench: $(BUILD)/minivmm $(BUILD)/bench/bench $(BUILD)/bench/apibench $(BUILD)/bench/blkbench $(BUILD)/bench/netbench guests
	@$(BUILD)/bench/bench $(BUILD)/minivmm $(BUILD)/seed/vm.bin $(BUILD)/guests/hlt.bin
	@bench/rss.sh $(BUILD)/minivmm $(BUILD)/guests/hlt.bin
	@$(BUILD)/bench/apibench $(BUILD)/minivmm
	@bench/boot.sh $(BUILD)/minivmm
	@bench/blk.sh $(BUILD)/minivmm $(BUILD)/bench/blkbench
	@bench/net.sh $(BUILD)/minivmm $(BUILD)/bench/netbench

# The in-process table alone, as CI runs it: it must run (with the vCPU
# threads sandboxed, as in minivmm run); its numbers are not checked.
.PHONY: bench-smoke
bench-smoke: $(BUILD)/minivmm $(BUILD)/bench/bench $(BUILD)/seed/vm.bin guests
	@$(BUILD)/bench/bench $(BUILD)/minivmm $(BUILD)/seed/vm.bin $(BUILD)/guests/hlt.bin

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

# virtio-net and virtio-vsock throughput, ping and host CPU per GiB against
# QEMU microvm (virtio-net-device with vhost=off, vhost-vsock-device), in the
# vmhost.  netbench is both ends of each stream (static: it runs in the
# guest's busybox initramfs and in the vmhost).
$(BUILD)/bench/netbench: bench/netbench.c
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)gcc -static -s -O2 -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -o $@ $<

.PHONY: bench-net
bench-net: $(BUILD)/minivmm $(BUILD)/bench/netbench
	@bench/net.sh $(BUILD)/minivmm $(BUILD)/bench/netbench

# The Firecracker-compatible API: CPU and wall time from exec to the API
# socket accepting, and GET / latency (p50, p99), on this machine.
$(BUILD)/bench/apibench: bench/apibench.c
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(CC) $(CFLAGS) -o $@ $< $(LDFLAGS)

.PHONY: bench-api
bench-api: $(BUILD)/minivmm $(BUILD)/bench/apibench
	@$(BUILD)/bench/apibench $(BUILD)/minivmm
