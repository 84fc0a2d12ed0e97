/* Firecracker's metrics lines from the counters minivmm keeps. */
#include "metrics.h"
#include "api/handler.h"
#include "err.h"
#include "host/log.h"
#include "vm.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct metrics_section *metrics_section(struct metrics_sample *s,
					const char *name, const char *kind)
{
	struct metrics_section *sec;

	if (s->nr == METRICS_SECTIONS_MAX)
		return NULL;
	sec = &s->s[s->nr++];
	snprintf(sec->name, sizeof(sec->name), "%s", name);
	sec->kind = kind;
	sec->nr = 0;
	return sec;
}

void metrics_add(struct metrics_section *sec, const char *name, uint64_t value,
		 bool gauge)
{
	if (sec && sec->nr < METRICS_FIELDS_MAX)
		sec->f[sec->nr++] = (struct virtio_metric){name, value, gauge};
}

static const struct metrics_section *
metrics_find(const struct metrics_sample *s, const char *name)
{
	for (unsigned i = 0; s && i < s->nr; i++)
		if (!strcmp(s->s[i].name, name))
			return &s->s[i];
	return NULL;
}

/* What @f shows: the value now for a gauge, else what it moved since
 * @prev saw it (all of it for a counter that is new or went back: a new
 * VM's device). */
static uint64_t metrics_value(const struct virtio_metric *f,
			      const struct metrics_section *prev)
{
	if (f->gauge || !prev)
		return f->value;
	for (unsigned i = 0; i < prev->nr; i++)
		if (!strcmp(prev->f[i].name, f->name))
			return f->value >= prev->f[i].value
				       ? f->value - prev->f[i].value
				       : f->value;
	return f->value;
}

static int metrics_set(json_t *o, const char *key, uint64_t v)
{
	return json_object_set_new(o, key, json_integer((json_int_t)v));
}

json_t *metrics_json(const struct metrics_sample *cur,
		     const struct metrics_sample *prev, uint64_t utc_ms)
{
	json_t *o = json_object(), *agg = json_object();
	int ret;

	if (!o || !agg)
		goto fail;
	ret = metrics_set(o, "utc_timestamp_ms", utc_ms);
	for (unsigned i = 0; !ret && i < cur->nr; i++) {
		const struct metrics_section *sec = &cur->s[i];
		const struct metrics_section *p = metrics_find(prev, sec->name);
		json_t *so = json_object(), *ag = NULL;

		if (!so)
			goto fail;
		if (sec->kind) {
			ag = json_object_get(agg, sec->kind);
			if (!ag) {
				ag = json_object();
				if (json_object_set_new(agg, sec->kind, ag))
					ag = NULL;
			}
			if (!ag) {
				json_decref(so);
				goto fail;
			}
		}
		for (unsigned j = 0; !ret && j < sec->nr; j++) {
			const struct virtio_metric *f = &sec->f[j];
			uint64_t v = metrics_value(f, p);

			ret = metrics_set(so, f->name, v);
			if (!ret && ag) {
				json_t *a = json_object_get(ag, f->name);

				ret = metrics_set(
					ag, f->name,
					v + (a ? (uint64_t)json_integer_value(a)
					       : 0));
			}
		}
		if (!ret)
			ret = json_object_set_new(o, sec->name, so);
		else
			json_decref(so);
	}
	if (!ret)
		ret = json_object_update(o, agg);
	if (ret)
		goto fail;
	json_decref(agg);
	return o;
fail:
	json_decref(agg);
	json_decref(o);
	return NULL;
}

/* "exit_hlt" for each exit reason with a name, built once. */
static char metrics_exit_names[VCPU_EXIT_REASONS][40];
static pthread_once_t metrics_exit_once = PTHREAD_ONCE_INIT;

static void metrics_exit_names_init(void)
{
	for (unsigned r = 0; r < VCPU_EXIT_REASONS; r++) {
		const char *n = vcpu_exit_name(r);
		char *d = metrics_exit_names[r];

		if (!strcmp(n, "OTHER"))
			continue;
		snprintf(d, sizeof(metrics_exit_names[r]), "exit_%s", n);
		for (; *d; d++)
			*d = (char)tolower((unsigned char)*d);
	}
}

static uint64_t metrics_load(const uint64_t *c)
{
	return __atomic_load_n(c, __ATOMIC_RELAXED);
}

void metrics_sample_vm(struct vm *vm, struct metrics_sample *s)
{
	struct metrics_section *sec = metrics_section(s, "vcpu", NULL);
	uint64_t count[VCPU_EXIT_REASONS] = {0}, io_in = 0, mmio_write = 0;
	unsigned blk = 0, net = 0;

	pthread_once(&metrics_exit_once, metrics_exit_names_init);
	for (unsigned i = 0; i < vm->nr_vcpus; i++) {
		const struct exit_stats *e = &vm->vcpus[i].stats;

		for (unsigned r = 0; r < VCPU_EXIT_REASONS; r++)
			count[r] += metrics_load(&e->count[r]);
		io_in += metrics_load(&e->io_in);
		mmio_write += metrics_load(&e->mmio_write);
	}
	/* Firecracker's four, then minivmm's other reasons. */
	metrics_add(sec, "exit_io_in", io_in, false);
	metrics_add(sec, "exit_io_out", count[KVM_EXIT_IO] - io_in, false);
	metrics_add(sec, "exit_mmio_read", count[KVM_EXIT_MMIO] - mmio_write,
		    false);
	metrics_add(sec, "exit_mmio_write", mmio_write, false);
	for (unsigned r = 0; r < VCPU_EXIT_REASONS; r++)
		if (r != KVM_EXIT_IO && r != KVM_EXIT_MMIO &&
		    metrics_exit_names[r][0])
			metrics_add(sec, metrics_exit_names[r], count[r],
				    false);

	for (unsigned i = 0; i < vm->nr_virtio; i++) {
		struct virtio_dev *vd = vm->virtio[i].vd;
		struct virtio_metric f[VIRTIO_METRICS_MAX];
		unsigned n = virtio_mmio_read_metrics(vd, f);
		char name[80];
		const char *id = vm->virtio[i].id, *kind = NULL;

		switch (virtio_mmio_device_id(vd)) {
		case VIRTIO_ID_BLOCK:
			if (blk < vm->opt.nr_drives &&
			    vm->opt.drives[blk].id[0])
				id = vm->opt.drives[blk].id;
			blk++;
			snprintf(name, sizeof(name), "block_%s", id);
			kind = "block";
			break;
		case VIRTIO_ID_NET:
			if (net < vm->opt.nr_nets && vm->opt.nets[net].id[0])
				id = vm->opt.nets[net].id;
			net++;
			snprintf(name, sizeof(name), "net_%s", id);
			kind = "net";
			break;
		case VIRTIO_ID_VSOCK:
			snprintf(name, sizeof(name), "vsock");
			break;
		case VIRTIO_ID_RNG:
			snprintf(name, sizeof(name), "entropy");
			break;
		default:
			continue;
		}
		if (!n)
			continue;
		sec = metrics_section(s, name, kind);
		for (unsigned j = 0; sec && j < n; j++)
			metrics_add(sec, f[j].name, f[j].value, f[j].gauge);
	}
}

void metrics_init(struct metrics *m, const struct api_ctx *api)
{
	memset(m, 0, sizeof(*m));
	pthread_mutex_init(&m->lock, NULL);
	m->fd = -1;
	m->api = api;
}

void metrics_destroy(struct metrics *m)
{
	if (m->fd >= 0)
		close(m->fd);
	m->fd = -1;
	pthread_mutex_destroy(&m->lock);
}

int metrics_open(struct metrics *m, const char *path)
{
	int fd, ret = 0;

	pthread_mutex_lock(&m->lock);
	if (m->fd >= 0) {
		ret = err_set(-EINVAL,
			      "Reinitialization of metrics not allowed.");
		goto out;
	}
	/* O_RDWR: a FIFO opens without a reader; O_NONBLOCK: a full one
	 * drops the line instead of stopping the thread that writes. */
	fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_NONBLOCK | O_CLOEXEC,
		  0644);
	if (fd < 0) {
		ret = err_set(-errno, "metrics_path %s: %s", path,
			      strerror(errno));
		goto out;
	}
	m->fd = fd;
out:
	pthread_mutex_unlock(&m->lock);
	return ret;
}

bool metrics_is_open(struct metrics *m)
{
	bool open;

	pthread_mutex_lock(&m->lock);
	open = m->fd >= 0;
	pthread_mutex_unlock(&m->lock);
	return open;
}

void metrics_attach_vm(struct metrics *m, struct vm *vm)
{
	pthread_mutex_lock(&m->lock);
	m->vm = vm;
	pthread_mutex_unlock(&m->lock);
}

/* Everything now, into m->cur (under m->lock). */
static void metrics_sample(struct metrics *m)
{
	struct metrics_sample *s = &m->cur;
	struct metrics_section *sec;
	uint64_t missed, fails;

	s->nr = 0;
	if (m->api)
		api_read_metrics(m->api, s);
	log_read_counts(&missed, &fails);
	sec = metrics_section(s, "logger", NULL);
	metrics_add(sec, "metrics_fails", m->fails, false);
	metrics_add(sec, "missed_log_count", missed, false);
	metrics_add(sec, "log_fails", fails, false);
	if (m->vm)
		metrics_sample_vm(m->vm, s);
}

int metrics_flush(struct metrics *m)
{
	struct timespec ts;
	char *line = NULL;
	json_t *o;
	size_t len;
	ssize_t n;
	int ret = 0;

	pthread_mutex_lock(&m->lock);
	if (m->fd < 0)
		goto out;
	metrics_sample(m);
	clock_gettime(CLOCK_REALTIME, &ts);
	o = metrics_json(&m->cur, &m->prev,
			 (uint64_t)ts.tv_sec * 1000 +
				 (uint64_t)ts.tv_nsec / 1000000);
	if (o)
		line = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (!line) {
		m->fails++;
		ret = err_set(-ENOMEM, "metrics: out of memory");
		goto out;
	}
	len = strlen(line);
	line[len++] = '\n'; /* over the NUL: written by length */
	n = write(m->fd, line, len);
	free(line);
	if (n != (ssize_t)len) {
		m->fails++;
		ret = err_set(n < 0 ? -errno : -EIO,
			      "Failed to write metrics: %s",
			      n < 0 ? strerror(errno) : "short write");
		goto out;
	}
	m->prev = m->cur;
out:
	pthread_mutex_unlock(&m->lock);
	return ret;
}

unsigned metrics_period_ms(void)
{
	const char *e = getenv("MINIVMM_METRICS_PERIOD_MS");
	unsigned long v;
	char *end;

	if (!e || !*e)
		return METRICS_PERIOD_MS;
	v = strtoul(e, &end, 10);
	return *end || !v || v > METRICS_PERIOD_MS ? METRICS_PERIOD_MS
						   : (unsigned)v;
}
