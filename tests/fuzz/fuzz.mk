# Fuzz targets (libFuzzer, clang): one per parser of untrusted input.
# `make fuzz` builds them; `make fuzz-smoke` runs each for FUZZ_SECONDS from
# its seed corpus (the test guests for the ELF loader).
FUZZ_DIR := build/fuzz
FUZZ_FLAGS := -g -O1 -std=c11 -D_GNU_SOURCE -Isrc \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
FUZZ_LIB_SRCS := $(filter-out src/main.c $(LIB_EXCLUDE),$(wildcard src/*.c src/*/*.c))
FUZZ_TARGETS := $(patsubst tests/fuzz/%.c,$(FUZZ_DIR)/%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_SECONDS ?= 20

.PHONY: fuzz fuzz-smoke

$(FUZZ_DIR)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_LIB_SRCS)
	@mkdir -p $(dir $@)
	@echo "  FUZZ    $@"
	$(Q)clang $(FUZZ_FLAGS) -o $@ $< $(FUZZ_LIB_SRCS) -pthread $(LDLIBS)

fuzz: $(FUZZ_TARGETS)

fuzz-smoke: $(FUZZ_TARGETS) guests
	@tests/fuzz/smoke.sh $(FUZZ_SECONDS) $(FUZZ_DIR) $(GUEST_DIR)
