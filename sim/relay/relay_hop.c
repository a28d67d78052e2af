/*
 * relay_hop.c - the way to the next hop: destinations, their queues of jobs,
 * their connections, the smtp_client callbacks, MX lookups and the
 * smarthost's addresses.
 *
 * A destination is the smarthost (its addresses resolved once, at start) or
 * a recipient domain (its MX records looked up with the resolver, cached
 * for MX_CACHE_SECS). It has a queue of jobs and at most relay.connections
 * connections; a connection that finishes a job takes the next one, and is
 * closed after relay.idle without one. The TLS client context (r->tls) is
 * made by the first connection, not at start (tls.h says why): a relay in
 * capture mode never makes one.
 *
 * Invariants: d->njobs counts the jobs waiting in d's queue, d->nconns its
 * connections; a connection carries at most one job (cn->job) and only once
 * it is ready. Every connection is on exactly one list until it is freed:
 * its destination's (d->conns), or r->closing once it has said QUIT; the
 * client frees itself only after failed() or closed(), which take the
 * connection off its list, and hop_free() frees what is left on both.
 * Every job that leaves a queue goes back to the queue (relay.c) through
 * relay_job_finish(), answered or failed, except when the relay forgets
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

#include "clock.h"
#include "config.h"
#include "log.h"
#include "relay_priv.h"
#include "resolver.h"
#include "smtp_client.h"
#include "tls.h"

#define MX_CACHE_SECS 60.0

/* ---- destinations ---------------------------------------------------------- */

static const char *domain_of(const char *address)
{
	const char *at = strrchr(address, '@');

	return at ? at + 1 : "";
}

static struct dest *find_dest(struct relay *r, const char *name)
{
	struct dest *d;

	for (d = r->dests; d != NULL; d = d->next)
		if (strcasecmp(d->name, name) == 0)
			return d;
	if ((d = calloc(1, sizeof *d)) == NULL)
		return NULL;
	d->r = r;
	d->name = strdup(name);
	d->jobs_tail = &d->jobs;
	if (r->nsmarthost > 0) {
		d->targets = malloc(r->nsmarthost * sizeof *d->targets);
		memcpy(d->targets, r->smarthost, r->nsmarthost * sizeof *d->targets);
		d->ntargets = r->nsmarthost;
		d->resolved_at = INFINITY;
	}
	d->next = r->dests;
	r->dests = d;
	return d;
}

struct dest *hop_dest_for(struct relay *r, const char *address)
{
	return find_dest(r, r->nsmarthost ? "smarthost" : domain_of(address));
}

void hop_enqueue(struct job *j)
{
	struct dest *d = j->d;

	*d->jobs_tail = j;
	d->jobs_tail = &j->next;
	d->njobs++;
}

static struct job *take_job(struct dest *d)
{
	struct job *j = d->jobs;

	if (j == NULL)
		return NULL;
	d->jobs = j->next;
	if (d->jobs == NULL)
		d->jobs_tail = &d->jobs;
	d->njobs--;
	j->next = NULL;
	return j;
}

/* ---- connections ----------------------------------------------------------- */

static void unlink_conn(struct conn **list, struct conn *cn)
{
	for (struct conn **p = list; *p != NULL; p = &(*p)->next)
		if (*p == cn) {
			*p = cn->next;
			break;
		}
	cn->next = NULL;
}

static void free_conn(struct conn *cn)
{
	if (cn->idle != NULL)
		event_free(cn->idle);
	free(cn);
}

/* Takes a connection off its destination's list and count. */
static void conn_detach(struct conn *cn)
{
	unlink_conn(&cn->d->conns, cn);
	cn->d->nconns--;
}

/* Frees a connection of its destination (its client is gone or freed). */
static void conn_remove(struct conn *cn)
{
	conn_detach(cn);
	free_conn(cn);
}

/* Says QUIT: the connection leaves its destination (which may open another
 * in its place) and waits in r->closing for on_client_closed(). */
static void conn_close(struct conn *cn)
{
	struct relay *r = cn->r;

	conn_detach(cn);
	cn->d = NULL;
	evtimer_del(cn->idle);
	cn->next = r->closing;
	r->closing = cn;
	smtp_client_quit(cn->c);
}

static void on_client_closed(void *arg, struct smtp_client *c)
{
	struct conn *cn = arg;

	(void)c;
	unlink_conn(&cn->r->closing, cn);
	free_conn(cn);
}

static void on_idle(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	conn_close(arg);
}

/* Gives an idle connection its next job, or lets it idle. */
static void conn_next(struct conn *cn)
{
	struct dest *d = cn->d;
	double idle = d->r->env.cfg->relay.idle;
	struct timeval tv = {(time_t)idle, (suseconds_t)((idle - floor(idle)) * 1e6)};

	while ((cn->job = take_job(d)) != NULL) {
		struct hop_reply why = {0, 0, "cannot read the message from the store"};
		struct job *j = cn->job;
		if (relay_load_raw(j->q) == 0) {
			j->txn.raw = j->q->raw;
			j->txn.raw_len = j->q->raw_len;
			evtimer_del(cn->idle);
			if (smtp_client_send(cn->c, &j->txn) == 0) {
				relay_job_sending(j);
				return;
			}
			snprintf(why.text, sizeof why.text,
			         "the connection to %s cannot take a message",
			         smtp_client_peer(cn->c));
			cn->job = NULL;
			conn_close(cn);
			relay_job_finish(j, d->name, &why);
			return;
		}
		cn->job = NULL;
		relay_job_finish(j, d->name, &why);
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
	relay_job_finish(j, smtp_client_peer(c), &t->final);
	conn_next(cn);
}

/* Every queued job of d fails with why (the destination cannot be reached). */
static void fail_queued(struct dest *d, const struct hop_reply *why, const char *destination)
{
	struct job *j;

	while ((j = take_job(d)) != NULL)
		relay_job_finish(j, destination, why);
}

static void on_client_failed(void *arg, struct smtp_client *c, struct smtp_txn *t,
                             const struct hop_reply *why)
{
	struct conn *cn = arg;
	struct dest *d = cn->d;
	struct job *j = cn->job;
	int was_ready = cn->ready;
	char peer[400];

	(void)t;
	snprintf(peer, sizeof peer, "%s", smtp_client_peer(c));
	conn_remove(cn);
	if (j != NULL)
		relay_job_finish(j, peer, why);
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
static SSL_CTX *client_tls(struct relay *r)
{
	const struct config_relay *rc = &r->env.cfg->relay;
	char err[512];

	if (r->tls == NULL && rc->tls != RELAY_TLS_NONE &&
	    (r->tls = tls_client_context_new(rc->ca, err, sizeof err)) == NULL)
		log_err("%s", err);
	return r->tls;
}

static void open_conn(struct dest *d)
{
	const struct config_relay *rc = &d->r->env.cfg->relay;
	struct conn *cn = calloc(1, sizeof *cn);
	struct smtp_client_opts o = {.helo = rc->helo ? rc->helo : d->r->env.cfg->hostname,
	                             .tls = rc->tls,
	                             .ssl_ctx = client_tls(d->r),
	                             .tls_name = rc->mode == RELAY_SMARTHOST ? rc->host
	                                                                     : d->targets[0].host,
	                             .user = rc->user,
	                             .password = rc->password,
	                             .timeout = rc->timeout};

	if (cn == NULL)
		return;
	cn->r = d->r;
	cn->d = d;
	cn->idle = evtimer_new(d->r->env.base, on_idle, cn);
	cn->next = d->conns;
	d->conns = cn;
	d->nconns++;
	cn->c = smtp_client_connect(d->r->env.base, d->targets, d->ntargets, &o, &client_cb, cn);
	if (cn->c == NULL) {
		struct hop_reply why = {0, 0, "cannot open a connection"};
		conn_remove(cn);
		fail_queued(d, &why, d->name);
	}
}

static void on_resolved(void *arg, int status, const struct mx_target *targets, size_t n,
                        const char *err, int permanent)
{
	struct dest *d = arg;
	struct hop_reply why = {0, permanent, ""};

	d->resolving = 0;
	if (status == 0 && n > 0) {
		free(d->targets);
		d->targets = malloc(n * sizeof *targets);
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

void hop_pump(struct dest *d)
{
	struct relay *r = d->r;
	size_t connecting = 0;

	if (d->njobs == 0)
		return;
	if (d->ntargets == 0 || clock_now() - d->resolved_at > MX_CACHE_SECS) {
		if (d->resolving)
			return;
		if (d->nconns == 0 || d->ntargets == 0) {
			d->resolving = 1;
			resolver_mx(r->resolver, d->name, (int)r->env.cfg->relay.port, on_resolved,
			            d);
			return;
		}
	}

	for (struct conn *cn = d->conns; cn != NULL; cn = cn->next) {
		if (cn->ready && cn->job == NULL && d->njobs > 0)
			conn_next(cn);
		connecting += !cn->ready;
	}
	while (d->njobs > connecting && d->nconns < r->env.cfg->relay.connections) {
		size_t before = d->nconns;
		open_conn(d);
		if (d->nconns == before)
			break;
		connecting++;
	}
}

/* ---- setup and teardown -------------------------------------------------------- */

static int resolve_smarthost(struct relay *r, char *err, size_t errlen)
{
	const struct config_relay *rc = &r->env.cfg->relay;
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL, *ai;
	char port[16];
	int rv;

	snprintf(port, sizeof port, "%llu", rc->port);
	if ((rv = getaddrinfo(rc->host, port, &hints, &res)) != 0) {
		snprintf(err, errlen, "relay.host %s: %s", rc->host, gai_strerror(rv));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next)
		r->nsmarthost++;
	r->smarthost = calloc(r->nsmarthost, sizeof *r->smarthost);
	r->nsmarthost = 0;
	for (ai = res; ai != NULL && r->smarthost != NULL; ai = ai->ai_next) {
		struct mx_target *t = &r->smarthost[r->nsmarthost++];
		snprintf(t->host, sizeof t->host, "%s", rc->host);
		memcpy(&t->addr, ai->ai_addr, ai->ai_addrlen);
		t->addrlen = ai->ai_addrlen;
	}
	freeaddrinfo(res);
	return 0;
}

int hop_setup(struct relay *r, char *err, size_t errlen)
{
	const struct config_relay *rc = &r->env.cfg->relay;

	if ((rc->mode == RELAY_SMARTHOST && resolve_smarthost(r, err, errlen) < 0) ||
	    (rc->mode == RELAY_MX &&
	     (r->resolver = resolver_new(r->env.base, rc->resolver, err, errlen)) == NULL))
		return -1;
	return 0;
}

static void free_dests(struct relay *r)
{
	while (r->dests != NULL) {
		struct dest *d = r->dests;
		struct job *j;
		r->dests = d->next;
		while (d->conns != NULL) {
			struct conn *cn = d->conns;
			if (cn->job != NULL)
				relay_job_free(cn->job);
			smtp_client_free(cn->c);
			conn_remove(cn);
		}
		while ((j = take_job(d)) != NULL)
			relay_job_free(j);
		free(d->targets);
		free(d->name);
		free(d);
	}
}

void hop_forget_all(struct relay *r)
{
	free_dests(r);
	if (r->resolver != NULL) { /* pending lookups point at the freed destinations */
		char err[256];
		resolver_free(r->resolver);
		r->resolver =
		    resolver_new(r->env.base, r->env.cfg->relay.resolver, err, sizeof err);
	}
}

void hop_free(struct relay *r)
{
	free_dests(r);
	while (r->closing != NULL) { /* still waiting for an answer to QUIT */
		struct conn *cn = r->closing;
		r->closing = cn->next;
		smtp_client_free(cn->c);
		free_conn(cn);
	}
	resolver_free(r->resolver);
	if (r->tls != NULL)
		SSL_CTX_free(r->tls);
	free(r->smarthost);
}

void hop_count(const struct relay *r, size_t *conns, size_t *jobs)
{
	*conns = 0;
	*jobs = 0;
	for (const struct dest *d = r->dests; d != NULL; d = d->next) {
		*conns += d->nconns;
		*jobs += d->njobs;
	}
}
