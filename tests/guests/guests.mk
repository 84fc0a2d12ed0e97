# Test guests, built with binutils (and gcc for the freestanding C guest).
# Raw real-mode guests are linked at 0: CS base is 0x10000, IP starts at 0.
GUEST_DIR := $(BUILD)/guests
GUEST_CFLAGS := -m64 -O2 -ffreestanding -fno-pic -fno-pie -fno-stack-protector \
	-mno-red-zone -nostdlib -Wall -Wextra -Werror

GUESTS := $(addprefix $(GUEST_DIR)/, real.bin hlt.bin exit42.bin protected.bin \
	mmio.bin long.bin triple.bin smp_exit.bin protected.elf long.elf far.elf smp.elf memcheck.elf \
	spam.bin e9spam.bin reboot.bin idle.bin ticker.elf boot_timer.elf)
GUESTS += $(addprefix $(GUEST_DIR)/, virtio_rng.elf virtio_blk.elf virtio_blk_rate.elf virtio_blk_swap.elf virtio_hostile.elf virtio_net.elf virtio_net_rate.elf virtio_vsock.elf)

guests: $(GUESTS) $(BUILD)/seed/vm.bin

$(GUEST_DIR)/%.16.o: tests/guests/%.S
	@mkdir -p $(dir $@)
	$(Q)as --32 -o $@ $<
$(GUEST_DIR)/%.32.o: tests/guests/%.S
	@mkdir -p $(dir $@)
	$(Q)as --32 -o $@ $<
$(GUEST_DIR)/%.64.o: tests/guests/%.S
	@mkdir -p $(dir $@)
	$(Q)as --64 -o $@ $<

$(GUEST_DIR)/real.bin $(GUEST_DIR)/hlt.bin $(GUEST_DIR)/exit42.bin $(GUEST_DIR)/spam.bin $(GUEST_DIR)/reboot.bin $(GUEST_DIR)/idle.bin $(GUEST_DIR)/e9spam.bin: $(GUEST_DIR)/%.bin: $(GUEST_DIR)/%.16.o
	$(Q)ld -m elf_i386 --oformat binary -N -e _start -Ttext 0 -o $@ $<
$(GUEST_DIR)/e9spam.16.o: tests/guests/spam.S
	@mkdir -p $(dir $@)
	$(Q)as --32 --defsym E9=1 -o $@ $<
$(GUEST_DIR)/protected.bin $(GUEST_DIR)/mmio.bin: $(GUEST_DIR)/%.bin: $(GUEST_DIR)/%.32.o
	$(Q)ld -m elf_i386 --oformat binary -N -e _start -Ttext 0x10000 -o $@ $<
$(GUEST_DIR)/long.bin $(GUEST_DIR)/triple.bin $(GUEST_DIR)/smp_exit.bin: $(GUEST_DIR)/%.bin: $(GUEST_DIR)/%.64.o
	$(Q)ld -m elf_x86_64 --oformat binary -N -e _start -Ttext 0x10000 -o $@ $<
$(GUEST_DIR)/protected.elf $(GUEST_DIR)/ticker.elf $(GUEST_DIR)/boot_timer.elf: $(GUEST_DIR)/%.elf: $(GUEST_DIR)/%.32.o
	$(Q)ld --no-warn-rwx-segments -m elf_i386 -N -e _start -Ttext 0x100000 -o $@ $<
$(GUEST_DIR)/long.elf: $(GUEST_DIR)/long.64.o
	$(Q)ld --no-warn-rwx-segments -m elf_x86_64 -N -e _start -Ttext 0x100000 -o $@ $<
# Linked at 1 GiB: outside a 256 MiB guest (a negative test).
$(GUEST_DIR)/far.elf: $(GUEST_DIR)/long.64.o
	$(Q)ld --no-warn-rwx-segments -m elf_x86_64 -N -e _start -Ttext 0x40000000 -o $@ $<
$(GUEST_DIR)/smp.elf $(GUEST_DIR)/memcheck.elf: $(GUEST_DIR)/%.elf: tests/guests/start64.S tests/guests/%.c
	@mkdir -p $(dir $@)
	$(Q)gcc $(GUEST_CFLAGS) -static -Wl,-N,-Ttext=0x100000,-e,_start,--build-id=none,--no-warn-rwx-segments,-z,noexecstack -o $@ $^
# virtio-mmio guests: the polling driver (virtio_lib.c) linked into each.
VIRTIO_GUEST_SRC := tests/guests/start64.S tests/guests/virtio_lib.c
$(GUEST_DIR)/virtio_rng.elf $(GUEST_DIR)/virtio_blk.elf $(GUEST_DIR)/virtio_blk_rate.elf $(GUEST_DIR)/virtio_blk_swap.elf $(GUEST_DIR)/virtio_hostile.elf $(GUEST_DIR)/virtio_net.elf $(GUEST_DIR)/virtio_net_rate.elf $(GUEST_DIR)/virtio_vsock.elf: $(GUEST_DIR)/%.elf: tests/guests/%.c $(VIRTIO_GUEST_SRC) tests/guests/virtio.h
	@mkdir -p $(dir $@)
	$(Q)gcc $(GUEST_CFLAGS) -static -Wl,-N,-Ttext=0x100000,-e,_start,--build-id=none,--no-warn-rwx-segments,-z,noexecstack -o $@ $(VIRTIO_GUEST_SRC) $<
# kvm_pvm emulates CPL0 code one instruction at a time, SSE not included:
# the vsock guest's packet code would otherwise get vector moves.
$(GUEST_DIR)/virtio_vsock.elf: GUEST_CFLAGS += -mgeneral-regs-only
