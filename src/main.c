/* minivmm: argv → config → launch_vm (read the guest image → vm_create →
 * load → vm_run → exit status, again from vm_create when a guest reboots
 * with --on-reboot restart); for `minivmm fc`, the config from the API or
 * --config-file first.  Only main decides to exit and prints the final
 * error.  The stop signals are blocked from the first line on and read
 * from a signalfd, so one arriving at any moment (loading, between two
 * boots) ends minivmm with 128+N and the terminal restored. */
#include "api/fcjson.h"
#include "api/server.h"
#include "config.h"
#include "err.h"
#include "host/log.h"
#include "host/term.h"
#include "launch.h"
#include "metrics.h"
#include "vm.h"

#include <errno.h>
#include <malloc.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#ifndef MINIVMM_VERSION
#define MINIVMM_VERSION "0.2"
#endif

/* SIGINT, SIGTERM and SIGHUP end minivmm with 128+N.  Blocked in every
 * thread (threads inherit the mask) and read from a signalfd: by vm_run's
 * main loop while a VM runs, by vm_take_stop_signal() otherwise. */
static int main_block_stop_signals(void)
{
	sigset_t set;
	int fd;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	if (pthread_sigmask(SIG_BLOCK, &set, NULL))
		return err_set(-EINVAL, "cannot block the stop signals");
	fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (fd < 0)
		return err_set(-errno, "signalfd: %s", strerror(errno));
	/* A closed stdout is the console going away, seen as EPIPE by the
	 * console's writer, not a death by SIGPIPE with the tty left raw. */
	signal(SIGPIPE, SIG_IGN);
	return fd;
}

/* The file --config-file names, at most FC_CONFIG_MAX bytes, into @f. */
#define FC_CONFIG_MAX (1 << 20)
static int main_fc_config(struct fc_vm *f, const char *path)
{
	char *text = malloc(FC_CONFIG_MAX + 1);
	ssize_t n;
	size_t len = 0;
	int fd, ret;

	if (!text)
		return err_set(-ENOMEM, "out of memory");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = err_set(-errno, "--config-file %s: %s", path,
			      strerror(errno));
		free(text);
		return ret;
	}
	while (len <= FC_CONFIG_MAX &&
	       (n = read(fd, text + len, FC_CONFIG_MAX + 1 - len)) > 0)
		len += (size_t)n;
	close(fd);
	if (len > FC_CONFIG_MAX) {
		free(text);
		return err_set(-EFBIG, "--config-file %s: larger than %d bytes",
			       path, FC_CONFIG_MAX);
	}
	ret = fc_config_parse(f, text, len);
	free(text);
	if (ret) {
		char msg[300];

		snprintf(msg, sizeof(msg), "%s", err_msg());
		return err_set(ret, "--config-file %s: %s", path, msg);
	}
	return 0;
}

/* What `minivmm fc` keeps besides the API server: the metrics and the
 * timer that writes them (watched by the main thread: while it waits for
 * InstanceStart, then among the VM's events). */
struct main_fc {
	struct api_server *s; /* NULL with --no-api */
	struct metrics metrics;
	int timer_fd;
	bool ran; /* a VM ran: its end wrote the last line */
};

static void main_fc_timer(void *opaque)
{
	struct main_fc *fc = opaque;
	uint64_t n;

	if (read(fc->timer_fd, &n, sizeof(n)) != sizeof(n))
		return;
	if (metrics_flush(&fc->metrics))
		log_write(LOG_WARNING, "%s", err_msg());
}

static void main_fc_vm_ready(void *opaque, struct vm *vm)
{
	struct main_fc *fc = opaque;

	fc->ran = true;
	log_write(LOG_INFO, "Running minivmm v%s: the guest starts.",
		  MINIVMM_VERSION);
	log_write(LOG_DEBUG,
		  "Guest memory: %llu MiB of %s, dirty page tracking %s.",
		  (unsigned long long)(vm->mem.size >> 20),
		  vm->opt.huge == MEM_HUGE_2M ? "2 MiB huge pages (hugetlbfs)"
		  : vm->opt.huge == MEM_HUGE_THP
			  ? "transparent huge pages"
			  : "the platform's default pages",
		  vm->opt.track_dirty ? "on" : "off");
	metrics_attach_vm(&fc->metrics, vm);
	if (vm_add_event(vm, fc->timer_fd, main_fc_timer, fc, NULL))
		log_write(LOG_WARNING, "metrics: %s", err_msg());
	if (fc->s)
		api_server_vm_ready(fc->s, vm);
}

static void main_fc_vm_gone(void *opaque, struct vm *vm)
{
	struct main_fc *fc = opaque;

	log_write(LOG_INFO, "Vmm is stopping.");
	if (fc->s)
		api_server_vm_gone(fc->s, vm);
	/* The VM's last counters: minivmm fc ends with it. */
	if (metrics_flush(&fc->metrics))
		log_write(LOG_WARNING, "%s", err_msg());
	metrics_attach_vm(&fc->metrics, NULL);
}

static int main_fc_metrics_open(void *opaque, const char *path)
{
	return metrics_open(&((struct main_fc *)opaque)->metrics, path);
}

static int main_fc_metrics_flush(void *opaque)
{
	return metrics_flush(&((struct main_fc *)opaque)->metrics);
}

/* PUT /logger, the config file's "logger": Firecracker's fields. */
static int main_fc_logger_set(void *opaque, const struct fc_vm *f)
{
	int level = log_level_parse(f->level), ret = 0;

	(void)opaque;
	if (level < 0)
		return err_set(-EINVAL, "logger: level: '%s' unknown",
			       f->level);
	if (*f->log_path)
		ret = log_open(f->log_path, f->show_level, f->show_log_origin);
	else
		log_close();
	if (!ret)
		log_set_level((enum log_level)level);
	return ret;
}

/* The command line's --metrics-path, --log-path and --level, then what a
 * --config-file in @f said (a metrics path twice is refused). */
static int main_fc_setup(struct main_fc *fc, const struct config *cfg,
			 struct fc_vm *f)
{
	int ret = 0;

	if (cfg->fc.level)
		log_set_level((enum log_level)log_level_parse(cfg->fc.level));
	if (cfg->fc.log_path)
		ret = log_open(cfg->fc.log_path, cfg->fc.show_level,
			       cfg->fc.show_log_origin);
	if (!ret && cfg->fc.metrics_path) {
		ret = metrics_open(&fc->metrics, cfg->fc.metrics_path);
		snprintf(f->metrics_path, sizeof(f->metrics_path), "%s",
			 cfg->fc.metrics_path);
		f->metrics_set = true;
	}
	return ret;
}

/* The socket listens: how long the process took to get here, wall and
 * CPU, as Firecracker reports it (api_server.process_startup_time_us and
 * _cpu_us): from the start times the jailer passed, else from minivmm's
 * own start (main's first line; the CPU clock counts from the fork). */
static void main_fc_startup_times(struct api_ctx *ctx, const struct config *cfg)
{
	const struct fc_options *f = &cfg->fc;
	uint64_t now_us = time_now_ns() / 1000;
	uint64_t cpu_us = boot_timer_cpu_now_ns() / 1000;
	uint64_t start_us = f->start_time_set ? f->start_time_us
					      : cfg->vm.start_ns / 1000;
	uint64_t cpu_start_us = f->start_time_cpu_set ? f->start_time_cpu_us
						      : 0;

	ctx->startup_us = now_us > start_us ? now_us - start_us : 0;
	ctx->startup_cpu_us =
		(cpu_us > cpu_start_us ? cpu_us - cpu_start_us : 0) +
		f->parent_cpu_time_us;
}

/* After a --config-file: its "logger" and "metrics". */
static int main_fc_apply_file(struct main_fc *fc, const struct fc_vm *f)
{
	int ret = 0;

	if (f->logger_set)
		ret = main_fc_logger_set(fc, f);
	if (!ret && f->metrics_set && !metrics_is_open(&fc->metrics))
		ret = metrics_open(&fc->metrics, f->metrics_path);
	return ret;
}

/* Boots @boot (a copy of what the API or the file said) with the shared
 * boot path.  -errno before the VM ran, else its status. */
static int main_fc_boot(struct config *cfg, struct fc_vm *boot,
			const struct launch_hooks *h)
{
	struct config run = *cfg;
	int ret = fc_vm_to_config(boot, &run);

	if (ret)
		return ret;
	return launch_vm(&run, h);
}

/* Waits for InstanceStart (or a stop signal), boots, and returns the
 * VM's status.  A start that fails before the VM runs is answered 400 and
 * waited for again, unless it came from --config-file (@once): then it
 * ends minivmm, as Firecracker does. */
static int main_fc_serve(struct config *cfg, struct main_fc *fc,
			 struct fc_vm *boot, bool once)
{
	struct launch_hooks h = {
		.vm_ready = main_fc_vm_ready,
		.vm_gone = main_fc_vm_gone,
		.opaque = fc,
	};
	struct api_server *s = fc->s;
	int status;

	for (;;) {
		struct pollfd fds[3] = {
			{.fd = api_server_start_fd(s), .events = POLLIN},
			{.fd = cfg->vm.signal_fd, .events = POLLIN},
			{.fd = fc->timer_fd, .events = POLLIN},
		};
		bool never_ran;
		uint64_t v;
		int sig;

		if (poll(fds, 3, -1) < 0)
			continue;
		if (fds[2].revents & POLLIN)
			main_fc_timer(fc);
		sig = vm_take_stop_signal(cfg->vm.signal_fd);
		if (sig)
			return VM_STATUS_SIGNAL + sig;
		if (!(fds[0].revents & POLLIN) ||
		    read(fds[0].fd, &v, sizeof(v)) != sizeof(v))
			continue;
		pthread_mutex_lock(&s->lock);
		*boot = s->ctx.vm;
		pthread_mutex_unlock(&s->lock);
		status = main_fc_boot(cfg, boot, &h);
		pthread_mutex_lock(&s->lock);
		never_ran = s->start == API_START_REQUESTED;
		pthread_mutex_unlock(&s->lock);
		if (!never_ran)
			return status;
		/* The API thread waits for the outcome: it answers 400. */
		api_server_start_failed(s, status < 0 ? err_msg()
						      : "minivmm is stopping");
		if (status >= 0 || once)
			return status; /* a signal while loading, or the file */
	}
}

/* `minivmm fc`: the API socket (unless --no-api), the VM from
 * --config-file at once or from the API's InstanceStart. */
static int main_fc(struct config *cfg)
{
	struct main_fc *fc = calloc(1, sizeof(*fc));
	struct fc_vm *boot = malloc(sizeof(*boot));
	struct api_server *s = NULL;
	unsigned ms = metrics_period_ms();
	struct itimerspec its = {
		.it_interval = {ms / 1000, (long)(ms % 1000) * 1000000},
		.it_value = {ms / 1000, (long)(ms % 1000) * 1000000},
	};
	struct launch_hooks h;
	int status;

	if (!boot || !fc) {
		free(boot);
		free(fc);
		return err_set(-ENOMEM, "out of memory");
	}
	log_set_id(cfg->fc.id);
	fc_vm_init(boot);
	/* The boot timer takes slot 0: one virtio device less. */
	if (cfg->vm.boot_timer)
		boot->slots = PLATFORM_VIRTIO_SLOTS - 1;
	metrics_init(&fc->metrics, NULL);
	h = (struct launch_hooks){main_fc_vm_ready, main_fc_vm_gone, fc};
	fc->timer_fd =
		timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (fc->timer_fd < 0 || timerfd_settime(fc->timer_fd, 0, &its, NULL)) {
		status = err_set(-errno, "timerfd: %s", strerror(errno));
		goto out;
	}
	if (cfg->fc.no_api) {
		status = main_fc_setup(fc, cfg, boot);
		if (!status)
			status = main_fc_config(boot, cfg->fc.config_file);
		if (!status)
			status = main_fc_apply_file(fc, boot);
		if (!status)
			status = main_fc_boot(cfg, boot, &h);
		goto out;
	}
	s = malloc(sizeof(*s));
	if (!s) {
		status = err_set(-ENOMEM, "out of memory");
		goto out;
	}
	fc->s = s;
	status = api_server_open(s, cfg->fc.api_sock, cfg->fc.id,
				 MINIVMM_VERSION);
	s->sandbox = (struct sandbox){.enabled = !cfg->vm.no_seccomp};
	s->ctx.vm.slots = boot->slots;
	cfg->vm.api_server = true; /* the main thread closes it at the end */
	if (!status) {
		main_fc_startup_times(&s->ctx, cfg);
		if (cfg->fc.api_body_max)
			s->ctx.body_max = (size_t)cfg->fc.api_body_max;
		fc->metrics.api = &s->ctx;
		s->ctx.hooks = (struct api_hooks){
			.metrics_open = main_fc_metrics_open,
			.logger_set = main_fc_logger_set,
			.metrics_flush = main_fc_metrics_flush,
			.opaque = fc,
		};
		status = main_fc_setup(fc, cfg, &s->ctx.vm);
	}
	if (!status && cfg->fc.config_file) {
		status = main_fc_config(&s->ctx.vm, cfg->fc.config_file);
		if (!status)
			status = main_fc_apply_file(fc, &s->ctx.vm);
	}
	if (!status && !cfg->fc.config_file)
		status = api_server_start(s);
	if (!status && cfg->fc.config_file) {
		/* Booted at once, as if InstanceStart had come; the API
		 * serves once the VM runs. */
		uint64_t one = 1;

		s->serve_on_ready = true;
		pthread_mutex_lock(&s->lock);
		s->start = API_START_REQUESTED;
		pthread_mutex_unlock(&s->lock);
		if (write(api_server_start_fd(s), &one, sizeof(one)) < 0) {
			/* cannot fail short of overflow */
		}
	}
	if (!status)
		status = main_fc_serve(cfg, fc, boot, cfg->fc.config_file);
	api_server_close(s);
out:
	/* Once at exit, unless the VM's end wrote it. */
	if (!fc->ran && metrics_flush(&fc->metrics))
		log_write(LOG_WARNING, "%s", err_msg());
	metrics_destroy(&fc->metrics);
	if (fc->timer_fd >= 0)
		close(fc->timer_fd);
	free(s);
	free(fc);
	free(boot);
	return status;
}

int main(int argc, char **argv)
{
	uint64_t launch_ns = time_now_ns();
	struct config cfg;
	int status, sig_fd;

	/* One malloc arena for every thread: glibc's per-thread arenas read
	 * /proc/sys/vm/overcommit_memory when they shrink, an openat no
	 * thread's seccomp filter allows (it killed the API thread after a
	 * large request body).  minivmm's threads allocate little, and not on
	 * their hot paths. */
	mallopt(M_ARENA_MAX, 1);
	/* glibc reads /etc/localtime at the first time conversion (even
	 * gmtime_r, as the logger's timestamps do): now, not on a sandboxed
	 * thread. */
	tzset();
	log_set_thread("main");
	sig_fd = main_block_stop_signals();
	if (sig_fd < 0) {
		fprintf(stderr, "minivmm: %s\n", err_msg());
		return VM_STATUS_ERROR;
	}
	if (config_parse(&cfg, argc, argv)) {
		fprintf(stderr, "minivmm: %s\n", err_msg());
		return VM_STATUS_ERROR;
	}
	if (cfg.command == CONFIG_HELP) {
		fputs(cfg.fc_front ? config_fc_usage : config_usage, stdout);
		return 0;
	}
	if (cfg.command == CONFIG_VERSION) {
		printf("minivmm %s\n", MINIVMM_VERSION);
		return 0;
	}

	if (cfg.vm.stats)
		cfg.vm.launch_ns = launch_ns;
	/* The boot timer's zero (--boot-timer), as Firecracker takes it. */
	cfg.vm.start_ns = launch_ns;
	cfg.vm.start_cpu_ns = boot_timer_cpu_now_ns();
	/* For tests and unusual hosts: another KVM device node. */
	cfg.vm.kvm_path = getenv("MINIVMM_KVM_DEVICE");
	cfg.vm.signal_fd = sig_fd;
	/* The main thread's filter then also allows the next boot. */
	cfg.vm.reboot_restarts = cfg.restart_on_reboot;
	if (cfg.command == CONFIG_FC)
		status = main_fc(&cfg);
	else
		status = launch_vm(&cfg, NULL);
	if (status < 0) {
		term_restore();
		log_write(LOG_ERROR, "%s", err_msg());
		log_close();
		return VM_STATUS_ERROR;
	}
	log_close();
	return status;
}
