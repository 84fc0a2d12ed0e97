/* minivmm's log: stderr, or a file in Firecracker's line format. */
#include "log.h"
#include "../err.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX 1024

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static int log_fd = -1;		 /* under log_lock; -1: stderr */
static int log_level = LOG_INFO; /* atomic */
static bool log_show_level, log_show_origin;
static char log_id[65] = "anonymous-instance";
static uint64_t log_missed, log_fails; /* atomic */
static _Thread_local const char *log_thread;

int log_level_parse(const char *name)
{
	static const struct {
		const char *name;
		enum log_level level;
	} names[] = {
		{"Off", LOG_OFF},	  {"Error", LOG_ERROR},
		{"Warning", LOG_WARNING}, {"Warn", LOG_WARNING},
		{"Info", LOG_INFO},	  {"Debug", LOG_DEBUG},
		{"Trace", LOG_TRACE},
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcasecmp(name, names[i].name))
			return (int)names[i].level;
	return -EINVAL;
}

const char *log_level_name(enum log_level l)
{
	static const char *const names[] = {"OFF",  "ERROR", "WARN",
					    "INFO", "DEBUG", "TRACE"};

	return (unsigned)l < sizeof(names) / sizeof(names[0]) ? names[l] : "?";
}

void log_set_id(const char *id)
{
	pthread_mutex_lock(&log_lock);
	snprintf(log_id, sizeof(log_id), "%s", id);
	pthread_mutex_unlock(&log_lock);
}

void log_set_level(enum log_level l)
{
	__atomic_store_n(&log_level, (int)l, __ATOMIC_RELAXED);
}

void log_set_thread(const char *name)
{
	log_thread = name;
}

int log_open(const char *path, bool show_level, bool show_origin)
{
	/* O_RDWR: a FIFO opens without a reader; O_NONBLOCK: a full FIFO
	 * drops lines instead of stopping the thread that logs. */
	int fd = open(path,
		      O_RDWR | O_APPEND | O_CREAT | O_NONBLOCK | O_CLOEXEC,
		      0644);

	if (fd < 0)
		return err_set(-errno, "log_path %s: %s", path,
			       strerror(errno));
	pthread_mutex_lock(&log_lock);
	if (log_fd >= 0)
		close(log_fd);
	log_fd = fd;
	log_show_level = show_level;
	log_show_origin = show_origin;
	pthread_mutex_unlock(&log_lock);
	return 0;
}

void log_close(void)
{
	pthread_mutex_lock(&log_lock);
	if (log_fd >= 0)
		close(log_fd);
	log_fd = -1;
	pthread_mutex_unlock(&log_lock);
}

int log_format(char *buf, int size, int64_t sec, long nsec, const char *thread,
	       enum log_level level, const char *file, int line,
	       const char *fmt, va_list ap)
{
	time_t t = (time_t)sec;
	struct tm tm;
	int n;

	gmtime_r(&t, &tm);
	n = snprintf(buf, (size_t)size,
		     "%04d-%02d-%02dT%02d:%02d:%02d.%09ld [%s:%s",
		     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		     tm.tm_min, tm.tm_sec, nsec, log_id, thread ? thread : "-");
	if (n < size && log_show_level)
		n += snprintf(buf + n, (size_t)(size - n), ":%s",
			      log_level_name(level));
	if (n < size && log_show_origin)
		n += snprintf(buf + n, (size_t)(size - n), ":%s:%d", file,
			      line);
	if (n < size)
		n += snprintf(buf + n, (size_t)(size - n), "] ");
	if (n < size)
		n += vsnprintf(buf + n, (size_t)(size - n), fmt, ap);
	if (n > size - 2)
		n = size - 2; /* cut: room for the newline */
	buf[n++] = '\n';
	buf[n] = '\0';
	return n;
}

void log_vline(enum log_level level, const char *file, int line,
	       const char *fmt, va_list ap)
{
	char buf[LOG_LINE_MAX];
	struct timespec ts;
	int n;

	if (level == LOG_OFF ||
	    (int)level > __atomic_load_n(&log_level, __ATOMIC_RELAXED))
		return;
	pthread_mutex_lock(&log_lock);
	if (log_fd < 0) {
		pthread_mutex_unlock(&log_lock);
		n = snprintf(buf, sizeof(buf), "minivmm: ");
		n += vsnprintf(buf + n, sizeof(buf) - (size_t)n - 1, fmt, ap);
		if (n > (int)sizeof(buf) - 2)
			n = (int)sizeof(buf) - 2;
		buf[n++] = '\n';
		if (write(STDERR_FILENO, buf, (size_t)n) < 0) {
			/* nowhere left to say it */
		}
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	n = log_format(buf, sizeof(buf), ts.tv_sec, ts.tv_nsec,
		       log_thread ? log_thread : "-", level, file, line, fmt,
		       ap);
	if (write(log_fd, buf, (size_t)n) != n) {
		__atomic_add_fetch(errno == EAGAIN ? &log_missed : &log_fails,
				   1, __ATOMIC_RELAXED);
	}
	pthread_mutex_unlock(&log_lock);
}

void log_line(enum log_level level, const char *file, int line, const char *fmt,
	      ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vline(level, file, line, fmt, ap);
	va_end(ap);
}

void log_read_counts(uint64_t *missed, uint64_t *fails)
{
	*missed = __atomic_load_n(&log_missed, __ATOMIC_RELAXED);
	*fails = __atomic_load_n(&log_fails, __ATOMIC_RELAXED);
}
