/* marktime: run a command, copy its stdout through, and note when the first
 * line containing each MARKER appeared (CLOCK_MONOTONIC, ms since the fork),
 * when it exited, its status and peak RSS.  For busybox hosts without %N.
 * Usage: marktime -o FILE [-m MARKER]... -- CMD [ARGS...]
 * FILE gets "mark I MS" (I = marker index, -1 ms if never seen) and
 * "exit STATUS MS MAXRSS_KB" (STATUS as the shell reports it). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_MARKS 8

static struct timespec t0;

static long ms_since_start(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0.tv_sec) * 1000 +
	       (t.tv_nsec - t0.tv_nsec) / 1000000;
}

static int usage(void)
{
	fprintf(stderr,
		"usage: marktime -o FILE [-m MARKER]... -- CMD [ARGS...]\n");
	return 2;
}

int main(int argc, char **argv)
{
	const char *marks[MAX_MARKS], *outpath = NULL;
	long seen[MAX_MARKS];
	int nmarks = 0, opt, fds[2], status;
	char line[4096];
	size_t len = 0;
	struct rusage ru;
	FILE *out, *in;
	pid_t pid;

	while ((opt = getopt(argc, argv, "+o:m:")) != -1) {
		if (opt == 'o')
			outpath = optarg;
		else if (opt == 'm' && nmarks < MAX_MARKS)
			marks[nmarks++] = optarg;
		else
			return usage();
	}
	if (!outpath || optind >= argc)
		return usage();
	for (int i = 0; i < nmarks; i++)
		seen[i] = -1;
	if (pipe(fds))
		return perror("marktime: pipe"), 1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pid = fork();
	if (pid < 0)
		return perror("marktime: fork"), 1;
	if (pid == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		close(fds[1]);
		execvp(argv[optind], argv + optind);
		perror("marktime: exec");
		_exit(127);
	}
	close(fds[1]);
	signal(SIGPIPE, SIG_IGN);
	in = fdopen(fds[0], "r");
	if (!in)
		return perror("marktime: fdopen"), 1;
	for (int c; (c = getc(in)) != EOF;) {
		if (len < sizeof(line) - 1)
			line[len++] = (char)c;
		if (c != '\n')
			continue;
		line[len] = '\0';
		for (int i = 0; i < nmarks; i++)
			if (seen[i] < 0 && strstr(line, marks[i]))
				seen[i] = ms_since_start();
		fputs(line, stdout);
		fflush(stdout);
		len = 0;
	}
	if (len) {
		line[len] = '\0';
		fputs(line, stdout);
		fflush(stdout);
	}
	if (wait4(pid, &status, 0, &ru) < 0)
		return perror("marktime: wait4"), 1;
	long end = ms_since_start();
	out = fopen(outpath, "w");
	if (!out)
		return perror("marktime: open output"), 1;
	for (int i = 0; i < nmarks; i++)
		fprintf(out, "mark %d %ld\n", i, seen[i]);
	fprintf(out, "exit %d %ld %ld\n",
		WIFEXITED(status) ? WEXITSTATUS(status)
				  : 128 + WTERMSIG(status),
		end, ru.ru_maxrss);
	fclose(out);
	return 0;
}
