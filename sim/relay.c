/*
 * relay.c - the queue behind the store and the delivery of its messages.
 *
 * Every unfinished message is in memory (struct qmsg), its raw text only
 * while a delivery needs it. An attempt takes the recipients that are due,
 * lets scenario rules at stage relay answer for some, delivers to the
 * capture mailbox at once in capture mode, and otherwise groups the rest by
 * destination (the smarthost, or each recipient domain) into jobs. Each
 * destination has a queue of jobs and at most relay.connections
 * connections, which are reused for the next job and closed after
 * relay.idle without one.
 *
 * Invariants: a recipient is "sending" exactly while a connection carries
 * its job (waiting in a destination's queue it is still "queued");
 * q->busy counts q's jobs; a message is freed only when busy is 0, and
 * leaves memory when every recipient is final. The store's delivery record
 * is rewritten after every change of a message, in the loop's next commit.
 */
#include "mailflow.h"
#include "relay.h"

#include <ctype.h>
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
#include "dsn.h"
#include "log.h"
#include "resolver.h"
#include "scenario_engine.h"
#include "server.h"
#include "smtp_client.h"
#include "util.h"

#define DISPATCH_BATCH 256   /* messages started per round of the loop */
#define MAX_JOBS       20000 /* jobs in flight, all destinations */
#define MX_CACHE_SECS  60.0
#define CAPTURED_REPLY "250 2.0.0 Delivered to the capture mailbox"
/* Messages up to RAW_KEEP_MAX bytes keep their text from acceptance to their
 * first attempt (no read back from the store), RAW_KEEP_TOTAL in all. */
#define RAW_KEEP_MAX   (256 * 1024)
#define RAW_KEEP_TOTAL (64 * 1024 * 1024)

enum rstate { RS_QUEUED, RS_SENDING, RS_DEFERRED, RS_DELIVERED, RS_BOUNCED, RS_SUPPRESSED };
static const char *const rstate_names[] = {"queued",    "sending", "deferred",
                                           "delivered", "bounced", "suppressed"};

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
	json_t *attempts;
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

struct conn {
	struct conn *next;
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
	struct server *srv;
	SSL_CTX *tls;
	struct resolver *resolver;
	struct mx_target *smarthost;
	size_t nsmarthost;
	struct qmsg *msgs;
	size_t nmsgs;
	struct qmsg *ready, **ready_tail;
	struct event *kick;
	struct dest *dests;
	size_t jobs_in_flight;
	size_t raw_bytes; /* the raw text messages keep in memory */
	unsigned long long delivered, deferred, bounced, expired, dsns, resumed, recovered;
};

static void settle(struct qmsg *q);
static void dest_pump(struct dest *d);

/* ---- messages in memory -------------------------------------------------- */

static void drop_raw(struct qmsg *q)
{
	if (q->raw == NULL)
		return;
	q->r->raw_bytes -= q->raw_len;
	free(q->raw);
	q->raw = NULL;
	q->raw_len = 0;
}

static void free_qmsg(struct qmsg *q)
{
	struct relay *r = q->r;

	if (q->prev != NULL)
		q->prev->next = q->next;
	else if (r->msgs == q)
		r->msgs = q->next;
	if (q->next != NULL)
		q->next->prev = q->prev;
	r->nmsgs--;
	for (size_t i = 0; i < q->nrcpt; i++) {
		free(q->rcpts[i].address);
		free(q->rcpts[i].reply);
		free(q->rcpts[i].destination);
	}
	if (q->timer != NULL)
		event_free(q->timer);
	json_decref(q->attempts);
	free(q->rcpts);
	free(q->mail_from);
	free(q->user);
	drop_raw(q);
	free(q);
}

static void on_kick(evutil_socket_t fd, short what, void *arg);
static void on_timer(evutil_socket_t fd, short what, void *arg);

static struct qmsg *new_qmsg(struct relay *r, uint64_t seq, const char *from, const char *user,
                             double received, size_t nrcpt)
{
	struct qmsg *q = calloc(1, sizeof *q);

	if (q == NULL)
		return NULL;
	q->r = r;
	q->seq = seq;
	snprintf(q->id, sizeof q->id, "%016llx", (unsigned long long)seq);
	q->mail_from = strdup(from ? from : "");
	q->user = user ? strdup(user) : NULL;
	q->received = received;
	q->accepted_v = server_now(r->srv) - (clock_wall() - received);
	q->rcpts = calloc(nrcpt ? nrcpt : 1, sizeof *q->rcpts);
	q->nrcpt = nrcpt;
	q->attempts = json_array();
	q->timer = evtimer_new(r->srv->base, on_timer, q);
	q->next = r->msgs;
	if (r->msgs != NULL)
		r->msgs->prev = q;
	r->msgs = q;
	r->nmsgs++;
	return q;
}

static void make_ready(struct qmsg *q)
{
	struct relay *r = q->r;

	if (q->on_ready)
		return;
	q->on_ready = 1;
	q->ready_next = NULL;
	*r->ready_tail = q;
	r->ready_tail = &q->ready_next;
	event_active(r->kick, EV_TIMEOUT, 0);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	make_ready(arg);
}

static const char *message_state(const struct qmsg *q)
{
	size_t count[RS_SUPPRESSED + 1] = {0};

	for (size_t i = 0; i < q->nrcpt; i++)
		count[q->rcpts[i].state]++;
	if (count[RS_SENDING])
		return "sending";
	if (count[RS_DEFERRED])
		return "deferred";
	if (count[RS_QUEUED])
		return "queued";
	if (count[RS_SUPPRESSED] == q->nrcpt)
		return "suppressed";
	if (count[RS_DELIVERED] + count[RS_SUPPRESSED] == q->nrcpt)
		return "delivered";
	if (count[RS_BOUNCED] + count[RS_SUPPRESSED] == q->nrcpt)
		return "bounced";
	return "completed";
}

static int rcpt_final(const struct rrcpt *rc)
{
	return rc->state == RS_DELIVERED || rc->state == RS_BOUNCED || rc->state == RS_SUPPRESSED;
}

static json_t *rcpt_json(const struct rrcpt *rc)
{
	char updated[40], next[40];
	json_t *o = json_pack("{s:s, s:s, s:i}", "address", rc->address, "state",
	                      rstate_names[rc->state], "attempts", (int)rc->attempts);

	if (rc->reply != NULL)
		json_object_set_new(o, "reply", json_string(rc->reply));
	if (rc->destination != NULL)
		json_object_set_new(o, "destination", json_string(rc->destination));
	if (rc->updated > 0) {
		clock_format(rc->updated, updated, sizeof updated);
		json_object_set_new(o, "updated", json_string(updated));
	}
	if (rc->state == RS_DEFERRED) {
		clock_format(rc->next_wall, next, sizeof next);
		json_object_set_new(o, "next_attempt", json_string(next));
	}
	if (rc->expired)
		json_object_set_new(o, "expired", json_true());
	return o;
}

/* Rewrites the message's delivery record (in the loop's next commit). */
static void save(struct qmsg *q)
{
	json_t *list = json_array();
	char *rcpts, *attempts;
	int final = 1;

	for (size_t i = 0; i < q->nrcpt; i++) {
		json_array_append_new(list, rcpt_json(&q->rcpts[i]));
		final &= rcpt_final(&q->rcpts[i]);
	}
	rcpts = json_dumps(list, JSON_COMPACT);
	attempts = json_dumps(q->attempts, JSON_COMPACT);
	if (rcpts != NULL && attempts != NULL) {
		struct store_delivery d = {.seq = q->seq,
		                           .state = message_state(q),
		                           .final = final,
		                           .captured = q->captured,
		                           .recipients = rcpts,
		                           .attempts = attempts};
		store_save_delivery(q->r->srv->store, &d);
	}
	free(rcpts);
	free(attempts);
	json_decref(list);
}

/* ---- events ---------------------------------------------------------------- */

static void emit(struct qmsg *q, const char *type, const struct rrcpt *rc, int code,
                 const char *reply, const char *rule, const char *dsn)
{
	char next[40];
	struct event_record rec = {.type = type,
	                           .user = q->user,
	                           .stage = "relay",
	                           .code = code,
	                           .reply = reply,
	                           .message = q->id,
	                           .rule = rule,
	                           .recipient = rc ? rc->address : NULL,
	                           .destination = rc ? rc->destination : NULL,
	                           .attempt = rc ? rc->attempts : 0,
	                           .dsn = dsn};

	if (rc != NULL && rc->state == RS_DEFERRED) {
		clock_format(rc->next_wall, next, sizeof next);
		rec.next_attempt = next;
	}
	events_emit(q->r->srv->events, &rec);
}

/* ---- outcomes -------------------------------------------------------------- */

static double retry_delay(const struct config_retry *rt, unsigned attempts)
{
	double d = rt->first * pow(rt->factor, attempts > 0 ? (double)(attempts - 1) : 0.0);

	return d < rt->cap ? d : rt->cap;
}

static void set_text(char **slot, const char *value)
{
	free(*slot);
	*slot = value ? strdup(value) : NULL;
}

static void defer_or_expire(struct qmsg *q, struct rrcpt *rc, const struct hop_reply *why,
                            const char *rule)
{
	struct server *srv = q->r->srv;
	const struct config_retry *rt = &srv->cfg->retry;
	double now_v = server_now(srv), age = now_v - q->accepted_v;
	double delay = retry_delay(rt, rc->attempts);

	/* A timer may fire a little early: within 10 ms of wall time counts. */
	if (age + 0.01 * (srv->clock_speed > 0 ? srv->clock_speed : 1.0) >= rt->max_age) {
		rc->state = RS_BOUNCED;
		rc->expired = 1;
		rc->bounced_now = 1;
		q->r->expired++;
		q->r->bounced++;
		emit(q, "bounced", rc, why->code, why->text, rule, NULL);
		return;
	}
	if (age + delay > rt->max_age)
		delay = rt->max_age - age;
	rc->state = RS_DEFERRED;
	rc->next_v = now_v + delay;
	rc->next_wall = clock_wall() + delay / (srv->clock_speed > 0 ? srv->clock_speed : 1.0);
	q->r->deferred++;
	emit(q, "deferred", rc, why->code, why->text, rule, NULL);
}

/* What the next hop (or a rule, or the capture mailbox) said for one
 * recipient. */
static void record_result(struct qmsg *q, struct rrcpt *rc, const char *destination,
                          const struct hop_reply *why, const char *rule)
{
	rc->updated = clock_wall();
	set_text(&rc->reply, why->text);
	set_text(&rc->destination, destination);
	if (why->code >= 200 && why->code < 400) {
		rc->state = RS_DELIVERED;
		q->r->delivered++;
		emit(q, "delivered", rc, why->code, why->text, rule, NULL);
	} else if (why->code >= 500 || why->permanent) {
		rc->state = RS_BOUNCED;
		rc->bounced_now = 1;
		q->r->bounced++;
		emit(q, "bounced", rc, why->code, why->text, rule, NULL);
		mailflow_suppress(q->r->srv, rc->address, why->text, "bounce");
	} else {
		defer_or_expire(q, rc, why, rule);
	}
}

static void log_attempt(struct qmsg *q, const char *destination, struct rrcpt **rcs, size_t n)
{
	char stamp[40];
	json_t *list = json_array();

	clock_format(clock_wall(), stamp, sizeof stamp);
	for (size_t i = 0; i < n; i++)
		json_array_append_new(list, json_pack("{s:s, s:s, s:s}", "address", rcs[i]->address,
		                                      "reply", rcs[i]->reply ? rcs[i]->reply : "",
		                                      "state", rstate_names[rcs[i]->state]));
	json_array_append_new(q->attempts,
	                      json_pack("{s:s, s:s, s:o}", "time", stamp, "destination",
	                                destination, "recipients", list));
}

/* ---- bounce reports ------------------------------------------------------- */

static void dsn_stored(void *arg, int ok, const struct store_message *m)
{
	(void)arg;
	if (!ok)
		log_warn("relay: the bounce report %s could not be stored", m->id);
}

static int load_raw(struct qmsg *q)
{
	if (q->raw != NULL)
		return 0;
	if (store_raw(q->r->srv->store, q->id, &q->raw, &q->raw_len) < 0)
		return -1;
	q->r->raw_bytes += q->raw_len;
	return 0;
}

/* Keeps the text the intake had in memory, when it is small and there is
 * room, so that the first attempt needs no read from the store. */
static void keep_raw(struct qmsg *q, const struct store_message *m)
{
	struct relay *r = q->r;

	if (r->srv->cfg->relay.mode == RELAY_CAPTURE || m->raw_len > RAW_KEEP_MAX ||
	    r->raw_bytes + m->raw_len > RAW_KEEP_TOTAL || (q->raw = malloc(m->raw_len + 1)) == NULL)
		return;
	memcpy(q->raw, m->raw, m->raw_len);
	q->raw[m->raw_len] = '\0';
	q->raw_len = m->raw_len;
	r->raw_bytes += m->raw_len;
}

static struct store_message *dsn_message(struct qmsg *q, const struct dsn_recipient *rs, size_t n)
{
	struct server *srv = q->r->srv;
	struct store_message *m = calloc(1, sizeof *m);
	struct dsn_report rep = {.reporting_mta = srv->cfg->hostname,
	                         .sender = q->mail_from,
	                         .envelope_id = q->id,
	                         .arrival = q->received,
	                         .now = clock_wall(),
	                         .rcpts = rs,
	                         .nrcpt = n};
	char mid[128];

	if (m == NULL)
		return NULL;
	store_assign_id(srv->store, m);
	snprintf(mid, sizeof mid, "<%s.dsn@%s>", m->id, srv->cfg->hostname);
	load_raw(q);
	rep.original = q->raw;
	rep.original_len = q->raw_len;
	m->raw = dsn_build(&rep, mid, &m->raw_len);
	m->received = rep.now;
	m->mail_from = strdup("");
	m->rcpts = calloc(1, sizeof *m->rcpts);
	m->rcpts[0].address = strdup(q->mail_from);
	m->nrcpt = 1;
	m->message_id = strdup(mid);
	m->subject = strdup("Undelivered Mail Returned to Sender");
	m->origin = "dsn";
	m->captured = 1;
	return m;
}

/* The next hop's name for a DSN: none when no server was involved. */
static const char *remote_mta(const struct rrcpt *rc)
{
	const char *d = rc->destination;

	if (d == NULL || strcmp(d, "scenario") == 0 || strcmp(d, "capture") == 0 ||
	    strchr(d, '[') == NULL)
		return NULL;
	return d;
}

/* A DSN for the recipients that bounced in this attempt, into the capture
 * mailbox. None for the null sender or for a DSN itself. */
static void send_dsn(struct qmsg *q)
{
	struct dsn_recipient rs[64];
	struct rrcpt *which[64];
	struct store_message *m;
	size_t n = 0;

	for (size_t i = 0; i < q->nrcpt; i++)
		if (q->rcpts[i].bounced_now) {
			q->rcpts[i].bounced_now = 0;
			if (n < 64) {
				which[n] = &q->rcpts[i];
				rs[n++] = (struct dsn_recipient){
				    q->rcpts[i].address, q->rcpts[i].reply,
				    remote_mta(&q->rcpts[i]), q->rcpts[i].expired};
			}
		}
	if (n == 0 || q->is_dsn || q->mail_from[0] == '\0')
		return;
	if ((m = dsn_message(q, rs, n)) == NULL || m->raw == NULL) {
		store_message_free(m);
		return;
	}
	q->r->dsns++;
	for (size_t i = 0; i < n; i++)
		emit(q, "dsn", which[i], 0, NULL, NULL, m->id);
	if (store_submit(q->r->srv->store, m, dsn_stored, NULL) < 0)
		store_message_free(m);
}

/* ---- attempts --------------------------------------------------------------- */

static int due(const struct rrcpt *rc, double now_v)
{
	if (rc->held)
		return 0;
	return rc->state == RS_QUEUED || (rc->state == RS_DEFERRED && rc->next_v <= now_v + 1e-3);
}

/* A scenario rule at stage relay: the next hop's reply without a network. */
static const struct rule *relay_rule(struct qmsg *q, struct rrcpt *rc, struct hop_reply *out,
                                     char *label, size_t labellen)
{
	struct server *srv = q->r->srv;
	const char *rcpts[1] = {rc->address};
	struct hook_ctx ctx = {.stage = STAGE_RELAY,
	                       .attempt = rc->attempts,
	                       .sender = q->mail_from,
	                       .recipients = rcpts,
	                       .nrecipients = 1,
	                       .user = q->user};
	const struct rule *rule = engine_match(srv->engine, &ctx);

	if (rule == NULL)
		return NULL;
	engine_rule_label(srv->engine, rule, label, labellen);
	memset(out, 0, sizeof *out);
	if (rule->act.downstream_drop)
		snprintf(out->text, sizeof out->text,
		         "the next hop dropped the connection (scenario %s)", label);
	else {
		out->code = atoi(rule->act.downstream);
		out->permanent = out->code >= 500;
		snprintf(out->text, sizeof out->text, "%s", rule->act.downstream);
	}
	return rule;
}

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

static void add_to_job(struct job **jobs, size_t *njobs, struct qmsg *q, struct dest *d, size_t i)
{
	struct job *j = NULL;

	for (size_t k = 0; k < *njobs; k++)
		if (jobs[k]->d == d)
			j = jobs[k];
	if (j == NULL) {
		j = calloc(1, sizeof *j);
		j->q = q;
		j->d = d;
		j->idx = calloc(q->nrcpt, sizeof *j->idx);
		j->addrs = calloc(q->nrcpt, sizeof *j->addrs);
		j->replies = calloc(q->nrcpt, sizeof *j->replies);
		jobs[(*njobs)++] = j;
	}
	j->idx[j->n] = i;
	j->addrs[j->n++] = q->rcpts[i].address;
	q->rcpts[i].held = 1;
}

static void queue_job(struct job *j)
{
	struct dest *d = j->d;
	struct rrcpt *rc;

	j->txn.mail_from = j->q->mail_from;
	j->txn.rcpts = j->addrs;
	j->txn.nrcpt = j->n;
	j->txn.rcpt_replies = j->replies;
	for (size_t k = 0; k < j->n; k++) {
		rc = &j->q->rcpts[j->idx[k]];
		set_text(&rc->destination, d->name);
	}
	j->q->busy++;
	d->r->jobs_in_flight++;
	*d->jobs_tail = j;
	d->jobs_tail = &j->next;
	d->njobs++;
	emit(j->q, "relayed", &j->q->rcpts[j->idx[0]], 0, NULL, NULL, NULL);
}

/* Results that need no network: rules at stage relay, the capture mailbox. */
/* Results that need no network: rules at stage relay, the capture mailbox.
 * Returns where the answer came from, or NULL when the next hop must give it. */
static const char *answer_locally(struct qmsg *q, struct rrcpt *rc)
{
	static const struct hop_reply captured = {250, 0, CAPTURED_REPLY};
	struct hop_reply reply;
	char label[64];

	if (relay_rule(q, rc, &reply, label, sizeof label) != NULL) {
		record_result(q, rc, "scenario", &reply, label);
		return "scenario";
	}
	if (q->r->srv->cfg->relay.mode != RELAY_CAPTURE)
		return NULL;
	q->captured = 1;
	record_result(q, rc, "capture", &captured, NULL);
	return "capture";
}

static void start_attempt(struct qmsg *q)
{
	struct relay *r = q->r;
	double now_v = server_now(r->srv);
	size_t n = q->nrcpt ? q->nrcpt : 1, njobs = 0, nrule = 0, ncapture = 0;
	struct job **jobs = calloc(n, sizeof *jobs);
	struct rrcpt **by_rule = calloc(n, sizeof *by_rule),
	             **captured = calloc(n, sizeof *captured);

	for (size_t i = 0; i < q->nrcpt && jobs && by_rule && captured; i++) {
		struct rrcpt *rc = &q->rcpts[i];
		const char *local;
		struct dest *d;
		if (!due(rc, now_v))
			continue;
		rc->attempts++;
		if ((local = answer_locally(q, rc)) != NULL) {
			if (strcmp(local, "scenario") == 0)
				by_rule[nrule++] = rc;
			else
				captured[ncapture++] = rc;
			continue;
		}
		d = find_dest(r, r->nsmarthost ? "smarthost" : domain_of(rc->address));
		if (d != NULL)
			add_to_job(jobs, &njobs, q, d, i);
	}
	if (nrule > 0)
		log_attempt(q, "scenario", by_rule, nrule);
	if (ncapture > 0)
		log_attempt(q, "capture", captured, ncapture);
	free(by_rule);
	free(captured);
	for (size_t k = 0; k < njobs; k++)
		queue_job(jobs[k]);
	free(jobs);
	if (njobs > 0) {
		for (struct dest *d = r->dests; d != NULL; d = d->next)
			if (d->njobs > 0)
				dest_pump(d);
		return;
	}
	settle(q);
}

/* After an attempt: reports, the record, and the next attempt or the end. */
static void settle(struct qmsg *q)
{
	double next = INFINITY, now_v;
	int pending = 0;

	if (q->busy > 0)
		return;
	send_dsn(q);
	drop_raw(q);
	for (size_t i = 0; i < q->nrcpt; i++) {
		const struct rrcpt *rc = &q->rcpts[i];
		if (rc->state == RS_QUEUED || rc->state == RS_DEFERRED)
			pending = 1;
		if (rc->state == RS_DEFERRED && rc->next_v < next)
			next = rc->next_v;
		if (rc->state == RS_QUEUED)
			next = 0;
	}
	save(q);
	if (!pending) {
		free_qmsg(q);
		return;
	}
	now_v = server_now(q->r->srv);
	if (next <= now_v) {
		make_ready(q);
	} else {
		double speed = q->r->srv->clock_speed > 0 ? q->r->srv->clock_speed : 1.0;
		double secs = (next - now_v) / speed;
		struct timeval tv = {(time_t)secs, (suseconds_t)((secs - floor(secs)) * 1e6)};
		evtimer_add(q->timer, &tv);
	}
}

static void dispatch(struct relay *r)
{
	size_t n = 0;

	while (r->ready != NULL && n < DISPATCH_BATCH && r->jobs_in_flight < MAX_JOBS) {
		struct qmsg *q = r->ready;
		r->ready = q->ready_next;
		if (r->ready == NULL)
			r->ready_tail = &r->ready;
		q->on_ready = 0;
		n++;
		start_attempt(q);
	}
	if (r->ready != NULL && r->jobs_in_flight < MAX_JOBS)
		event_active(r->kick, EV_TIMEOUT, 0);
}

static void on_kick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	dispatch(arg);
}

/* ---- jobs and connections ------------------------------------------------ */

static void free_job(struct job *j)
{
	free(j->idx);
	free(j->addrs);
	free(j->replies);
	free(j);
}

/* A job has its answers (or failed): record them, free it, settle. */
static void finish_job(struct job *j, const char *destination, const struct hop_reply *final)
{
	struct qmsg *q = j->q;
	struct relay *r = j->d->r;
	struct rrcpt **rcs = calloc(j->n, sizeof *rcs);

	for (size_t k = 0; k < j->n; k++) {
		const struct hop_reply *rr = &j->replies[k];
		const struct hop_reply *use = final;
		struct rrcpt *rc = &q->rcpts[j->idx[k]];
		if (rr->code != 0 && (rr->code < 200 || rr->code >= 300))
			use = rr; /* refused at RCPT: its own reply */
		rc->held = 0;
		record_result(q, rc, destination, use, NULL);
		if (rcs != NULL)
			rcs[k] = rc;
	}
	if (rcs != NULL)
		log_attempt(q, destination, rcs, j->n);
	free(rcs);
	r->jobs_in_flight--;
	q->busy--;
	free_job(j);
	settle(q);
	if (r->ready != NULL)
		event_active(r->kick, EV_TIMEOUT, 0);
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

static void conn_remove(struct conn *cn)
{
	struct dest *d = cn->d;

	for (struct conn **p = &d->conns; *p != NULL; p = &(*p)->next)
		if (*p == cn) {
			*p = cn->next;
			break;
		}
	d->nconns--;
	if (cn->idle != NULL)
		event_free(cn->idle);
	free(cn);
}

static void on_idle(evutil_socket_t fd, short what, void *arg)
{
	struct conn *cn = arg;

	(void)fd;
	(void)what;
	smtp_client_quit(cn->c);
	conn_remove(cn);
}

/* The job is on the wire: its recipients are sending, and the store says
 * so (a restart counts them as possibly delivered twice). */
static void mark_sending(struct job *j)
{
	for (size_t k = 0; k < j->n; k++)
		j->q->rcpts[j->idx[k]].state = RS_SENDING;
	save(j->q);
}

/* Gives an idle connection its next job, or lets it idle. */
static void conn_next(struct conn *cn)
{
	struct dest *d = cn->d;
	double idle = d->r->srv->cfg->relay.idle;
	struct timeval tv = {(time_t)idle, (suseconds_t)((idle - floor(idle)) * 1e6)};

	while ((cn->job = take_job(d)) != NULL) {
		struct hop_reply why = {0, 0, "cannot read the message from the store"};
		struct job *j = cn->job;
		if (load_raw(j->q) == 0) {
			j->txn.raw = j->q->raw;
			j->txn.raw_len = j->q->raw_len;
			evtimer_del(cn->idle);
			if (smtp_client_send(cn->c, &j->txn) == 0) {
				mark_sending(j);
				return;
			}
			snprintf(why.text, sizeof why.text,
			         "the connection to %s cannot take a message",
			         smtp_client_peer(cn->c));
			cn->job = NULL;
			smtp_client_quit(cn->c);
			conn_remove(cn);
			finish_job(j, d->name, &why);
			return;
		}
		cn->job = NULL;
		finish_job(j, d->name, &why);
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
	finish_job(j, smtp_client_peer(c), &t->final);
	conn_next(cn);
}

/* Every queued job of d fails with why (the destination cannot be reached). */
static void fail_queued(struct dest *d, const struct hop_reply *why, const char *destination)
{
	struct job *j;

	while ((j = take_job(d)) != NULL)
		finish_job(j, destination, why);
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
		finish_job(j, peer, why);
	if (!was_ready) /* never got as far as a transaction: the destination is down */
		fail_queued(d, why, peer);
	else if (d->njobs > 0)
		dest_pump(d);
}

static const struct smtp_client_cb client_cb = {on_client_ready, on_client_done, on_client_failed};

static void open_conn(struct dest *d)
{
	const struct config_relay *rc = &d->r->srv->cfg->relay;
	struct conn *cn = calloc(1, sizeof *cn);
	struct smtp_client_opts o = {.helo = rc->helo ? rc->helo : d->r->srv->cfg->hostname,
	                             .tls = rc->tls,
	                             .ssl_ctx = d->r->tls,
	                             .tls_name = rc->mode == RELAY_SMARTHOST ? rc->host
	                                                                     : d->targets[0].host,
	                             .user = rc->user,
	                             .password = rc->password,
	                             .timeout = rc->timeout};

	if (cn == NULL)
		return;
	cn->d = d;
	cn->idle = evtimer_new(d->r->srv->base, on_idle, cn);
	cn->next = d->conns;
	d->conns = cn;
	d->nconns++;
	cn->c = smtp_client_connect(d->r->srv->base, d->targets, d->ntargets, &o, &client_cb, cn);
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
		dest_pump(d);
		return;
	}
	snprintf(why.text, sizeof why.text, "%s%s", permanent ? "550 5.1.2 " : "",
	         err ? err : "DNS lookup failed");
	if (permanent)
		why.code = 550;
	fail_queued(d, &why, d->name);
}

static void dest_pump(struct dest *d)
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
			resolver_mx(r->resolver, d->name, (int)r->srv->cfg->relay.port, on_resolved,
			            d);
			return;
		}
	}

	for (struct conn *cn = d->conns; cn != NULL; cn = cn->next) {
		if (cn->ready && cn->job == NULL && d->njobs > 0)
			conn_next(cn);
		connecting += !cn->ready;
	}
	while (d->njobs > connecting && d->nconns < r->srv->cfg->relay.connections) {
		size_t before = d->nconns;
		open_conn(d);
		if (d->nconns == before)
			break;
		connecting++;
	}
}
/* ---- the relay as a whole ----------------------------------------------- */

static int resolve_smarthost(struct relay *r, char *err, size_t errlen)
{
	const struct config_relay *rc = &r->srv->cfg->relay;
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

static SSL_CTX *client_tls(const struct config_relay *rc, char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (ctx == NULL) {
		snprintf(err, errlen, "relay: cannot create a TLS context");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	if (rc->ca != NULL) {
		if (SSL_CTX_load_verify_locations(ctx, rc->ca, NULL) != 1) {
			snprintf(err, errlen, "relay.ca: cannot read %s", rc->ca);
			SSL_CTX_free(ctx);
			return NULL;
		}
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	}
	return ctx;
}

struct relay *relay_new(struct server *srv, char *err, size_t errlen)
{
	const struct config_relay *rc = &srv->cfg->relay;
	struct relay *r = calloc(1, sizeof *r);

	if (r == NULL)
		return NULL;
	r->srv = srv;
	r->ready_tail = &r->ready;
	r->kick = event_new(srv->base, -1, 0, on_kick, r);
	if ((rc->tls != RELAY_TLS_NONE && (r->tls = client_tls(rc, err, errlen)) == NULL) ||
	    (rc->mode == RELAY_SMARTHOST && resolve_smarthost(r, err, errlen) < 0) ||
	    (rc->mode == RELAY_MX &&
	     (r->resolver = resolver_new(srv->base, rc->resolver, err, errlen)) == NULL)) {
		relay_free(r);
		return NULL;
	}
	return r;
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
				free_job(cn->job);
			smtp_client_free(cn->c);
			conn_remove(cn);
		}
		while ((j = take_job(d)) != NULL)
			free_job(j);
		free(d->targets);
		free(d->name);
		free(d);
	}
	r->jobs_in_flight = 0;
}

void relay_forget_all(struct relay *r)
{
	free_dests(r);
	if (r->resolver != NULL) { /* pending lookups point at the freed destinations */
		char err[256];
		resolver_free(r->resolver);
		r->resolver =
		    resolver_new(r->srv->base, r->srv->cfg->relay.resolver, err, sizeof err);
	}
	while (r->msgs != NULL)
		free_qmsg(r->msgs);
	r->ready = NULL;
	r->ready_tail = &r->ready;
}

void relay_free(struct relay *r)
{
	if (r == NULL)
		return;
	free_dests(r);
	resolver_free(r->resolver);
	while (r->msgs != NULL)
		free_qmsg(r->msgs);
	if (r->kick != NULL)
		event_free(r->kick);
	if (r->tls != NULL)
		SSL_CTX_free(r->tls);
	free(r->smarthost);
	free(r);
}

int relay_capture_now(struct relay *r, struct store_message *m)
{
	json_t *rcpts = json_array(), *done = json_array();
	char stamp[40];
	size_t delivered = 0;

	if (r->srv->cfg->relay.mode != RELAY_CAPTURE || m->origin != NULL || m->nrcpt == 0 ||
	    engine_has_stage(r->srv->engine, STAGE_RELAY)) {
		json_decref(rcpts);
		json_decref(done);
		return 0;
	}
	clock_format(m->received, stamp, sizeof stamp);
	for (size_t i = 0; i < m->nrcpt; i++) {
		int sup = m->rcpts[i].suppressed;
		json_array_append_new(
		    rcpts, sup ? json_pack("{s:s, s:s, s:i}", "address", m->rcpts[i].address,
		                           "state", "suppressed", "attempts", 0)
		               : json_pack("{s:s, s:s, s:i, s:s, s:s, s:s}", "address",
		                           m->rcpts[i].address, "state", "delivered", "attempts", 1,
		                           "reply", CAPTURED_REPLY, "destination", "capture",
		                           "updated", stamp));
		if (!sup && ++delivered)
			json_array_append_new(
			    done, json_pack("{s:s, s:s, s:s}", "address", m->rcpts[i].address,
			                    "reply", CAPTURED_REPLY, "state", "delivered"));
	}
	m->captured = delivered > 0;
	m->delivery_state = strdup(delivered > 0 ? "delivered" : "suppressed");
	m->delivery_recipients = json_dumps(rcpts, JSON_COMPACT);
	json_decref(rcpts);
	rcpts = json_array();
	if (delivered > 0)
		json_array_append_new(rcpts,
		                      json_pack("{s:s, s:s, s:o}", "time", stamp, "destination",
		                                "capture", "recipients", done));
	else
		json_decref(done);
	m->delivery_attempts = json_dumps(rcpts, JSON_COMPACT);
	json_decref(rcpts);
	return 1;
}

/* Events for a message stored delivered to the capture mailbox at once. */
static void report_captured(struct relay *r, const struct store_message *m)
{
	struct qmsg q = {.r = r, .user = m->user};

	snprintf(q.id, sizeof q.id, "%.16s", m->id);
	for (size_t i = 0; i < m->nrcpt; i++) {
		struct rrcpt rc = {.address = m->rcpts[i].address,
		                   .attempts = !m->rcpts[i].suppressed,
		                   .destination = m->rcpts[i].suppressed ? NULL : "capture",
		                   .state = m->rcpts[i].suppressed ? RS_SUPPRESSED : RS_DELIVERED};
		if (m->rcpts[i].suppressed) {
			emit(&q, "suppressed", &rc, 0, "on the suppression list", NULL, NULL);
		} else {
			r->delivered++;
			emit(&q, "delivered", &rc, 250, CAPTURED_REPLY, NULL, NULL);
		}
	}
}

void relay_accept(struct relay *r, const struct store_message *m)
{
	struct qmsg *q;
	size_t queued = 0;

	if (m->delivery_state != NULL && m->origin == NULL) {
		report_captured(r, m);
		return;
	}
	if (m->captured || m->nrcpt == 0)
		return;
	q = new_qmsg(r, m->seq, m->mail_from, m->user, m->received, m->nrcpt);
	if (q == NULL)
		return;
	q->is_dsn = m->origin != NULL;
	for (size_t i = 0; i < m->nrcpt; i++) {
		q->rcpts[i].address = strdup(m->rcpts[i].address);
		q->rcpts[i].state = m->rcpts[i].suppressed ? RS_SUPPRESSED : RS_QUEUED;
		if (m->rcpts[i].suppressed)
			emit(q, "suppressed", &q->rcpts[i], 0, "on the suppression list", NULL,
			     NULL);
		else
			queued++;
	}
	if (queued == 0) {
		free_qmsg(q);
		return;
	}
	keep_raw(q, m);
	make_ready(q);
}

static enum rstate state_named(const char *name)
{
	for (size_t i = 0; name != NULL && i <= RS_SUPPRESSED; i++)
		if (strcmp(name, rstate_names[i]) == 0)
			return (enum rstate)i;
	return RS_QUEUED;
}

static void recover_one(void *arg, const struct store_pending *p)
{
	struct relay *r = arg;
	size_t n = json_array_size(p->recipients);
	struct qmsg *q = new_qmsg(r, p->seq, p->mail_from, p->user, p->received, n);

	if (q == NULL)
		return;
	q->is_dsn = p->origin != NULL;
	json_decref(q->attempts);
	q->attempts = json_incref(p->attempts);
	for (size_t i = 0; i < n; i++) {
		json_t *o = json_array_get(p->recipients, i);
		struct rrcpt *rc = &q->rcpts[i];
		rc->address = strdup(json_string_value(json_object_get(o, "address"))
		                         ? json_string_value(json_object_get(o, "address"))
		                         : "");
		rc->state = state_named(json_string_value(json_object_get(o, "state")));
		rc->attempts = (unsigned)json_integer_value(json_object_get(o, "attempts"));
		set_text(&rc->reply, json_string_value(json_object_get(o, "reply")));
		set_text(&rc->destination, json_string_value(json_object_get(o, "destination")));
		if (rc->state == RS_SENDING) {
			r->resumed++;
			rc->state = RS_QUEUED;
		}
		if (rc->state == RS_DEFERRED)
			rc->next_v = 0; /* due now */
	}
	r->recovered++;
	make_ready(q);
}

long relay_recover(struct relay *r)
{
	long n = store_load_pending(r->srv->store, recover_one, r);

	if (n > 0)
		log_info(
		    "relay: %ld unfinished messages taken up again (%llu recipients were being "
		    "sent: they are sent again)",
		    n, r->resumed);
	return n;
}

json_t *relay_stats(const struct relay *r)
{
	static const char *const modes[] = {"capture", "smarthost", "mx"};
	unsigned long long count[RS_SUPPRESSED + 1] = {0};
	size_t conns = 0, jobs = 0;
	json_t *o;

	for (const struct qmsg *q = r->msgs; q != NULL; q = q->next)
		for (size_t i = 0; i < q->nrcpt; i++)
			count[q->rcpts[i].state]++;
	for (const struct dest *d = r->dests; d != NULL; d = d->next) {
		conns += d->nconns;
		jobs += d->njobs;
	}
	o = json_pack("{s:s, s:I, s:{s:I, s:I, s:I}, s:I, s:I, s:{s:I, s:I, s:I, s:I, s:I}, "
	              "s:{s:I, s:I}}",
	              "mode", modes[r->srv->cfg->relay.mode], "messages", (json_int_t)r->nmsgs,
	              "recipients", "queued", (json_int_t)count[RS_QUEUED], "sending",
	              (json_int_t)count[RS_SENDING], "deferred", (json_int_t)count[RS_DEFERRED],
	              "connections", (json_int_t)conns, "jobs_waiting", (json_int_t)jobs, "totals",
	              "delivered", (json_int_t)r->delivered, "deferred", (json_int_t)r->deferred,
	              "bounced", (json_int_t)r->bounced, "expired", (json_int_t)r->expired, "dsn",
	              (json_int_t)r->dsns, "restart", "messages_resumed", (json_int_t)r->recovered,
	              "recipients_resent", (json_int_t)r->resumed);
	return o;
}
