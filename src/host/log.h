/* minivmm's own log lines (not the guest's console, not the --stats
 * tables): to stderr as "minivmm: MESSAGE", or, once a log path is set
 * (--log-path, PUT /logger), appended to that file or FIFO in Firecracker's
 * format: "2026-11-30T22:12:00.123456789 [ID:THREAD] MESSAGE", with
 * ":LEVEL" after THREAD if show_level and ":FILE:LINE" if show_log_origin.
 * Lines above the level (Firecracker's: Error, Warning, Info, Debug, Trace;
 * Off) are dropped.  Thread-safe: one write(2) per line. */
#ifndef MINIVMM_HOST_LOG_H
#define MINIVMM_HOST_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

enum log_level {
	LOG_OFF,
	LOG_ERROR,
	LOG_WARNING,
	LOG_INFO,
	LOG_DEBUG,
	LOG_TRACE,
};

/* Firecracker's level names, case-insensitive ("Warning", "warn" too):
 * the level, or -EINVAL. */
int log_level_parse(const char *name);
/* "ERROR", "WARN", "INFO", "DEBUG", "TRACE": as Firecracker shows them. */
const char *log_level_name(enum log_level l);

/* The instance id in each line (--id); the default "anonymous-instance". */
void log_set_id(const char *id);
void log_set_level(enum log_level l);
/* Opens @path for appending (created if missing; a FIFO needs no reader
 * yet and never blocks the writer: lines are dropped and counted) and
 * sends the lines there from now on.  -errno with err_msg() set; the old
 * destination stays then. */
int log_open(const char *path, bool show_level, bool show_origin);
/* Back to stderr (closes the file). */
void log_close(void);

/* The name the calling thread's lines show ("main", "fc_api", "fc_vcpu 0"):
 * a constant or a string that outlives the thread. */
void log_set_thread(const char *name);

/* One line (the trailing newline is added; @fmt should not end in one). */
#define log_write(level, ...) log_line(level, __FILE__, __LINE__, __VA_ARGS__)
void log_line(enum log_level level, const char *file, int line, const char *fmt,
	      ...) __attribute__((format(printf, 4, 5)));
void log_vline(enum log_level level, const char *file, int line,
	       const char *fmt, va_list ap);

/* Lines dropped so far because the file took no more (a full FIFO), and
 * other failed writes (the metrics' "logger" section). */
void log_read_counts(uint64_t *missed, uint64_t *fails);

/* Formats one file line into @buf (@size bytes, at least 64), as log_line
 * does with the clock's @sec/@nsec (UTC): its length.  For the tests. */
int log_format(char *buf, int size, int64_t sec, long nsec, const char *thread,
	       enum log_level level, const char *file, int line,
	       const char *fmt, va_list ap);

#endif
