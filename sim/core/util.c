/*
 * util.c - number and address parsing, bound-port lookup, whole files,
 * directories.
 */
#include "util.h"

#include <errno.h>
#include <event2/http.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

int parse_ulonglong(const char *s, unsigned long long *out)
{
	char *end;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	*out = strtoull(s, &end, 10);
	return (errno != 0 || *end != '\0') ? -1 : 0;
}

int split_host_port(const char *text, char *host, size_t hostlen, int *port)
{
	const char *colon;
	unsigned long long p;
	size_t n;

	if (text == NULL)
		return -1;
	if (text[0] == '[') {
		const char *close = strchr(text, ']');
		if (close == NULL || close[1] != ':')
			return -1;
		n = (size_t)(close - text - 1);
		colon = close + 1;
		text++;
	} else {
		colon = strrchr(text, ':');
		if (colon == NULL)
			return -1;
		n = (size_t)(colon - text);
	}
	if (n == 0 || n >= hostlen || parse_ulonglong(colon + 1, &p) < 0 || p > 65535)
		return -1;
	memcpy(host, text, n);
	host[n] = '\0';
	*port = (int)p;
	return 0;
}

int bound_port(evutil_socket_t fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return -1;
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *text = NULL;
	long size;
	int saved;

	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (text = malloc((size_t)size + 1)) != NULL) {
		*len = fread(text, 1, (size_t)size, f);
		text[*len] = '\0';
	}
	saved = errno;
	fclose(f);
	errno = saved;
	return text;
}

int make_dirs(const char *path)
{
	char buf[4096];

	snprintf(buf, sizeof buf, "%s", path);
	for (char *p = buf + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return (mkdir(buf, 0755) < 0 && errno != EEXIST) ? -1 : 0;
}

struct evhttp *http_listen(struct event_base *base, const char *listen, const char *key,
                           const char *name, int *port, evutil_socket_t *fd, char *err,
                           size_t errlen)
{
	struct evhttp_bound_socket *sock;
	struct evhttp *http;
	char host[256];
	int want;

	if (split_host_port(listen, host, sizeof host, &want) < 0) {
		snprintf(err, errlen, "%s: expected host:port, found '%s'", key, listen);
		return NULL;
	}
	if ((http = evhttp_new(base)) == NULL) {
		snprintf(err, errlen, "cannot listen on %s (%s): out of memory", listen, name);
		return NULL;
	}
	evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
	                                     EVHTTP_REQ_DELETE | EVHTTP_REQ_HEAD);
	sock = evhttp_bind_socket_with_handle(http, host, (ev_uint16_t)want);
	if (sock == NULL) {
		snprintf(err, errlen, "cannot listen on %s (%s)", listen, name);
		evhttp_free(http);
		return NULL;
	}
	*fd = evhttp_bound_socket_get_fd(sock);
	*port = bound_port(*fd);
	return http;
}
