# minivmm: `make` builds build/minivmm; `make test` runs every test;
# `make run` runs the seed's guest with its trace; `make bench` benchmarks.
# Variants: `make SANITIZE=1` (ASan+UBSan, in build/asan), `make
# SANITIZE=thread CC=clang` (ThreadSanitizer, in build/tsan), `make CC=clang`.

CC ?= gcc
SANITIZE ?=
ifeq ($(SANITIZE),1)
BUILD ?= build/asan
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else ifeq ($(SANITIZE),thread)
BUILD ?= build/tsan
SAN_FLAGS := -fsanitize=thread -fno-omit-frame-pointer
else
BUILD ?= build
SAN_FLAGS :=
endif

# `make V=1` shows the full commands.
ifeq ($(V),1)
Q :=
else
Q := @
endif

CFLAGS ?= -O2 -g
CFLAGS += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -pthread -MMD -MP $(SAN_FLAGS)
LDFLAGS += -pthread $(SAN_FLAGS)
LDLIBS += -luring # virtio-blk's I/O engine
# The Firecracker API: JSON; HTTP from libmicrohttpd, loaded with dlopen by
# minivmm fc (src/api/mhd.h: linked, it drags GnuTLS into every minivmm).
LDLIBS += -ljansson -ldl
LDLIBS += -lseccomp # the per-thread seccomp filters (src/host/sandbox.c)

LIB_SRCS := $(filter-out src/main.c $(LIB_EXCLUDE),$(wildcard src/*.c src/*/*.c))
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/%.o)
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all check test test-build unit guests test-guests test-negative test-linux run bench bench-boot fuzz format check-format clean

all: $(BUILD)/minivmm

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/libminivmm.a: $(LIB_OBJS)
	@rm -f $@
	@echo "  AR      $@"
	$(Q)ar rcs $@ $^

$(BUILD)/minivmm: $(BUILD)/src/main.o $(BUILD)/libminivmm.a
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Unit tests (cmocka).
$(BUILD)/tests/test_%: tests/unit/test_%.c $(BUILD)/libminivmm.a
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(CC) $(CFLAGS) -Isrc -o $@ $< $(BUILD)/libminivmm.a $(LDFLAGS) $(LDLIBS) -lcmocka

# These tests rewrite an image while it loads (tests/unit/file_race.h).
$(BUILD)/tests/test_loader $(BUILD)/tests/test_pvh $(BUILD)/tests/test_bzimage: LDFLAGS += -Wl,--wrap=pread

# The vsock test programs of the Linux tests (tests/linux/vsock), static:
# the initramfs has no libc, the vmhost no compiler.
$(BUILD)/linux/vsock-%: tests/linux/vsock/%.c tests/linux/vsock/common.h
	@mkdir -p $(dir $@)
	$(Q)gcc -static -O2 -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -o $@ $<

unit: $(UNIT_BINS)
	@tests/run-unit.sh $(UNIT_BINS)

# Everything the suites need, built for this variant.
test-build: $(BUILD)/minivmm $(UNIT_BINS) guests

# Guest programs for the guest tests, built with the host's binutils.
include tests/guests/guests.mk

test-guests: $(BUILD)/minivmm guests
	@tests/guests/run.sh $(BUILD)/minivmm $(BUILD)/guests

test-negative: $(BUILD)/minivmm guests
	@tests/negative.sh $(BUILD)/minivmm $(BUILD)/guests

# Linux guests (Debian kernels) in the vmhost; fetches the kernels once.
test-linux: $(BUILD)/minivmm guests
	@tests/linux/run.sh $(BUILD)/minivmm $(BUILD)/guests

test: test-build
	@tests/run-all.sh $(BUILD)

# Everything CI runs: all variants, format, fuzz smoke.
check:
	@tests/check.sh

# The seed's own guest, built with the seed's own recipe.
$(BUILD)/seed/vm.bin: examples/seed/vm.S
	@mkdir -p $(dir $@)
	as -32 $< -o $(BUILD)/seed/vm.o
	ld -m elf_i386 --oformat binary -N -e _start -Ttext 0x10000 -o $@ $(BUILD)/seed/vm.o

run: $(BUILD)/minivmm $(BUILD)/seed/vm.bin
	$(BUILD)/minivmm run --raw $(BUILD)/seed/vm.bin --trace-io --max-exits 5

include bench/bench.mk
include tests/fuzz/fuzz.mk

format:
	clang-format -i $(wildcard src/*.[ch] src/*/*.[ch] tests/unit/*.[ch] tests/fuzz/*.c bench/*.c tests/guests/*.c)

check-format:
	@tests/check-format.sh

clean:
	rm -rf build

-include $(LIB_OBJS:.o=.d) $(BUILD)/src/main.d
