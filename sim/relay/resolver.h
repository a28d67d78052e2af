/*
 * resolver.h - where mail for a domain goes: MX lookup with c-ares.
 *
 * resolver_mx() asks the configured DNS server (or the system's) for the
 * MX records of a domain, orders them by preference (lowest first; equal
 * preferences in the order the server gave), and resolves each exchange to
 * its IPv4 and IPv6 addresses. A domain without MX records falls back to its
 * own A/AAAA records (RFC 5321 section 5.1); a "null MX" (a single MX of
 * "." ) means the domain accepts no mail. The answer is a list of addresses
 * with the given port, in the order to try them. Queries run on the event
 * loop (c-ares sockets watched by libevent); the callback is called exactly
 * once, on the loop's thread, never from inside resolver_mx().
 */
#ifndef EDSIM_RESOLVER_H
#define EDSIM_RESOLVER_H

#include <stddef.h>
#include <sys/socket.h>

struct event_base;
struct resolver;

struct mx_target {
	char host[256]; /* the exchange's name (or the domain itself on fallback) */
	struct sockaddr_storage addr;
	socklen_t addrlen;
};

/* status: 0 and n >= 1 targets; or -1 with err set ("no such domain",
 * "null MX: the domain accepts no mail", "DNS timeout", ...) and
 * permanent=1 when retrying cannot help (NXDOMAIN, null MX), 0 otherwise. */
typedef void (*resolver_done_fn)(void *arg, int status, const struct mx_target *targets, size_t n,
                                 const char *err, int permanent);

/* server: "host:port" or "host" (port 53) of the DNS server to ask, NULL for
 * /etc/resolv.conf. NULL with err on failure. */
struct resolver *resolver_new(struct event_base *base, const char *server, char *err,
                              size_t errlen);
/* Cancels pending queries (their callbacks are not called) and frees r. */
void resolver_free(struct resolver *r);
void resolver_mx(struct resolver *r, const char *domain, int port, resolver_done_fn done,
                 void *arg);

#endif
