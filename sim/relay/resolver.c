/*
 * resolver.c - MX lookup with c-ares on the libevent loop.
 *
 * One c-ares channel per resolver. c-ares tells us which sockets it wants
 * watched through its socket-state callback; each becomes a persistent
 * libevent event that calls ares_process_fd(). One timer, re-armed from
 * ares_timeout() after every call into c-ares, drives retries and timeouts.
 *
 * A lookup (struct mx_query) asks for the domain's MX records, orders them
 * by preference (a stable sort, so equal preferences keep the server's
 * order), then resolves every exchange with ares_getaddrinfo() at once and
 * collects the addresses in MX order. NODATA on the MX query falls back to
 * the domain's own addresses. The result is never handed over from inside
 * c-ares: it is delivered by a zero-timeout event of the query's own, so
 * the user's callback is never called from resolver_mx() and may free the
 * resolver. resolver_free() destroys the channel first; the ARES_EDESTRUCTION
 * callbacks that ares_destroy() makes are ignored, then the queries freed.
 *
 * Invariants: every query is on r->queries from resolver_mx() until its
 * delivery event runs (or resolver_free() frees it), and delivers once;
 * every socket c-ares watches has one sock_watch on r->watches, with its
 * event added, until c-ares stops watching it or the resolver is freed.
 */
#include "resolver.h"

#include <ares.h>
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "log.h"
#include "util.h"
#include "xmalloc.h"

#define RESOLVER_TIMEOUT_MS 2000
#define RESOLVER_TRIES      2
#define RESOLVER_ERR_MAX    256

/* A socket c-ares asked us to watch. */
struct sock_watch {
	struct resolver *r;
	ares_socket_t fd;
	struct event *ev;
	TAILQ_ENTRY(sock_watch) entry; /* in r->watches */
};

struct mx_query;

/* One exchange of the MX answer and the addresses it resolved to. */
struct mx_exchange {
	struct mx_query *q;
	char host[256];
	unsigned short priority;
	size_t order;                /* position in the server's answer */
	int status;                  /* ares status of its address lookup */
	struct ares_addrinfo *addrs; /* NULL until resolved (or on failure) */
};

struct mx_query {
	struct resolver *r;
	char domain[256];
	int port;
	resolver_done_fn done;
	void *arg;
	struct mx_exchange *ex; /* the exchanges, in the order to try them */
	size_t nex;
	size_t pending; /* address lookups not yet answered */
	int fallback;   /* 1: ex[0] is the domain itself (no MX records) */
	/* the result, filled once by query_finish() */
	int status;
	int permanent;
	char err[RESOLVER_ERR_MAX];
	struct mx_target *targets;
	size_t ntargets;
	struct event *deliver;
	TAILQ_ENTRY(mx_query) entry; /* in r->queries */
};

struct resolver {
	struct event_base *base;
	ares_channel channel;
	struct event *timer;
	TAILQ_HEAD(, sock_watch) watches;
	TAILQ_HEAD(, mx_query) queries;
	int destroying; /* inside resolver_free(): c-ares callbacks are ignored */
};

/* ---- c-ares sockets and timer on the event loop ------------------------------ */

static void timer_update(struct resolver *r)
{
	struct timeval tv, *next;

	if (r->destroying)
		return;
	next = ares_timeout(r->channel, NULL, &tv);
	if (next == NULL)
		evtimer_del(r->timer);
	else
		evtimer_add(r->timer, next);
}

static void timer_fired(evutil_socket_t fd, short what, void *arg)
{
	struct resolver *r = arg;

	(void)fd;
	(void)what;
	ares_process_fd(r->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	timer_update(r);
}

/* The watch may be freed by ares_process_fd() (c-ares closes the socket),
 * so nothing of it is used after that call. */
static void sock_ready(evutil_socket_t fd, short what, void *arg)
{
	struct resolver *r = ((struct sock_watch *)arg)->r;

	ares_process_fd(r->channel, (what & EV_READ) ? fd : ARES_SOCKET_BAD,
	                (what & EV_WRITE) ? fd : ARES_SOCKET_BAD);
	timer_update(r);
}

static struct sock_watch *watch_find(struct resolver *r, ares_socket_t fd)
{
	struct sock_watch *w;

	for (w = TAILQ_FIRST(&r->watches); w != NULL; w = TAILQ_NEXT(w, entry))
		if (w->fd == fd)
			break;
	return w;
}

static void watch_free(struct sock_watch *w)
{
	event_free(w->ev);
	free(w);
}

/* Watches fd for what: w is its watch, or NULL for a new one. On failure
 * the socket is not watched at all (w is freed). */
static int watch_set(struct resolver *r, struct sock_watch *w, ares_socket_t fd, short what)
{
	int fresh = w == NULL;

	if (fresh) {
		w = xcalloc(1, sizeof *w);
		w->r = r;
		w->fd = fd;
	} else {
		event_free(w->ev);
	}
	w->ev = event_new(r->base, fd, what | EV_PERSIST, sock_ready, w);
	if (w->ev == NULL || event_add(w->ev, NULL) < 0) {
		if (w->ev != NULL)
			event_free(w->ev);
		if (!fresh)
			TAILQ_REMOVE(&r->watches, w, entry);
		free(w);
		return -1;
	}
	if (fresh)
		TAILQ_INSERT_TAIL(&r->watches, w, entry);
	return 0;
}

/* c-ares: start, change or stop watching fd. */
static void sock_state(void *data, ares_socket_t fd, int readable, int writable)
{
	struct resolver *r = data;
	struct sock_watch *w = watch_find(r, fd);
	short what = (short)((readable ? EV_READ : 0) | (writable ? EV_WRITE : 0));

	if (what == 0) {
		if (w != NULL) {
			TAILQ_REMOVE(&r->watches, w, entry);
			watch_free(w);
		}
		return;
	}
	if (watch_set(r, w, fd, what) < 0)
		log_err("resolver: cannot watch DNS socket %d", (int)fd);
}

/* ---- queries: bookkeeping and delivery --------------------------------------- */

static void query_free(struct mx_query *q)
{
	for (size_t i = 0; i < q->nex; i++)
		if (q->ex[i].addrs != NULL)
			ares_freeaddrinfo(q->ex[i].addrs);
	free(q->ex);
	free(q->targets);
	if (q->deliver != NULL)
		event_free(q->deliver);
	free(q);
}

static void query_deliver(evutil_socket_t fd, short what, void *arg)
{
	struct mx_query *q = arg;

	(void)fd;
	(void)what;
	TAILQ_REMOVE(&q->r->queries, q, entry);
	if (q->status == 0)
		log_debug("resolver: %s: %zu address(es)", q->domain, q->ntargets);
	else
		log_debug("resolver: %s: %s", q->domain, q->err);
	q->done(q->arg, q->status, q->targets, q->ntargets, q->status == 0 ? NULL : q->err,
	        q->permanent);
	query_free(q);
}

/* Records the result and schedules its delivery on the next loop turn. */
static void query_finish(struct mx_query *q, int status, int permanent)
{
	static const struct timeval now = {0, 0};

	q->status = status;
	q->permanent = permanent;
	if (status == 0)
		q->err[0] = '\0';
	if (evtimer_add(q->deliver, &now) < 0)
		log_err("resolver: cannot schedule the answer for %s", q->domain);
}

static void query_fail(struct mx_query *q, int permanent, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void query_fail(struct mx_query *q, int permanent, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(q->err, sizeof q->err, fmt, ap);
	va_end(ap);
	query_finish(q, -1, permanent);
}

/* A failed MX or address query as a message and its permanence. */
static void query_fail_ares(struct mx_query *q, int status, const char *what)
{
	switch (status) {
	case ARES_ENOTFOUND:
		query_fail(q, 1, "no such domain: %s", q->domain);
		break;
	case ARES_EBADNAME:
		query_fail(q, 1, "invalid domain name: %s", q->domain);
		break;
	case ARES_ETIMEOUT:
		query_fail(q, 0, "DNS timeout looking up %s", what);
		break;
	case ARES_ESERVFAIL:
		query_fail(q, 0, "DNS server failure (SERVFAIL) looking up %s", what);
		break;
	case ARES_EREFUSED:
		query_fail(q, 0, "DNS query refused looking up %s", what);
		break;
	case ARES_ECONNREFUSED:
		query_fail(q, 0,
		           "no answer from the DNS server (refused or unreachable) looking up %s",
		           what);
		break;
	default:
		query_fail(q, 0, "DNS error looking up %s: %s", what, ares_strerror(status));
		break;
	}
}

/* ---- collecting the addresses ------------------------------------------------- */

static void target_set_port(struct mx_target *t, int port)
{
	if (t->addr.ss_family == AF_INET6)
		((struct sockaddr_in6 *)&t->addr)->sin6_port = htons((unsigned short)port);
	else
		((struct sockaddr_in *)&t->addr)->sin_port = htons((unsigned short)port);
}

static size_t count_addresses(const struct mx_query *q)
{
	size_t n = 0;

	for (size_t i = 0; i < q->nex; i++)
		if (q->ex[i].addrs != NULL)
			for (struct ares_addrinfo_node *a = q->ex[i].addrs->nodes; a;
			     a = a->ai_next)
				n++;
	return n;
}

static void collect_targets(struct mx_query *q)
{
	size_t n = count_addresses(q), k = 0;

	if (n == 0)
		return;
	q->targets = xcalloc(n, sizeof *q->targets);
	for (size_t i = 0; i < q->nex; i++) {
		if (q->ex[i].addrs == NULL)
			continue;
		for (struct ares_addrinfo_node *a = q->ex[i].addrs->nodes; a; a = a->ai_next) {
			struct mx_target *t = &q->targets[k];
			if ((size_t)a->ai_addrlen > sizeof t->addr)
				continue;
			snprintf(t->host, sizeof t->host, "%s", q->ex[i].host);
			memcpy(&t->addr, a->ai_addr, (size_t)a->ai_addrlen);
			t->addrlen = (socklen_t)a->ai_addrlen;
			target_set_port(t, q->port);
			k++;
		}
	}
	q->ntargets = k;
}

/* Every address lookup has answered: the addresses, or why there are none. */
static void query_complete(struct mx_query *q)
{
	const struct mx_exchange *last;

	collect_targets(q);
	if (q->ntargets > 0) {
		query_finish(q, 0, 0);
		return;
	}
	if (q->fallback) {
		if (q->ex[0].status == ARES_ENODATA || q->ex[0].status == ARES_SUCCESS)
			query_fail(q, 1, "no MX or address records for %s", q->domain);
		else
			query_fail_ares(q, q->ex[0].status, q->domain);
		return;
	}
	last = &q->ex[q->nex - 1];
	query_fail(q, 0, "cannot resolve any MX host of %s (%s: %s)", q->domain, last->host,
	           ares_strerror(last->status));
}

static void exchange_resolved(void *arg, int status, int timeouts, struct ares_addrinfo *res)
{
	struct mx_exchange *ex = arg;
	struct mx_query *q = ex->q;

	(void)timeouts;
	if (q->r->destroying) {
		if (res != NULL)
			ares_freeaddrinfo(res);
		return;
	}
	ex->status = status;
	if (status == ARES_SUCCESS && res != NULL && res->nodes != NULL)
		ex->addrs = res;
	else if (res != NULL)
		ares_freeaddrinfo(res);
	if (status == ARES_SUCCESS && ex->addrs == NULL)
		ex->status = ARES_ENODATA;
	if (--q->pending == 0)
		query_complete(q);
}

/* Looks up every exchange at once. pending holds one extra count while
 * starting them, so a lookup that c-ares answers at once (an address
 * literal) cannot complete the query before the last one is started. */
static void resolve_exchanges(struct mx_query *q)
{
	struct ares_addrinfo_hints hints = {.ai_family = AF_UNSPEC};

	q->pending = q->nex + 1;
	for (size_t i = 0; i < q->nex; i++) {
		q->ex[i].q = q;
		ares_getaddrinfo(q->r->channel, q->ex[i].host, NULL, &hints, exchange_resolved,
		                 &q->ex[i]);
	}
	if (--q->pending == 0)
		query_complete(q);
}

/* ---- the MX answer ---------------------------------------------------------------- */

static int compare_priority(const void *a, const void *b)
{
	const struct mx_exchange *x = a, *y = b;

	if (x->priority != y->priority)
		return x->priority < y->priority ? -1 : 1;
	/* equal preference: the server's order (qsort itself is not stable) */
	return x->order < y->order ? -1 : x->order > y->order;
}

static int is_null_mx(const struct ares_mx_reply *mx)
{
	return mx != NULL && mx->next == NULL &&
	       (mx->host[0] == '\0' || strcmp(mx->host, ".") == 0);
}

/* Copies the reply into q->ex sorted by preference. */
static void exchanges_from_reply(struct mx_query *q, const struct ares_mx_reply *mx)
{
	size_t n = 0, i = 0;

	for (const struct ares_mx_reply *m = mx; m != NULL; m = m->next)
		n++;
	q->ex = xcalloc(n, sizeof *q->ex);
	for (const struct ares_mx_reply *m = mx; m != NULL; m = m->next, i++) {
		snprintf(q->ex[i].host, sizeof q->ex[i].host, "%s", m->host);
		q->ex[i].priority = m->priority;
		q->ex[i].order = i;
	}
	q->nex = n;
	qsort(q->ex, n, sizeof *q->ex, compare_priority);
}

/* No MX records: the domain itself is the one exchange (RFC 5321 5.1). */
static void resolve_fallback(struct mx_query *q)
{
	q->ex = xcalloc(1, sizeof *q->ex);
	snprintf(q->ex[0].host, sizeof q->ex[0].host, "%s", q->domain);
	q->nex = 1;
	q->fallback = 1;
	resolve_exchanges(q);
}

static void mx_answered(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	struct mx_query *q = arg;
	struct ares_mx_reply *mx = NULL;
	char what[300];

	(void)timeouts;
	if (q->r->destroying)
		return;
	if (status == ARES_SUCCESS)
		status = ares_parse_mx_reply(abuf, alen, &mx);
	if (status == ARES_ENODATA) {
		resolve_fallback(q);
		return;
	}
	if (status != ARES_SUCCESS) {
		snprintf(what, sizeof what, "the MX records of %s", q->domain);
		query_fail_ares(q, status, what);
		return;
	}
	if (is_null_mx(mx)) {
		query_fail(q, 1, "null MX: the domain accepts no mail");
	} else {
		exchanges_from_reply(q, mx);
		resolve_exchanges(q);
	}
	ares_free_data(mx);
}

/* ---- the resolver ------------------------------------------------------------------ */

/* "host:port", "[v6]:port" or an address alone (port 53). */
static int servers_set(ares_channel channel, const char *server, char *err, size_t errlen)
{
	struct ares_addr_port_node node = {0};
	char host[INET6_ADDRSTRLEN + 1];
	int port = 53;

	if (inet_pton(AF_INET, server, &node.addr.addr4) == 1) {
		node.family = AF_INET;
	} else if (inet_pton(AF_INET6, server, &node.addr.addr6) == 1) {
		node.family = AF_INET6;
	} else if (split_host_port(server, host, sizeof host, &port) < 0 || port == 0) {
		snprintf(err, errlen, "bad DNS server \"%s\": want address or address:port",
		         server);
		return -1;
	} else if (inet_pton(AF_INET, host, &node.addr.addr4) == 1) {
		node.family = AF_INET;
	} else if (inet_pton(AF_INET6, host, &node.addr.addr6) == 1) {
		node.family = AF_INET6;
	} else {
		snprintf(err, errlen, "bad DNS server \"%s\": not an IP address", server);
		return -1;
	}
	node.udp_port = node.tcp_port = port;
	if (ares_set_servers_ports(channel, &node) != ARES_SUCCESS) {
		snprintf(err, errlen, "cannot use DNS server \"%s\"", server);
		return -1;
	}
	return 0;
}

static int channel_init(struct resolver *r, const char *server, char *err, size_t errlen)
{
	struct ares_options opts = {0};
	int mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_DOMAINS;
	int status;

	opts.sock_state_cb = sock_state;
	opts.sock_state_cb_data = r;
	opts.timeout = RESOLVER_TIMEOUT_MS;
	opts.tries = RESOLVER_TRIES;
	/* exchanges are fully qualified: never append resolv.conf's search list */
	opts.ndomains = 0;
	if (server != NULL) {
		/* a configured server is the whole truth: /etc/hosts does not count */
		opts.lookups = (char *)"b";
		mask |= ARES_OPT_LOOKUPS;
	}
	status = ares_init_options(&r->channel, &opts, mask);
	if (status != ARES_SUCCESS) {
		snprintf(err, errlen, "cannot start the DNS resolver: %s", ares_strerror(status));
		return -1;
	}
	if (server != NULL && servers_set(r->channel, server, err, errlen) < 0) {
		ares_destroy(r->channel);
		return -1;
	}
	return 0;
}

struct resolver *resolver_new(struct event_base *base, const char *server, char *err, size_t errlen)
{
	struct resolver *r;
	int status = ares_library_init(ARES_LIB_INIT_ALL);

	if (status != ARES_SUCCESS) {
		snprintf(err, errlen, "cannot initialise c-ares: %s", ares_strerror(status));
		return NULL;
	}
	r = xcalloc(1, sizeof *r);
	r->base = base;
	TAILQ_INIT(&r->watches);
	TAILQ_INIT(&r->queries);
	r->timer = evtimer_new(base, timer_fired, r);
	if (r->timer == NULL) {
		snprintf(err, errlen, "cannot create the DNS timer");
	} else if (channel_init(r, server, err, errlen) == 0) {
		return r;
	} else {
		event_free(r->timer);
	}
	free(r);
	ares_library_cleanup();
	return NULL;
}

void resolver_free(struct resolver *r)
{
	struct mx_query *q;
	struct sock_watch *w;

	if (r == NULL)
		return;
	r->destroying = 1;
	ares_destroy(r->channel);
	while ((q = TAILQ_FIRST(&r->queries)) != NULL) {
		TAILQ_REMOVE(&r->queries, q, entry);
		query_free(q);
	}
	while ((w = TAILQ_FIRST(&r->watches)) != NULL) {
		TAILQ_REMOVE(&r->watches, w, entry);
		watch_free(w);
	}
	event_free(r->timer);
	free(r);
	ares_library_cleanup();
}

static struct mx_query *query_new(struct resolver *r, const char *domain, int port,
                                  resolver_done_fn done, void *arg)
{
	struct mx_query *q = xcalloc(1, sizeof *q);

	q->deliver = evtimer_new(r->base, query_deliver, q);
	if (q->deliver == NULL) {
		free(q);
		return NULL;
	}
	q->r = r;
	snprintf(q->domain, sizeof q->domain, "%s", domain);
	q->port = port;
	q->done = done;
	q->arg = arg;
	TAILQ_INSERT_HEAD(&r->queries, q, entry);
	return q;
}

void resolver_mx(struct resolver *r, const char *domain, int port, resolver_done_fn done, void *arg)
{
	struct mx_query *q = query_new(r, domain, port, done, arg);

	if (q == NULL) {
		/* cannot even defer: the one case the caller hears nothing */
		log_err("resolver: out of memory looking up %s", domain);
		return;
	}
	if (domain[0] == '\0') {
		query_fail(q, 1, "invalid domain name: empty");
		return;
	}
	if (strlen(domain) >= sizeof q->domain) {
		query_fail(q, 1, "invalid domain name: %.64s...", domain);
		return;
	}
	ares_query(r->channel, domain, ns_c_in, ns_t_mx, mx_answered, q);
	timer_update(r);
}
