/* Command-line parsing.  It only checks what can be checked without KVM
 * (the host's limits are checked by vm_create). */
#include "config.h"
#include "err.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CONFIG_MAX_CPUS 4096

const char config_usage[] =
	"usage: minivmm run (--raw FILE | --kernel FILE) [options]\n"
	"       minivmm fc [Firecracker's options: see 'minivmm fc --help']\n"
	"       minivmm --help | --version\n"
	"\n"
	"Guest image (one of):\n"
	"  --raw FILE          flat binary, loaded at --load-addr, started in --mode\n"
	"  --kernel FILE       a Linux bzImage, a PVH vmlinux, or an ELF executable\n"
	"                      (ELF32: protected mode, ELF64: long mode)\n"
	"\n"
	"Linux kernels:\n"
	"  --initrd FILE       initial ramdisk\n"
	"  --cmdline STRING    kernel command line (e.g. \"console=ttyS0\")\n"
	"\n"
	"PC platform (Linux kernels, or any guest with --platform pc):\n"
	"  --serial MODE       the COM1 UART: stdio (default), file:PATH (appended\n"
	"                      across guest reboots) or none\n"
	"  --on-reboot ACTION  exit (default: minivmm exits 0) or restart\n"
	"\n"
	"Raw images:\n"
	"  --mode MODE         real, protected or long (default: real)\n"
	"  --load-addr ADDR    guest physical load address (default: 0x10000)\n"
	"  --entry ADDR        guest physical entry point (default: the load address)\n"
	"\n"
	"Devices (virtio-mmio; slot n at 0xd0000000 + n * 0x1000, in this order;\n"
	"from slot 1 with --boot-timer):\n"
	"  --drive PATH[,ro][,serial=S][,cache=writeback|unsafe][,io=uring|sync]\n"
	"                      a virtio-blk disk (repeatable: vda, vdb, ...) on a\n"
	"                      file or block device; ro: read-only; serial: its\n"
	"                      id (default: the file name, 20 bytes); cache=unsafe:\n"
	"                      flushes are not synced; io=sync: preadv/pwritev\n"
	"    [,bw=BYTES/MS[+BURST]][,iops=N/MS[+BURST]]\n"
	"                      rate limits (Firecracker's token buckets): at most\n"
	"                      BYTES of data (bw) or N requests (iops) per MS\n"
	"                      milliseconds, refilled continuously; BURST: an\n"
	"                      extra budget used once at the start\n"
	"  --net tap=NAME[,mac=MAC][,mtu=N]\n"
	"                      a virtio-net interface on an existing tap device\n"
	"                      (repeatable: eth0, eth1, ...); default MAC: a\n"
	"                      locally administered one derived from the tap name\n"
	"    [,rx-bw=BYTES/MS][,rx-iops=N/MS][,tx-bw=BYTES/MS][,tx-iops=N/MS]\n"
	"                      rate limits as for --drive, on the frames the\n"
	"                      guest receives (rx) and sends (tx)\n"
	"  --vsock cid=N,uds=PATH\n"
	"                      a virtio-vsock device with guest CID N (3 or more)\n"
	"                      and Firecracker's host side: host programs connect\n"
	"                      to the UNIX socket PATH and write CONNECT <port>;\n"
	"                      the guest's connections to CID 2 port P go to PATH_P\n"
	"  --rng[=bw=BYTES/MS[+BURST][,iops=N/MS[+BURST]]]\n"
	"                      an entropy device fed by getrandom(2); bw, iops:\n"
	"                      rate limits as for --drive (bytes handed out,\n"
	"                      requests)\n"
	"\n"
	"Machine:\n"
	"  --platform NAME     pc (default for Linux: interrupt controllers, COM1,\n"
	"                      i8042, RTC, ACPI power-off and reset) or bare\n"
	"                      (default for raw and ELF guests: memory, vCPUs and\n"
	"                      the test ports 0xE9 and 0x501)\n"
	"  --mem SIZE          guest memory; K, M, G suffixes, plain number = MiB\n"
	"                      (default: 256M)\n"
	"  --cpus N            number of vCPUs (default: 1)\n"
	"  --prefault MODE     fault guest memory in from a second thread while the\n"
	"                      guest boots, instead of on the guest's first touch:\n"
	"                      ahead (default for a bzImage): just ahead of the\n"
	"                      guest where it writes memory in order, at most 16 MiB\n"
	"                      it has not reached; all: all of --mem (fastest boot,\n"
	"                      RSS = --mem); none (default for PVH and raw guests)\n"
	"\n"
	"Observing:\n"
	"  --trace-io          print the seed's trace for every port I/O exit\n"
	"  --trace-mmio        the same for every MMIO exit\n"
	"  --max-exits N       end the VM after N exits\n"
	"  --stats             print exit statistics when the VM ends\n"
	"  --boot-timer        Firecracker's boot timer at 0xd0000000 (as in\n"
	"                      'minivmm fc'): a write of the byte 123 there logs\n"
	"                      'Guest-boot-time = ...'; virtio slots start at 1\n"
	"\n"
	"Sandbox:\n"
	"  --no-seccomp        run without the seccomp filters (by default each\n"
	"                      thread may make only the system calls it needs;\n"
	"                      any other kills minivmm with SIGSYS and one line\n"
	"                      naming the call)\n"
	"\n"
	"  -h, --help          show this help\n"
	"  -V, --version       show the version\n"
	"\n"
	"On the console, Ctrl-A x quits and Ctrl-A Ctrl-A sends Ctrl-A.\n"
	"\n"
	"Exit status: 0 when the guest halts, powers off or reboots, V when it writes V to\n"
	"port 0x501, 1 on a minivmm or user error, 2 when the guest faults,\n"
	"128+N on signal N.\n";

const char config_fc_usage[] =
	"usage: minivmm fc [options]   (or started as 'firecracker', or any name\n"
	"with 'firecracker' in it)\n"
	"\n"
	"Firecracker's command line and API: the VM is described by requests on\n"
	"the API socket (HTTP/1.1, JSON bodies, Firecracker's OpenAPI paths) or by\n"
	"a Firecracker configuration file, and starts with InstanceStart.\n"
	"\n"
	"  --api-sock PATH     the API's UNIX socket (default:\n"
	"                      /run/firecracker.socket); PATH must not exist, its\n"
	"                      directory must\n"
	"  --id ID             the instance id GET / reports (default:\n"
	"                      anonymous-instance; 1-64 alphanumerics and '-')\n"
	"  --config-file FILE  Firecracker's JSON (boot-source, machine-config,\n"
	"                      drives, network-interfaces, vsock, entropy, logger,\n"
	"                      metrics): the VM starts at once\n"
	"  --no-api            no API socket (needs --config-file)\n"
	"  --no-seccomp        run the threads without seccomp filters\n"
	"  --level LEVEL       log level: Error, Warning, Info (default), Debug,\n"
	"                      Trace or Off\n"
	"  --log-path PATH     minivmm's log lines to PATH (appended), in\n"
	"                      Firecracker's format, instead of stderr\n"
	"  --metrics-path PATH metrics to PATH (appended): a JSON line every\n"
	"                      60 s, on FlushMetrics and at the end\n"
	"  --boot-timer        Firecracker's boot timer at 0xd0000000: a guest's\n"
	"                      write of the byte 123 there logs (Info)\n"
	"                      'Guest-boot-time = N us N ms, N CPU us N CPU ms'\n"
	"                      since minivmm started; the virtio devices then\n"
	"                      start at 0xd0001000 (16 slots instead of 17)\n"
	"  --show-level        the level in each --log-path line\n"
	"  --show-log-origin   the source FILE:LINE in each --log-path line\n"
	"  --http-api-max-payload-size N\n"
	"                      the largest request body, in bytes (default 51200)\n"
	"  --start-time-us N, --start-time-cpu-us N, --parent-cpu-time-us N\n"
	"                      as Firecracker's jailer passes them: when the\n"
	"                      process started (CLOCK_MONOTONIC and its CPU clock,\n"
	"                      in microseconds), for the metrics'\n"
	"                      process_startup_time_us and _cpu_us (without them:\n"
	"                      from minivmm's own start)\n"
	"\n"
	"  -h, --help          show this help\n"
	"  -V, --version       show the version\n"
	"\n"
	"Not supported: snapshots, MMDS, balloon, CPU templates, vhost-user\n"
	"drives, pmem, memory hotplug (their requests answer 400).\n"
	"Exit status: the VM's, as for 'minivmm run'; 1 on a user error.\n";

bool config_id_valid(const char *id, char extra)
{
	size_t n = 0;

	for (; id[n]; n++)
		if (n == CONFIG_ID_MAX ||
		    (!isalnum((unsigned char)id[n]) && id[n] != extra))
			return false;
	return n > 0;
}

int parse_u64(const char *s, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (!s || !isdigit((unsigned char)s[0]))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *end)
		return -EINVAL;
	*out = v;
	return 0;
}

int parse_size(const char *s, uint64_t *out)
{
	unsigned long long v;
	unsigned shift = 20;
	char *end;

	if (!s || !isdigit((unsigned char)s[0]))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	if (*end) {
		switch (toupper((unsigned char)*end)) {
		case 'K':
			shift = 10;
			break;
		case 'M':
			shift = 20;
			break;
		case 'G':
			shift = 30;
			break;
		case 'T':
			shift = 40;
			break;
		default:
			return -EINVAL;
		}
		end++;
		if (*end == 'i' && end[1] == 'B')
			end += 2;
		else if (*end == 'B')
			end++;
		if (*end)
			return -EINVAL;
	}
	if (v > (UINT64_MAX >> shift))
		return -ERANGE;
	*out = (uint64_t)v << shift;
	return 0;
}

enum {
	OPT_RAW = 256,
	OPT_KERNEL,
	OPT_MODE,
	OPT_LOAD_ADDR,
	OPT_ENTRY,
	OPT_MEM,
	OPT_CPUS,
	OPT_TRACE_IO,
	OPT_TRACE_MMIO,
	OPT_MAX_EXITS,
	OPT_STATS,
	OPT_INITRD,
	OPT_CMDLINE,
	OPT_SERIAL,
	OPT_ON_REBOOT,
	OPT_PREFAULT,
	OPT_PLATFORM,
	OPT_RNG,
	OPT_DRIVE,
	OPT_NET,
	OPT_VSOCK,
	OPT_NO_SECCOMP,
	OPT_BOOT_TIMER,
};

static const struct option config_options[] = {
	{"raw", required_argument, NULL, OPT_RAW},
	{"kernel", required_argument, NULL, OPT_KERNEL},
	{"mode", required_argument, NULL, OPT_MODE},
	{"load-addr", required_argument, NULL, OPT_LOAD_ADDR},
	{"entry", required_argument, NULL, OPT_ENTRY},
	{"mem", required_argument, NULL, OPT_MEM},
	{"cpus", required_argument, NULL, OPT_CPUS},
	{"trace-io", no_argument, NULL, OPT_TRACE_IO},
	{"trace-mmio", no_argument, NULL, OPT_TRACE_MMIO},
	{"max-exits", required_argument, NULL, OPT_MAX_EXITS},
	{"stats", no_argument, NULL, OPT_STATS},
	{"initrd", required_argument, NULL, OPT_INITRD},
	{"cmdline", required_argument, NULL, OPT_CMDLINE},
	{"serial", required_argument, NULL, OPT_SERIAL},
	{"on-reboot", required_argument, NULL, OPT_ON_REBOOT},
	{"prefault", required_argument, NULL, OPT_PREFAULT},
	{"platform", required_argument, NULL, OPT_PLATFORM},
	{"rng", optional_argument, NULL, OPT_RNG},
	{"drive", required_argument, NULL, OPT_DRIVE},
	{"net", required_argument, NULL, OPT_NET},
	{"vsock", required_argument, NULL, OPT_VSOCK},
	{"no-seccomp", no_argument, NULL, OPT_NO_SECCOMP},
	{"boot-timer", no_argument, NULL, OPT_BOOT_TIMER},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, 'V'},
	{NULL, 0, NULL, 0},
};

static int config_option(struct config *c, int opt, const char *arg)
{
	uint64_t v;
	int ret;

	switch (opt) {
	case OPT_RAW:
	case OPT_KERNEL:
		if (c->boot.raw_path || c->boot.kernel_path)
			return err_set(
				-EINVAL,
				"give one guest image: --raw FILE or --kernel FILE");
		if (!*arg)
			return err_set(-EINVAL, "empty file name");
		if (opt == OPT_RAW)
			c->boot.raw_path = arg;
		else
			c->boot.kernel_path = arg;
		return 0;
	case OPT_MODE:
		if (!strcmp(arg, "real"))
			c->boot.mode = CPU_MODE_REAL;
		else if (!strcmp(arg, "protected"))
			c->boot.mode = CPU_MODE_PROTECTED;
		else if (!strcmp(arg, "long"))
			c->boot.mode = CPU_MODE_LONG;
		else
			return err_set(
				-EINVAL,
				"--mode '%s': expected real, protected or long",
				arg);
		c->mode_set = true;
		return 0;
	case OPT_LOAD_ADDR:
		if (parse_u64(arg, &c->boot.load_addr))
			return err_set(
				-EINVAL,
				"--load-addr '%s': expected an address such as 0x10000",
				arg);
		c->load_addr_set = true;
		return 0;
	case OPT_ENTRY:
		if (parse_u64(arg, &c->boot.entry))
			return err_set(
				-EINVAL,
				"--entry '%s': expected an address such as 0x10000",
				arg);
		c->boot.entry_set = true;
		return 0;
	case OPT_MEM:
		if (parse_size(arg, &v) || v == 0)
			return err_set(
				-EINVAL,
				"--mem '%s': expected a size such as 256M or 2G",
				arg);
		if (v < MEM_MIN_SIZE || v % 4096)
			return err_set(
				-EINVAL,
				"--mem '%s': guest memory must be at least 1M and a multiple of 4K",
				arg);
		c->vm.mem_size = v;
		return 0;
	case OPT_CPUS:
		if (parse_u64(arg, &v) || v < 1 || v > CONFIG_MAX_CPUS)
			return err_set(
				-EINVAL,
				"--cpus '%s': expected a number of vCPUs from 1 to %d",
				arg, CONFIG_MAX_CPUS);
		c->vm.cpus = (unsigned)v;
		return 0;
	case OPT_MAX_EXITS:
		if (parse_u64(arg, &v) || v == 0)
			return err_set(
				-EINVAL,
				"--max-exits '%s': expected a positive number",
				arg);
		c->vm.max_exits = v;
		return 0;
	case OPT_TRACE_IO:
		c->vm.trace_io = true;
		return 0;
	case OPT_TRACE_MMIO:
		c->vm.trace_mmio = true;
		return 0;
	case OPT_STATS:
		c->vm.stats = true;
		return 0;
	case OPT_PREFAULT:
		if (!strcmp(arg, "none"))
			c->vm.prefault = PREFAULT_NONE;
		else if (!strcmp(arg, "ahead"))
			c->vm.prefault = PREFAULT_AHEAD;
		else if (!strcmp(arg, "all"))
			c->vm.prefault = PREFAULT_ALL;
		else
			return err_set(
				-EINVAL,
				"--prefault '%s': expected none, ahead or all",
				arg);
		c->prefault_set = true;
		return 0;
	case OPT_INITRD:
		if (!*arg)
			return err_set(-EINVAL, "empty file name for --initrd");
		c->boot.initrd_path = arg;
		return 0;
	case OPT_CMDLINE:
		c->boot.cmdline = arg;
		return 0;
	case OPT_SERIAL:
		c->serial_set = true;
		if (!strcmp(arg, "stdio")) {
			c->vm.serial = VM_SERIAL_STDIO;
		} else if (!strcmp(arg, "none")) {
			c->vm.serial = VM_SERIAL_NONE;
		} else if (!strncmp(arg, "file:", 5) && arg[5]) {
			c->vm.serial = VM_SERIAL_FILE;
			c->vm.serial_path = arg + 5;
		} else {
			return err_set(
				-EINVAL,
				"--serial '%s': expected stdio, file:PATH or none",
				arg);
		}
		return 0;
	case OPT_DRIVE:
		if (c->vm.nr_drives == PLATFORM_VIRTIO_SLOTS)
			return err_set(
				-EINVAL,
				"too many --drive options: minivmm has %u virtio slots",
				PLATFORM_VIRTIO_SLOTS);
		ret = disk_options_parse(arg, &c->drives[c->vm.nr_drives]);
		if (ret)
			return ret;
		c->vm.drives = c->drives;
		c->vm.nr_drives++;
		return 0;
	case OPT_NET:
		if (c->vm.nr_nets == PLATFORM_VIRTIO_SLOTS)
			return err_set(
				-EINVAL,
				"too many --net options: minivmm has %u virtio slots",
				PLATFORM_VIRTIO_SLOTS);
		ret = net_options_parse(arg, &c->nets[c->vm.nr_nets]);
		if (ret)
			return ret;
		c->vm.nets = c->nets;
		c->vm.nr_nets++;
		return 0;
	case OPT_VSOCK:
		if (c->vm.vsock)
			return err_set(
				-EINVAL,
				"--vsock given twice: a VM has one vsock device");
		ret = vsock_options_parse(arg, &c->vsock);
		if (ret)
			return ret;
		c->vm.vsock = &c->vsock;
		return 0;
	case OPT_RNG:
		if (c->vm.rng)
			return err_set(
				-EINVAL,
				"--rng given twice: a VM has one entropy device");
		c->vm.rng = true;
		return arg ? throttle_parse("--rng", arg, &c->vm.rng_rate) : 0;
	case OPT_NO_SECCOMP:
		c->vm.no_seccomp = true;
		return 0;
	case OPT_BOOT_TIMER:
		c->vm.boot_timer = true;
		return 0;
	case OPT_PLATFORM:
		if (!strcmp(arg, "pc"))
			c->vm.platform = VM_PLATFORM_PC;
		else if (!strcmp(arg, "bare"))
			c->vm.platform = VM_PLATFORM_BARE;
		else
			return err_set(-EINVAL,
				       "--platform '%s': expected pc or bare",
				       arg);
		c->platform_set = true;
		return 0;
	case OPT_ON_REBOOT:
		c->on_reboot_set = true;
		if (!strcmp(arg, "exit"))
			c->restart_on_reboot = false;
		else if (!strcmp(arg, "restart"))
			c->restart_on_reboot = true;
		else
			return err_set(
				-EINVAL,
				"--on-reboot '%s': expected exit or restart",
				arg);
		return 0;
	}
	return err_set(-EINVAL, "internal error: option %d", opt);
}

void config_init(struct config *c)
{
	memset(c, 0, sizeof(*c));
	c->command = CONFIG_RUN;
	c->vm.mem_size = 256ull << 20;
	c->vm.cpus = 1;
	c->vm.serial_fd = -1;
	c->vm.signal_fd = -1;
	c->boot.mode = CPU_MODE_REAL;
	c->boot.load_addr = RAW_DEFAULT_LOAD_ADDR;
}

enum {
	OPT_FC_API_SOCK = 256,
	OPT_FC_ID,
	OPT_FC_CONFIG_FILE,
	OPT_FC_NO_API,
	OPT_FC_LEVEL,
	OPT_FC_LOG_PATH,
	OPT_FC_METRICS_PATH,
	OPT_FC_BOOT_TIMER,
	OPT_FC_NO_SECCOMP,
	OPT_FC_SHOW_LEVEL,
	OPT_FC_SHOW_LOG_ORIGIN,
	OPT_FC_START_TIME,
	OPT_FC_START_TIME_CPU,
	OPT_FC_PARENT_CPU_TIME,
	OPT_FC_API_MAX_PAYLOAD,
	OPT_FC_UNSUPPORTED,
};

static const struct option config_fc_options[] = {
	{"api-sock", required_argument, NULL, OPT_FC_API_SOCK},
	{"id", required_argument, NULL, OPT_FC_ID},
	{"config-file", required_argument, NULL, OPT_FC_CONFIG_FILE},
	{"no-api", no_argument, NULL, OPT_FC_NO_API},
	{"level", required_argument, NULL, OPT_FC_LEVEL},
	{"log-path", required_argument, NULL, OPT_FC_LOG_PATH},
	{"metrics-path", required_argument, NULL, OPT_FC_METRICS_PATH},
	{"boot-timer", no_argument, NULL, OPT_FC_BOOT_TIMER},
	{"no-seccomp", no_argument, NULL, OPT_FC_NO_SECCOMP},
	{"show-level", no_argument, NULL, OPT_FC_SHOW_LEVEL},
	{"show-log-origin", no_argument, NULL, OPT_FC_SHOW_LOG_ORIGIN},
	{"start-time-us", required_argument, NULL, OPT_FC_START_TIME},
	{"start-time-cpu-us", required_argument, NULL, OPT_FC_START_TIME_CPU},
	{"parent-cpu-time-us", required_argument, NULL, OPT_FC_PARENT_CPU_TIME},
	{"http-api-max-payload-size", required_argument, NULL,
	 OPT_FC_API_MAX_PAYLOAD},
	/* Firecracker's, for what minivmm does not have: one clear line. */
	{"seccomp-filter", required_argument, NULL, OPT_FC_UNSUPPORTED},
	{"module", required_argument, NULL, OPT_FC_UNSUPPORTED},
	{"metadata", required_argument, NULL, OPT_FC_UNSUPPORTED},
	{"mmds-size-limit", required_argument, NULL, OPT_FC_UNSUPPORTED},
	{"enable-pci", no_argument, NULL, OPT_FC_UNSUPPORTED},
	{"snapshot-version", no_argument, NULL, OPT_FC_UNSUPPORTED},
	{"describe-snapshot", required_argument, NULL, OPT_FC_UNSUPPORTED},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, 'V'},
	{NULL, 0, NULL, 0},
};

static int config_fc_level(const char *arg)
{
	static const char *const levels[] = {"Error", "Warning", "Info",
					     "Debug", "Trace",	 "Off"};

	for (unsigned i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
		if (!strcasecmp(arg, levels[i]))
			return 0;
	return err_set(
		-EINVAL,
		"--level '%s': expected Error, Warning, Info, Debug, Trace or Off",
		arg);
}

/* Why a Firecracker option minivmm does not have is refused. */
static const char *config_fc_unsupported(const char *name)
{
	static const struct {
		const char *name, *why;
	} why[] = {
		{"seccomp-filter",
		 "minivmm's filters are built in (--no-seccomp turns them off)"},
		{"module", "minivmm's log has no module filter"},
		{"metadata", "minivmm has no MMDS"},
		{"mmds-size-limit", "minivmm has no MMDS"},
		{"enable-pci", "minivmm's devices are virtio-mmio"},
		{"snapshot-version", "minivmm has no snapshots yet"},
		{"describe-snapshot", "minivmm has no snapshots yet"},
	};

	for (unsigned i = 0; i < sizeof(why) / sizeof(why[0]); i++)
		if (!strcmp(name, why[i].name))
			return why[i].why;
	return "";
}

/* --start-time-us, --start-time-cpu-us or --parent-cpu-time-us (@opt,
 * named @name): a decimal count of microseconds. */
static int config_fc_time(struct fc_options *f, int opt, const char *name,
			  const char *arg)
{
	uint64_t *out = opt == OPT_FC_START_TIME       ? &f->start_time_us
			: opt == OPT_FC_START_TIME_CPU ? &f->start_time_cpu_us
						       : &f->parent_cpu_time_us;

	if (parse_u64(arg, out) || (arg[0] == '0' && arg[1]))
		return err_set(
			-EINVAL,
			"--%s '%s': expected microseconds, a decimal number",
			name, arg);
	f->start_time_set |= opt == OPT_FC_START_TIME;
	f->start_time_cpu_set |= opt == OPT_FC_START_TIME_CPU;
	return 0;
}

/* `minivmm fc`: argv[0] is "fc" (or "firecracker"). */
static int config_parse_fc(struct config *c, int argc, char **argv)
{
	struct fc_options *f = &c->fc;
	int opt, idx, ret;

	c->command = CONFIG_FC;
	c->fc_front = true;
	f->api_sock = "/run/firecracker.socket";
	f->id = "anonymous-instance";
	optind = 0;
	opterr = 0;
	idx = -1;
	while ((opt = getopt_long(argc, argv, ":hV", config_fc_options,
				  &idx)) != -1) {
		const char *name = idx >= 0 ? config_fc_options[idx].name : "";

		idx = -1;
		switch (opt) {
		case 'h':
		case 'V':
			c->command = opt == 'h' ? CONFIG_HELP : CONFIG_VERSION;
			return 0;
		case '?':
			return err_set(
				-EINVAL,
				"unknown option '%s': see 'minivmm fc --help'",
				argv[optind - 1]);
		case ':':
			return err_set(-EINVAL, "option '%s' needs a value",
				       argv[optind - 1]);
		case OPT_FC_API_SOCK:
			if (!*optarg)
				return err_set(-EINVAL,
					       "--api-sock: empty path");
			f->api_sock = optarg;
			break;
		case OPT_FC_ID:
			if (!config_id_valid(optarg, '-'))
				return err_set(
					-EINVAL,
					"--id '%s': expected 1 to %d alphanumerics or '-'",
					optarg, CONFIG_ID_MAX);
			f->id = optarg;
			break;
		case OPT_FC_CONFIG_FILE:
			if (!*optarg)
				return err_set(-EINVAL,
					       "--config-file: empty path");
			f->config_file = optarg;
			break;
		case OPT_FC_NO_API:
			f->no_api = true;
			break;
		case OPT_FC_LEVEL:
			ret = config_fc_level(optarg);
			if (ret)
				return ret;
			f->level = optarg;
			break;
		case OPT_FC_LOG_PATH:
			f->log_path = optarg;
			break;
		case OPT_FC_METRICS_PATH:
			f->metrics_path = optarg;
			break;
		case OPT_FC_BOOT_TIMER:
			f->boot_timer = true;
			c->vm.boot_timer = true;
			break;
		case OPT_FC_NO_SECCOMP:
			c->vm.no_seccomp = true;
			break;
		case OPT_FC_SHOW_LEVEL:
			f->show_level = true;
			break;
		case OPT_FC_SHOW_LOG_ORIGIN:
			f->show_log_origin = true;
			break;
		case OPT_FC_START_TIME:
		case OPT_FC_START_TIME_CPU:
		case OPT_FC_PARENT_CPU_TIME:
			ret = config_fc_time(f, opt, name, optarg);
			if (ret)
				return ret;
			break;
		case OPT_FC_API_MAX_PAYLOAD:
			if (parse_u64(optarg, &f->api_body_max) ||
			    !f->api_body_max || f->api_body_max > (1u << 30))
				return err_set(
					-EINVAL,
					"--http-api-max-payload-size '%s': expected bytes, 1 to 1073741824",
					optarg);
			break;
		case OPT_FC_UNSUPPORTED:
			return err_set(
				-EINVAL,
				"--%s: Firecracker's option is not supported: %s",
				name, config_fc_unsupported(name));
		}
	}
	if (optind < argc)
		return err_set(
			-EINVAL,
			"unexpected argument '%s': see 'minivmm fc --help'",
			argv[optind]);
	if (f->no_api && !f->config_file)
		return err_set(
			-EINVAL,
			"--no-api needs --config-file FILE: without the API the VM can only come from a file");
	return 0;
}

int config_parse(struct config *c, int argc, char **argv)
{
	const char *base;
	int opt, ret;

	config_init(c);
	/* Started under a name with "firecracker" in it (a symlink, or the
	 * copy Firecracker's jailer makes, whose name must have it): its
	 * command line. */
	base = argc > 0 && argv[0] ? strrchr(argv[0], '/') : NULL;
	base = base ? base + 1 : (argc > 0 && argv[0] ? argv[0] : "");
	if (strstr(base, "firecracker"))
		return config_parse_fc(c, argc, argv);
	if (argc < 2)
		return err_set(
			-EINVAL,
			"no command: try 'minivmm run --raw FILE' or 'minivmm --help'");
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") ||
	    !strcmp(argv[1], "help")) {
		c->command = CONFIG_HELP;
		return 0;
	}
	if (!strcmp(argv[1], "-V") || !strcmp(argv[1], "--version")) {
		c->command = CONFIG_VERSION;
		return 0;
	}
	if (!strcmp(argv[1], "fc"))
		return config_parse_fc(c, argc - 1, argv + 1);
	if (strcmp(argv[1], "run"))
		return err_set(
			-EINVAL,
			"unknown command '%s': try 'minivmm run --raw FILE' or 'minivmm --help'",
			argv[1]);

	/* getopt keeps global state: reset it so tests can parse again. */
	optind = 0;
	opterr = 0;
	argc--;
	argv++;
	while ((opt = getopt_long(argc, argv, ":hV", config_options, NULL)) !=
	       -1) {
		if (opt == 'h' || opt == 'V') {
			c->command = opt == 'h' ? CONFIG_HELP : CONFIG_VERSION;
			return 0;
		}
		if (opt == '?')
			return err_set(
				-EINVAL,
				"unknown option '%s': see 'minivmm --help'",
				argv[optind - 1]);
		if (opt == ':')
			return err_set(-EINVAL, "option '%s' needs a value",
				       argv[optind - 1]);
		ret = config_option(c, opt, optarg);
		if (ret)
			return ret;
	}
	if (optind < argc)
		return err_set(-EINVAL,
			       "unexpected argument '%s': see 'minivmm --help'",
			       argv[optind]);
	ret = net_options_check(c->nets, c->vm.nr_nets);
	if (ret)
		return ret;
	if (!c->boot.raw_path && !c->boot.kernel_path)
		return err_set(
			-EINVAL,
			"no guest image: give --raw FILE or --kernel FILE");
	if (c->boot.raw_path && (c->boot.initrd_path || c->boot.cmdline))
		return err_set(
			-EINVAL,
			"--initrd and --cmdline apply to Linux kernels: use --kernel");
	if (c->boot.kernel_path &&
	    (c->mode_set || c->load_addr_set || c->boot.entry_set))
		return err_set(
			-EINVAL,
			"--mode, --load-addr and --entry apply to --raw images only; an ELF says its own");
	return 0;
}
