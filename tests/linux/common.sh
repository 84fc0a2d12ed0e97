# Host-side set-up shared by tests/linux/run.sh and bench/boot.sh (sourced):
# fetches the Debian kernels, extracts both PVH vmlinux files, builds the
# guest initramfs and marktime, and stages what the vmhost session needs.

LINUX_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LINUX_TOP=$(cd "$LINUX_HERE/../.." && pwd)
. "$LINUX_TOP/tests/vmhost/fetch.sh"

# le32 FILE OFFSET: the little-endian 32-bit number at OFFSET.
le32() { od -An -tu4 -j "$2" -N4 "$1" | tr -d ' '; }

# extract_vmlinux BZIMAGE OUT: the ELF inside a bzImage (xz or legacy lz4),
# found from the setup header's payload_offset/payload_length; cached.
extract_vmlinux() {
	local bz=$1 out=$2 sects off len magic
	[ -s "$out" ] && [ "$out" -nt "$bz" ] && return 0
	sects=$(od -An -tu1 -j $((0x1F1)) -N1 "$bz" | tr -d ' ')
	[ "$sects" = 0 ] && sects=4
	off=$(($(le32 "$bz" $((0x248))) + (sects + 1) * 512))
	len=$(le32 "$bz" $((0x24C)))
	magic=$(tail -c +$((off + 1)) "$bz" | head -c 6 | od -An -tx1 | tr -d ' ')
	case "$magic" in
	fd377a585a00) tail -c +$((off + 1)) "$bz" | head -c "$len" | xz -dcq >"$out.tmp" 2>/dev/null ;;
	02214c18*) tail -c +$((off + 1)) "$bz" | head -c "$len" | lz4 -dcq >"$out.tmp" 2>/dev/null ;;
	*)
		echo "extract_vmlinux: $bz: unknown payload magic $magic" >&2
		return 1
		;;
	esac
	if [ "$(head -c 4 "$out.tmp" | od -An -c | tr -d ' ')" != '177ELF' ]; then
		echo "extract_vmlinux: $bz: payload did not decompress to an ELF" >&2
		rm -f "$out.tmp"
		return 1
	fi
	mv "$out.tmp" "$out"
}

# linux_prepare MINIVMM STAGE: fills directory STAGE (symlinks) with
# minivmm, the kernels (cloud|generic).{bzImage,vmlinux}, initrd, marktime,
# hold.sh, scenario_lib.sh and bin/ (bash and the coreutils the scripts use; busybox lacks some
# options), then sets LINUX_FILES to the vmhost.sh -f and -l arguments (-l:
# libmicrohttpd, which minivmm fc loads with dlopen, src/api/mhd.c).
linux_prepare() {
	local minivmm=$1 stage=$2 cache f mhd
	vmhost_fetch || return 1
	cache=$VMHOST_CACHE
	extract_vmlinux "$VMHOST_CLOUD_KERNEL" "$cache/root-cloud-amd64/vmlinux" || return 1
	extract_vmlinux "$VMHOST_GENERIC_KERNEL" "$cache/root-amd64/vmlinux" || return 1
	"$LINUX_TOP/tests/vmhost/mkinitrd.sh" "$cache/linux-test-initrd.cpio.gz" || return 1
	mkdir -p "$LINUX_TOP/build/linux"
	gcc -static -O2 -Wall -Wextra -Werror -std=c11 -D_GNU_SOURCE \
		-o "$LINUX_TOP/build/linux/marktime" "$LINUX_HERE/marktime.c" || return 1
	rm -rf "$stage"
	mkdir -p "$stage/bin"
	ln -s "$(realpath "$minivmm")" "$stage/minivmm"
	ln -s "$VMHOST_CLOUD_KERNEL" "$stage/cloud.bzImage"
	ln -s "$cache/root-cloud-amd64/vmlinux" "$stage/cloud.vmlinux"
	ln -s "$VMHOST_GENERIC_KERNEL" "$stage/generic.bzImage"
	ln -s "$cache/root-amd64/vmlinux" "$stage/generic.vmlinux"
	ln -s "$cache/linux-test-initrd.cpio.gz" "$stage/initrd"
	ln -s "$LINUX_TOP/build/linux/marktime" "$stage/marktime"
	ln -s "$LINUX_HERE/hold.sh" "$stage/hold.sh"
	ln -s "$LINUX_HERE/scenario_lib.sh" "$stage/scenario_lib.sh"
	for f in bash env date timeout; do
		ln -s "$(command -v "$f")" "$stage/bin/$f"
	done
	mhd=$(PATH=$PATH:/sbin:/usr/sbin ldconfig -p | sed -n 's/^[[:space:]]*libmicrohttpd\.so\.12 .*=> //p' | head -n 1)
	[ -n "$mhd" ] || { echo "linux_prepare: no libmicrohttpd.so.12 (scripts/setup.sh installs it)" >&2; return 1; }
	LINUX_FILES=(-f "$stage" -l "$mhd")
}

# The vmhost runs its SCRIPT with busybox sh: this stub puts bin/ first on
# PATH and runs the real script with bash.  Usage: vmhost_stub DIR SCRIPT
vmhost_stub() {
	printf '%s\n' "export PATH=/work/$1/bin:\$PATH" "cd /work/$1 && exec bash ./$2"
}

# vmhost_session LOG VMHOST-RUN-ARGS...: `vmhost.sh run ARGS` with its output
# in LOG.  QEMU TCG (7.2, multi-threaded) has two ways of losing a session
# that are the test bed's, not the guest's:
#  - it freezes the vmhost: one vCPU keeps executing a stale int3 after the
#    vmhost kernel patched its text (kvm flips static keys as VMs come and
#    go).  A session whose output stops for VMHOST_SILENCE s (240; the
#    vmhost kernel's own messages don't count) is killed;
#  - the vmhost resets itself (QEMU runs it with -no-reboot, so QEMU exits 0
#    with no VMHOST-STATUS line and no panic message): nothing a process in
#    the vmhost does may reset it.
# Either way the session runs again, up to VMHOST_RETRIES (2) times, unless
# a test had already failed in it: then its result stands.  Returns
# vmhost.sh's status (125 if frozen or reset every time).
vmhost_session() {
	local log=$1 try pid size last idle rc tmp why silence=${VMHOST_SILENCE:-240}
	shift
	for ((try = 0; try <= ${VMHOST_RETRIES:-2}; try++)); do
		tmp=$(mktemp -d)
		TMPDIR=$tmp setsid "$LINUX_TOP/tests/vmhost/vmhost.sh" run "$@" >"$log" 2>&1 </dev/null &
		pid=$! last=-1 idle=0
		while kill -0 "$pid" 2>/dev/null; do
			sleep 5
			# Progress is a line of the script's own; a frozen vmhost
			# still prints kernel lines ("soft lockup", RCU stalls).
			size=$(tr -d '\r' <"$log" | grep -cv '^\[ *[0-9]*\.[0-9]*\]')
			if [ "$size" = "$last" ]; then idle=$((idle + 5)); else idle=0 last=$size; fi
			# Every process of the session: timeout(1) in vmhost.sh has a
			# process group of its own (and passes the signal to QEMU).
			[ "$idle" -ge "$silence" ] && kill $(ps -o pid= -s "$pid") 2>/dev/null && break
		done
		rc=0
		wait "$pid" || rc=$?
		rm -rf "$tmp"
		if tr -d '\r' <"$log" | grep -q '^not ok - '; then
			return "$rc"
		elif [ "$idle" -ge "$silence" ]; then
			why="froze (no output for $silence s)"
		elif [ "$rc" = 125 ] && grep -q '^vmhost: qemu exited (0) without a VMHOST-STATUS marker' "$log"; then
			why="reset itself (QEMU exited 0 without a status)"
		else
			return "$rc"
		fi
		cp "$log" "$log.lost$try"
		echo "# vmhost $why; running the session again (log kept in ${log#"$LINUX_TOP"/}.lost$try)"
	done
	return 125
}
