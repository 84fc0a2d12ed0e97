/* fcreq: one HTTP/1.1 request on a UNIX socket, for the Firecracker-mode
 * tests in the vmhost (which has no curl): what `curl --unix-socket SOCK
 * -X METHOD -d BODY http://localhost/PATH` does.  Prints "STATUS BODY" on
 * one line; exits 0 for a 2xx status, 1 otherwise, 2 if no answer came.
 * Usage: fcreq SOCK METHOD PATH [BODY] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	static char req[65536], resp[65536];
	const char *body = argc > 4 ? argv[4] : "";
	size_t len = 0;
	ssize_t n;
	char *p;
	int fd, status;

	if (argc < 4 || argc > 5 || strlen(argv[1]) >= sizeof(a.sun_path)) {
		fprintf(stderr, "usage: fcreq SOCK METHOD PATH [BODY]\n");
		return 2;
	}
	strcpy(a.sun_path, argv[1]);
	n = snprintf(
		req, sizeof(req),
		"%s %s HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\n"
		"Content-Type: application/json\r\nContent-Length: %zu\r\n"
		"Connection: close\r\n\r\n%s",
		argv[2], argv[3], strlen(body), body);
	if (n < 0 || (size_t)n >= sizeof(req)) {
		fprintf(stderr, "fcreq: request too long\n");
		return 2;
	}
	alarm(30);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		perror("fcreq: connect");
		return 2;
	}
	if (write(fd, req, (size_t)n) != n) {
		perror("fcreq: write");
		return 2;
	}
	while (len < sizeof(resp) - 1 &&
	       (n = read(fd, resp + len, sizeof(resp) - 1 - len)) > 0)
		len += (size_t)n;
	resp[len] = 0;
	if (sscanf(resp, "HTTP/1.%*d %d", &status) != 1) {
		fprintf(stderr, "fcreq: no HTTP answer\n");
		return 2;
	}
	p = strstr(resp, "\r\n\r\n");
	p = p ? p + 4 : "";
	for (char *q = p; *q; q++)
		if (*q == '\n' || *q == '\r')
			*q = ' ';
	printf("%d %s\n", status, p);
	return status >= 200 && status < 300 ? 0 : 1;
}
