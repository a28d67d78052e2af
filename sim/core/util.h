/*
 * util.h - small helpers shared by several modules: number and address
 * parsing, reading a whole file, creating directories, the version string.
 */
#ifndef EDSIM_UTIL_H
#define EDSIM_UTIL_H

#include <event2/util.h>
#include <stddef.h>

#define EDSIM_VERSION "0.1.0"

/* Whole string as a decimal integer; -1 on anything else. */
int parse_ulonglong(const char *s, unsigned long long *out);
/* "127.0.0.1:2525", "[::1]:2525", "localhost:2525"; port 0 means any free port. */
int split_host_port(const char *text, char *host, size_t hostlen, int *port);
/* The local port a socket is bound to. */
int bound_port(evutil_socket_t fd);
/* The whole file, NUL-terminated (malloc'ed), its length in *len; NULL with
 * errno set when it cannot be read. */
char *read_file(const char *path, size_t *len);
/* mkdir -p: path and every missing directory above it (mode 0755). */
int make_dirs(const char *path);

#endif
