/*
 * relay_priv.h - what the relay's two files share: the messages, their
 * recipients, the jobs that carry them to a destination, and the relay
 * itself, with the few functions one file calls in the other.
 *
 *   relay.c      the queue: messages in memory, attempts, outcomes, retries,
 *                expiry, bounce reports, restart recovery, stats, capture
 *   relay_hop.c  the way to the next hop: destinations and their job queues,
 *                connections (reuse, idle timers), MX lookups, the smarthost
 *
 * A job is made by relay.c (one per destination in an attempt), handed to
 * relay_hop.c, which queues it at its destination and carries it on a
 * connection, and handed back with relay_job_finish() when the next hop has
 * answered or cannot be reached; relay.c records the answers and frees it.
 */
#ifndef EDSIM_RELAY_PRIV_H
#define EDSIM_RELAY_PRIV_H

#include <event2/event.h>
#include <jansson.h>
#include <openssl/ssl.h>
#include <stddef.h>
#include <stdint.h>

#include "jsonw.h"
#include "relay.h"
#include "resolver.h"
#include "smtp_client.h"

enum rstate { RS_QUEUED, RS_SENDING, RS_DEFERRED, RS_DELIVERED, RS_BOUNCED, RS_SUPPRESSED };

struct rrcpt {
	char *address;
	enum rstate state;
	unsigned attempts;
	char *reply;
	char *destination;
	double updated;   /* Unix time of the last change */
	double next_v;    /* deferred: the next attempt on the virtual clock */
	double next_wall; /* the same as Unix time, for people */
	int bounced_now;  /* bounced in the attempt being finished: goes into a DSN */
	int expired;
	int held; /* a job carries it (queued at a destination, or sending) */
};

struct qmsg {
	struct relay *r;
	struct qmsg *prev, *next; /* every message in memory */
	struct qmsg *ready_next;
	int on_ready;
	uint64_t seq;
	char id[20];
	char *mail_from, *user;
	int is_dsn, captured;
	double received, accepted_v;
	struct rrcpt *rcpts;
	size_t nrcpt;
	struct jsonw attempts; /* the record's attempts: objects separated by commas */
	unsigned busy;
	struct event *timer;
	char *raw;
	size_t raw_len;
};

struct dest;
struct conn;

struct job {
	struct job *next; /* in the destination's queue */
	struct qmsg *q;
	struct dest *d;
	size_t *idx; /* the message's recipients this job carries */
	const char **addrs;
	size_t n;
	struct hop_reply *replies;
	struct smtp_txn txn;
};

/* A connection belongs to its destination (d, in d->conns) until it is
 * closed with QUIT; then it leaves the destination (d is NULL) and waits in
 * r->closing until its client is gone (or the relay is freed). */
struct conn {
	struct conn *next;
	struct relay *r;
	struct dest *d;
	struct smtp_client *c;
	struct job *job;
	struct event *idle;
	int ready;
};

struct dest {
	struct dest *next;
	struct relay *r;
	char *name; /* "smarthost" or the recipient domain */
	struct job *jobs, **jobs_tail;
	size_t njobs;
	struct conn *conns;
	size_t nconns;
	struct mx_target *targets;
	size_t ntargets;
	double resolved_at;
	int resolving;
};

struct relay {
	struct relay_env env;
	/* the way to the next hop (relay_hop.c) */
	SSL_CTX *tls;
	struct resolver *resolver;
	struct mx_target *smarthost;
	size_t nsmarthost;
	struct dest *dests;
	struct conn *closing; /* said QUIT, waiting for the answer */
	/* the queue (relay.c) */
	struct qmsg *msgs;
	size_t nmsgs;
	struct qmsg *ready, **ready_tail;
	struct event *kick;
	size_t jobs_in_flight;
	size_t raw_bytes; /* the raw text messages keep in memory */
	unsigned long long delivered, deferred, bounced, expired, dsns, resumed, recovered;
};

/* relay.c */
/* Reads the message's text from the store unless it is in memory; -1 when
 * it cannot. */
int relay_load_raw(struct qmsg *q);
/* The job is on the wire: its recipients are sending, and the store says so. */
void relay_job_sending(struct job *j);
/* A job has its answers (or failed with final): records them, frees the job
 * and settles its message. */
void relay_job_finish(struct job *j, const char *destination, const struct hop_reply *final);
/* Frees a job without recording anything (the relay forgets it). */
void relay_job_free(struct job *j);

#endif
