/*
 * util.h - small helpers shared by several modules: number and address
 * parsing, reading a whole file, creating directories, the version string,
 * and string literals with their length counted by the compiler.
 */
#ifndef EDSIM_UTIL_H
#define EDSIM_UTIL_H

#include <event2/util.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>

#define EDSIM_VERSION "0.1.0"

/* A string literal and its length, for (pointer, length) arguments:
 * evbuffer_add(b, LIT("\r\n")) is evbuffer_add(b, "\r\n", 2) with the 2
 * counted by the compiler. The "" makes anything but a literal a compile
 * error (sizeof a pointer would be a silent wrong length). */
#define LIT(s) ("" s), (sizeof("" s) - 1)
/* The n bytes at p are exactly the literal s (LIT_CASE_EQ: ignoring ASCII
 * case): a header name or a key matched where it stands, unterminated. */
#define LIT_EQ(p, n, s)      ((n) == sizeof("" s) - 1 && memcmp((p), (s), (n)) == 0)
#define LIT_CASE_EQ(p, n, s) ((n) == sizeof("" s) - 1 && strncasecmp((p), (s), (n)) == 0)

/* Whole string as a decimal integer; -1 on anything else. */
int parse_ulonglong(const char *s, unsigned long long *out);
/* "127.0.0.1:2525", "[::1]:2525", "localhost:2525"; port 0 means any free port. */
int split_host_port(const char *text, char *host, size_t hostlen, int *port);
/* The local port a socket is bound to. */
int bound_port(evutil_socket_t fd);
/* The whole file, NUL-terminated (malloc'ed), its length in *len; NULL with
 * errno set when it cannot be read. */
char *read_file(const char *path, size_t *len);
struct event_base;
struct evhttp;
/* An evhttp server on listen ("host:port") allowing GET, POST, PUT, DELETE
 * and HEAD: its bound port in *port, its socket in *fd. key names the
 * setting and name the listener in the error ("listen.https", "https").
 * NULL with err filled in. */
struct evhttp *http_listen(struct event_base *base, const char *listen, const char *key,
                           const char *name, int *port, evutil_socket_t *fd, char *err,
                           size_t errlen);
/* mkdir -p: path and every missing directory above it (mode 0755). */
int make_dirs(const char *path);

#endif
