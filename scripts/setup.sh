#!/usr/bin/env bash
# Installs what minivmm needs to build and test on Debian 12 (as root, or
# with sudo): compilers, cmocka, and the tools the vmhost tests use.
# Only missing packages are installed, so it is cheap to run again.
set -eu
PACKAGES=(
	build-essential   # gcc, make, binutils (as/ld build the test guests)
	clang             # second compiler, libFuzzer, ASan/UBSan
	libclang-rt-14-dev # clang's sanitizer and fuzzer runtimes
	libcmocka-dev     # unit-test framework
	liburing-dev      # virtio-blk's I/O engine
	libseccomp-dev    # the seccomp sandbox's filters
	libmicrohttpd-dev # HTTP server of the Firecracker-compatible API
	libjansson-dev    # JSON of the API and its config file
	clang-format      # style check
	util-linux        # setpriv, for the permission test
	qemu-system-x86   # the vmhost for Linux guest tests
	busybox-static    # init of the vmhost and of test guests
	cpio xz-utils zstd lz4 # initramfs building, kernel unpacking
	e2fsprogs         # mkfs.ext4 -d: virtio-blk test disk images
	iproute2          # ip netns/tuntap: the virtio-net tests
	curl socat        # API conformance tests; vsock examples
	jq                # the metrics tests parse each JSON line
)
missing=()
for p in "${PACKAGES[@]}"; do
	dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	SUDO=
	[ "$(id -u)" = 0 ] || SUDO=sudo
	$SUDO apt-get update -q
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
if [ ! -w /dev/kvm ] && [ -e /dev/kvm ]; then
	echo "note: /dev/kvm is not writable for $(id -un): add yourself to the 'kvm' group" >&2
fi
