/*
 * relay_hop.c - the way to the next hop: destinations, their queues of jobs,
 * their connections, the smtp_client callbacks, MX lookups and the
 * smarthost's addresses. It reports to its owner only through struct
 * hop_ops (relay_hop.h says the contract) and knows nothing of the queue.
 *
 * A destination is the smarthost (its addresses resolved once, at
 * hop_new()) or a recipient domain (its MX records looked up with the
 * resolver, cached for MX_CACHE_SECS). It has a queue of jobs and at most
 * relay.connections connections; a connection that finishes a job takes the
 * next one, and is closed after relay.idle without one. The TLS client
 * context (h->tls) is made by the first connection, not at start (tls.h says
 * why): a relay in capture mode never makes one.
 *
 * Invariants: d->njobs counts the jobs waiting in d's queue, d->nconns its
 * connections; a connection carries at most one job (cn->job) and only once
 * it is ready. Every connection is on exactly one list until it is freed:
 * its destination's (d->conns), or h->closing once it has said QUIT; the
 * client frees itself only after failed() or closed(), which take the
 * connection off its list, and hop_free() frees what is left on both.
 * Every job that leaves a queue goes back to the owner through finished(),
 * answered or failed, or through dropped() when the hop layer forgets
 * everything (hop_forget_all(), hop_free()). When a destination cannot be
 * reached (lookup failed, no connection could be made), every job waiting
 * at it fails with the reason.
 */
#include "relay_hop.h"

#include <event2/event.h>
#include <event2/util.h>
#include <math.h>
#include <netdb.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>

#include "clock.h"
#include "config.h"
#include "log.h"
#include "resolver.h"
#include "smtp_client.h"
#include "tls.h"
#include "xmalloc.h"

#define MX_CACHE_SECS 60.0

struct hop_dest;

/* A connection belongs to its destination (d, in d->conns) until it is
 * closed with QUIT; then it leaves the destination (d is NULL) and waits in
 * h->closing until its client is gone (or the hop layer is freed). */
struct conn {
	TAILQ_ENTRY(conn) entry; /* in d->conns or h->closing */
	struct hop *h;
	struct hop_dest *d;
	struct smtp_client *c;
	struct job *job;
	struct event *idle;
	int ready;
};

TAILQ_HEAD(conn_list, conn);

struct hop_dest {
	LIST_ENTRY(hop_dest) entry; /* in h->dests */
	struct hop *h;
	char *name; /* "smarthost" or the recipient domain */
	STAILQ_HEAD(, job) jobs;
	size_t njobs;
	struct conn_list conns;
	size_t nconns;
	struct mx_target *targets;
	size_t ntargets;
	double resolved_at;
	int resolving;
};

struct hop {
	struct event_base *base;
	const struct config *cfg; /* in force: read, never copied */
	struct hop_ops ops;
	void *arg;
	SSL_CTX *tls;
	struct resolver *resolver;
	struct mx_target *smarthost;
	size_t nsmarthost;
	LIST_HEAD(, hop_dest) dests;
	struct conn_list closing; /* said QUIT, waiting for the answer */
};

/* ---- destinations ---------------------------------------------------------- */

static const char *domain_of(const char *address)
{
	const char *at = strrchr(address, '@');

	return at ? at + 1 : "";
}

static struct hop_dest *find_dest(struct hop *h, const char *name)
{
	struct hop_dest *d;

	for (d = LIST_FIRST(&h->dests); d != NULL; d = LIST_NEXT(d, entry))
		if (strcasecmp(d->name, name) == 0)
			return d;
	d = xcalloc(1, sizeof *d);
	d->h = h;
	d->name = xstrdup(name);
	STAILQ_INIT(&d->jobs);
	TAILQ_INIT(&d->conns);
	if (h->nsmarthost > 0) {
		d->targets = xmalloc(h->nsmarthost * sizeof *d->targets);
		memcpy(d->targets, h->smarthost, h->nsmarthost * sizeof *d->targets);
		d->ntargets = h->nsmarthost;
		d->resolved_at = INFINITY;
	}
	LIST_INSERT_HEAD(&h->dests, d, entry);
	return d;
}

struct hop_dest *hop_dest_for(struct hop *h, const char *address)
{
	return find_dest(h, h->nsmarthost ? "smarthost" : domain_of(address));
}

const char *hop_dest_name(const struct hop_dest *d)
{
	return d->name;
}

void hop_enqueue(struct hop_dest *d, struct job *j)
{
	j->dest = d;
	STAILQ_INSERT_TAIL(&d->jobs, j, entry);
	d->njobs++;
}

static struct job *take_job(struct hop_dest *d)
{
	struct job *j = STAILQ_FIRST(&d->jobs);

	if (j == NULL)
		return NULL;
	STAILQ_REMOVE_HEAD(&d->jobs, entry);
	d->njobs--;
	return j;
}

/* The job goes back to its owner with its answers. */
static void job_finish(struct hop *h, struct job *j, const char *destination,
                       const struct hop_reply *final)
{
	h->ops.finished(h->arg, j, destination, final);
}

/* ---- connections ----------------------------------------------------------- */

static void free_conn(struct conn *cn)
{
	if (cn->idle != NULL)
		event_free(cn->idle);
	free(cn);
}

/* Takes a connection off its destination's list and count. */
static void conn_detach(struct conn *cn)
{
	TAILQ_REMOVE(&cn->d->conns, cn, entry);
	cn->d->nconns--;
}

/* Frees a connection of its destination (its client is gone or freed). */
static void conn_remove(struct conn *cn)
{
	conn_detach(cn);
	free_conn(cn);
}

/* Says QUIT: the connection leaves its destination (which may open another
 * in its place) and waits in h->closing for on_client_closed(). */
static void conn_close(struct conn *cn)
{
	conn_detach(cn);
	cn->d = NULL;
	evtimer_del(cn->idle);
	TAILQ_INSERT_HEAD(&cn->h->closing, cn, entry);
	smtp_client_quit(cn->c);
}

static void on_client_closed(void *arg, struct smtp_client *c)
{
	struct conn *cn = arg;

	(void)c;
	TAILQ_REMOVE(&cn->h->closing, cn, entry);
	free_conn(cn);
}

static void on_idle(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	conn_close(arg);
}

/* The transaction the client runs for j, its text from load(). */
static void job_txn(struct job *j)
{
	j->txn.mail_from = j->mail_from;
	j->txn.rcpts = j->rcpts;
	j->txn.nrcpt = j->nrcpt;
	j->txn.rcpt_replies = j->replies;
	j->txn.raw = j->raw;
	j->txn.raw_len = j->raw_len;
}

/* Gives an idle connection its next job, or lets it idle. */
static void conn_next(struct conn *cn)
{
	struct hop_dest *d = cn->d;
	struct hop *h = cn->h;
	double idle = h->cfg->relay.idle;
	struct timeval tv = {(time_t)idle, (suseconds_t)((idle - floor(idle)) * 1e6)};

	while ((cn->job = take_job(d)) != NULL) {
		struct hop_reply why = {0, 0, "cannot read the message from the store"};
		struct job *j = cn->job;
		if (h->ops.load(h->arg, j) == 0) {
			job_txn(j);
			evtimer_del(cn->idle);
			if (smtp_client_send(cn->c, &j->txn) == 0) {
				h->ops.sending(h->arg, j);
				return;
			}
			snprintf(why.text, sizeof why.text,
			         "the connection to %s cannot take a message",
			         smtp_client_peer(cn->c));
			cn->job = NULL;
			conn_close(cn);
			job_finish(h, j, d->name, &why);
			return;
		}
		cn->job = NULL;
		job_finish(h, j, d->name, &why);
	}
	evtimer_add(cn->idle, &tv);
}

static void on_client_ready(void *arg, struct smtp_client *c)
{
	struct conn *cn = arg;

	(void)c;
	cn->ready = 1;
	conn_next(cn);
}

static void on_client_done(void *arg, struct smtp_client *c, struct smtp_txn *t)
{
	struct conn *cn = arg;
	struct job *j = cn->job;

	cn->job = NULL;
	job_finish(cn->h, j, smtp_client_peer(c), &t->final);
	conn_next(cn);
}

/* Every queued job of d fails with why (the destination cannot be reached). */
static void fail_queued(struct hop_dest *d, const struct hop_reply *why, const char *destination)
{
	struct job *j;

	while ((j = take_job(d)) != NULL)
		job_finish(d->h, j, destination, why);
}

static void on_client_failed(void *arg, struct smtp_client *c, struct smtp_txn *t,
                             const struct hop_reply *why)
{
	struct conn *cn = arg;
	struct hop *h = cn->h;
	struct hop_dest *d = cn->d;
	struct job *j = cn->job;
	int was_ready = cn->ready;
	char peer[400];

	(void)t;
	snprintf(peer, sizeof peer, "%s", smtp_client_peer(c));
	conn_remove(cn);
	if (j != NULL)
		job_finish(h, j, peer, why);
	if (!was_ready) /* never got as far as a transaction: the destination is down */
		fail_queued(d, why, peer);
	else if (d->njobs > 0)
		hop_pump(d);
}

static const struct smtp_client_cb client_cb = {on_client_ready, on_client_done, on_client_failed,
                                                on_client_closed};

/* The client context, made by the first connection that may need one (the
 * CA file was checked at start, tls_check()); NULL after logging why, and
 * smtp_client then fails the connection's TLS ("cannot start TLS"). */
static SSL_CTX *client_tls(struct hop *h)
{
	const struct config_relay *rc = &h->cfg->relay;
	char err[512];

	if (h->tls == NULL && rc->tls != RELAY_TLS_NONE &&
	    (h->tls = tls_client_context_new(rc->ca, err, sizeof err)) == NULL)
		log_err("%s", err);
	return h->tls;
}

static void open_conn(struct hop_dest *d)
{
	struct hop *h = d->h;
	const struct config_relay *rc = &h->cfg->relay;
	struct conn *cn = xcalloc(1, sizeof *cn);
	struct smtp_client_opts o = {.helo = rc->helo ? rc->helo : h->cfg->hostname,
	                             .tls = rc->tls,
	                             .ssl_ctx = client_tls(h),
	                             .tls_name = rc->mode == RELAY_SMARTHOST ? rc->host
	                                                                     : d->targets[0].host,
	                             .user = rc->user,
	                             .password = rc->password,
	                             .timeout = rc->timeout};

	cn->h = h;
	cn->d = d;
	cn->idle = evtimer_new(h->base, on_idle, cn);
	TAILQ_INSERT_HEAD(&d->conns, cn, entry);
	d->nconns++;
	cn->c = smtp_client_connect(h->base, d->targets, d->ntargets, &o, &client_cb, cn);
	if (cn->c == NULL) {
		struct hop_reply why = {0, 0, "cannot open a connection"};
		conn_remove(cn);
		fail_queued(d, &why, d->name);
	}
}

static void on_resolved(void *arg, int status, const struct mx_target *targets, size_t n,
                        const char *err, int permanent)
{
	struct hop_dest *d = arg;
	struct hop_reply why = {0, permanent, ""};

	d->resolving = 0;
	if (status == 0 && n > 0) {
		free(d->targets);
		d->targets = xmalloc(n * sizeof *targets);
		memcpy(d->targets, targets, n * sizeof *targets);
		d->ntargets = n;
		d->resolved_at = clock_now();
		hop_pump(d);
		return;
	}
	snprintf(why.text, sizeof why.text, "%s%s", permanent ? "550 5.1.2 " : "",
	         err ? err : "DNS lookup failed");
	if (permanent)
		why.code = 550;
	fail_queued(d, &why, d->name);
}

void hop_pump(struct hop_dest *d)
{
	struct hop *h = d->h;
	struct conn *cn, *next;
	size_t connecting = 0;

	if (d->njobs == 0)
		return;
	if (d->ntargets == 0 || clock_now() - d->resolved_at > MX_CACHE_SECS) {
		if (d->resolving)
			return;
		if (d->nconns == 0 || d->ntargets == 0) {
			d->resolving = 1;
			resolver_mx(h->resolver, d->name, (int)h->cfg->relay.port, on_resolved, d);
			return;
		}
	}

	/* conn_next() may close cn (it then leaves d->conns): next is taken first */
	for (cn = TAILQ_FIRST(&d->conns); cn != NULL; cn = next) {
		next = TAILQ_NEXT(cn, entry);
		if (cn->ready && cn->job == NULL && d->njobs > 0)
			conn_next(cn);
		connecting += !cn->ready;
	}
	while (d->njobs > connecting && d->nconns < h->cfg->relay.connections) {
		size_t before = d->nconns;
		open_conn(d);
		if (d->nconns == before)
			break;
		connecting++;
	}
}

/* ---- setup and teardown -------------------------------------------------------- */

static int resolve_smarthost(struct hop *h, char *err, size_t errlen)
{
	const struct config_relay *rc = &h->cfg->relay;
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL, *ai;
	char port[16];
	int rv;

	snprintf(port, sizeof port, "%llu", rc->port);
	if ((rv = getaddrinfo(rc->host, port, &hints, &res)) != 0) {
		snprintf(err, errlen, "relay.host %s: %s", rc->host, gai_strerror(rv));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next)
		h->nsmarthost++;
	h->smarthost = xcalloc(h->nsmarthost, sizeof *h->smarthost);
	h->nsmarthost = 0;
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		struct mx_target *t = &h->smarthost[h->nsmarthost++];
		snprintf(t->host, sizeof t->host, "%s", rc->host);
		memcpy(&t->addr, ai->ai_addr, ai->ai_addrlen);
		t->addrlen = ai->ai_addrlen;
	}
	freeaddrinfo(res);
	return 0;
}

struct hop *hop_new(struct event_base *base, const struct config *cfg, const struct hop_ops *ops,
                    void *arg, char *err, size_t errlen)
{
	const struct config_relay *rc = &cfg->relay;
	struct hop *h = xcalloc(1, sizeof *h);

	h->base = base;
	h->cfg = cfg;
	h->ops = *ops;
	h->arg = arg;
	LIST_INIT(&h->dests);
	TAILQ_INIT(&h->closing);
	if ((rc->mode == RELAY_SMARTHOST && resolve_smarthost(h, err, errlen) < 0) ||
	    (rc->mode == RELAY_MX &&
	     (h->resolver = resolver_new(base, rc->resolver, err, errlen)) == NULL)) {
		hop_free(h);
		return NULL;
	}
	return h;
}

static void free_dests(struct hop *h)
{
	struct hop_dest *d;

	while ((d = LIST_FIRST(&h->dests)) != NULL) {
		struct conn *cn;
		struct job *j;
		LIST_REMOVE(d, entry);
		while ((cn = TAILQ_FIRST(&d->conns)) != NULL) {
			if (cn->job != NULL)
				h->ops.dropped(h->arg, cn->job);
			smtp_client_free(cn->c);
			conn_remove(cn);
		}
		while ((j = take_job(d)) != NULL)
			h->ops.dropped(h->arg, j);
		free(d->targets);
		free(d->name);
		free(d);
	}
}

void hop_forget_all(struct hop *h)
{
	free_dests(h);
	if (h->resolver != NULL) { /* pending lookups point at the freed destinations */
		char err[256];
		resolver_free(h->resolver);
		h->resolver = resolver_new(h->base, h->cfg->relay.resolver, err, sizeof err);
	}
}

void hop_free(struct hop *h)
{
	struct conn *cn;

	if (h == NULL)
		return;
	free_dests(h);
	while ((cn = TAILQ_FIRST(&h->closing)) != NULL) { /* still waiting for an answer to QUIT */
		TAILQ_REMOVE(&h->closing, cn, entry);
		smtp_client_free(cn->c);
		free_conn(cn);
	}
	resolver_free(h->resolver);
	if (h->tls != NULL)
		SSL_CTX_free(h->tls);
	free(h->smarthost);
	free(h);
}

void hop_count(const struct hop *h, size_t *conns, size_t *jobs)
{
	const struct hop_dest *d;

	*conns = 0;
	*jobs = 0;
	for (d = LIST_FIRST(&h->dests); d != NULL; d = LIST_NEXT(d, entry)) {
		*conns += d->nconns;
		*jobs += d->njobs;
	}
}
