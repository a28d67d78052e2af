/*
 * relay.c - the queue behind the store: messages in memory, attempts, their
 * outcomes (delivered, deferred on the retry schedule, bounced, expired),
 * bounce reports, recovery after a restart, the counts and the capture
 * mailbox. The way to the next hop (destinations, connections, MX lookups)
 * is the hop layer's (relay_hop.h): the queue owns a struct hop, hands it
 * jobs and hears back through its hop_ops; the hop layer never calls up.
 *
 * Every unfinished message is in memory (struct qmsg, on r->msgs), its raw
 * text only while a delivery needs it. An attempt takes the recipients that
 * are due, lets scenario rules at stage relay answer for some, delivers to
 * the capture mailbox at once in capture mode, and otherwise groups the rest
 * by destination (the smarthost, or each recipient domain) into jobs (struct
 * qjob: the hop layer's struct job, and which of the message's recipients it
 * carries), which the hop layer queues at their destination and carries;
 * each comes back through on_job_finished() (or on_job_dropped() when the
 * hop layer forgets everything).
 *
 * Invariants: a recipient is "sending" exactly while a connection carries
 * its job (waiting in a destination's queue it is still "queued"), and
 * "held" while any job carries it; q->busy counts q's jobs and
 * r->jobs_in_flight every message's; a message is freed only when busy is
 * 0, and leaves memory when every recipient is final; q->on_ready says it is
 * on r->ready, waiting for dispatch(). The store's delivery record is
 * rewritten after every change of a message, in the loop's next commit.
 */
#include "relay.h"

#include <event2/event.h>
#include <event2/util.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "clock.h"
#include "config.h"
#include "events.h"
#include "store.h"
#include "dsn.h"
#include "jsonw.h"
#include "log.h"
#include "relay_hop.h"
#include "retry.h"
#include "scenario_engine.h"
#include "util.h"
#include "xmalloc.h"

#define DISPATCH_BATCH 256   /* messages started per round of the loop */
#define MAX_JOBS       20000 /* jobs in flight, all destinations */
#define CAPTURED_REPLY "250 2.0.0 Delivered to the capture mailbox"
/* Messages up to RAW_KEEP_MAX bytes keep their text from acceptance to their
 * first attempt (no read back from the store), RAW_KEEP_TOTAL in all. */
#define RAW_KEEP_MAX   (256 * 1024)
#define RAW_KEEP_TOTAL (64 * 1024 * 1024)

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
	TAILQ_ENTRY(qmsg) entry;        /* in r->msgs: every message in memory */
	STAILQ_ENTRY(qmsg) ready_entry; /* in r->ready while on_ready */
	int on_ready;
	uint64_t seq;
	char id[STORE_ID_MAX];
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

/* A job as the queue knows it: the hop layer's part (job.owner points back
 * here) and which of the message's recipients it carries. */
struct qjob {
	struct job job;
	struct qmsg *q;
	size_t *idx; /* job.nrcpt indexes into q->rcpts */
	const char **addrs;
	struct hop_dest *dest;
};

struct relay {
	struct relay_env env;
	struct hop *hop; /* the way to the next hop */
	TAILQ_HEAD(, qmsg) msgs;
	size_t nmsgs;
	STAILQ_HEAD(, qmsg) ready; /* due for an attempt, in order */
	struct event *kick;
	size_t jobs_in_flight;
	size_t raw_bytes; /* the raw text messages keep in memory */
	unsigned long long delivered, deferred, bounced, expired, dsns, resumed, recovered;
};

static const char *const rstate_names[] = {"queued",    "sending", "deferred",
                                           "delivered", "bounced", "suppressed"};

static void settle(struct qmsg *q);

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

	TAILQ_REMOVE(&r->msgs, q, entry);
	r->nmsgs--;
	for (size_t i = 0; i < q->nrcpt; i++) {
		free(q->rcpts[i].address);
		free(q->rcpts[i].reply);
		free(q->rcpts[i].destination);
	}
	if (q->timer != NULL)
		event_free(q->timer);
	jsonw_free(&q->attempts);
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
	struct qmsg *q = xcalloc(1, sizeof *q);

	q->r = r;
	q->seq = seq;
	store_format_id(r->env.store, seq, q->id);
	q->mail_from = xstrdup(from ? from : "");
	q->user = xstrdup(user);
	q->received = received;
	q->accepted_v = vclock_now(r->env.clock) - (clock_wall() - received);
	q->rcpts = xcalloc(nrcpt, sizeof *q->rcpts);
	q->nrcpt = nrcpt;
	q->timer = evtimer_new(r->env.base, on_timer, q);
	TAILQ_INSERT_HEAD(&r->msgs, q, entry);
	r->nmsgs++;
	return q;
}

static void make_ready(struct qmsg *q)
{
	struct relay *r = q->r;

	if (q->on_ready)
		return;
	q->on_ready = 1;
	STAILQ_INSERT_TAIL(&r->ready, q, ready_entry);
	event_active(r->kick, EV_TIMEOUT, 0);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	make_ready(arg);
}

static const char *message_state(const struct rrcpt *rcpts, size_t n)
{
	size_t count[RS_SUPPRESSED + 1] = {0};

	for (size_t i = 0; i < n; i++)
		count[rcpts[i].state]++;
	if (count[RS_SENDING])
		return "sending";
	if (count[RS_DEFERRED])
		return "deferred";
	if (count[RS_QUEUED])
		return "queued";
	if (count[RS_SUPPRESSED] == n)
		return "suppressed";
	if (count[RS_DELIVERED] + count[RS_SUPPRESSED] == n)
		return "delivered";
	if (count[RS_BOUNCED] + count[RS_SUPPRESSED] == n)
		return "bounced";
	return "completed";
}

static int rcpt_final(const struct rrcpt *rc)
{
	return rc->state == RS_DELIVERED || rc->state == RS_BOUNCED || rc->state == RS_SUPPRESSED;
}

static void rcpt_write(struct jsonw *w, const struct rrcpt *rc)
{
	jsonw_lit(w, "{\"address\":");
	jsonw_str(w, rc->address);
	jsonw_lit(w, ",\"state\":\"");
	jsonw_raw(w, rstate_names[rc->state], strlen(rstate_names[rc->state]));
	jsonw_lit(w, "\",\"attempts\":");
	jsonw_uint(w, rc->attempts);
	if (rc->reply != NULL) {
		jsonw_lit(w, ",\"reply\":");
		jsonw_str(w, rc->reply);
	}
	if (rc->destination != NULL) {
		jsonw_lit(w, ",\"destination\":");
		jsonw_str(w, rc->destination);
	}
	if (rc->updated > 0) {
		jsonw_lit(w, ",\"updated\":");
		jsonw_time(w, rc->updated);
	}
	if (rc->state == RS_DEFERRED) {
		jsonw_lit(w, ",\"next_attempt\":");
		jsonw_time(w, rc->next_wall);
	}
	if (rc->expired)
		jsonw_lit(w, ",\"expired\":true");
	jsonw_lit(w, "}");
}

/* The recipients as the delivery record keeps them (JSON text); *final
 * says whether every one is final. */
static char *recipients_text(const struct rrcpt *rcpts, size_t n, int *final)
{
	struct jsonw w = {0};

	*final = 1;
	jsonw_lit(&w, "[");
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			jsonw_lit(&w, ",");
		rcpt_write(&w, &rcpts[i]);
		*final &= rcpt_final(&rcpts[i]);
	}
	jsonw_lit(&w, "]");
	return jsonw_take(&w);
}

/* The attempts so far as the record's JSON array. */
static char *attempts_text(const struct jsonw *attempts)
{
	struct jsonw w = {0};

	jsonw_lit(&w, "[");
	jsonw_raw(&w, attempts->buf ? attempts->buf : "", attempts->len);
	jsonw_lit(&w, "]");
	return jsonw_take(&w);
}

/* Rewrites the message's delivery record (in the loop's next commit). */
static void save(struct qmsg *q)
{
	int final;
	char *rcpts = recipients_text(q->rcpts, q->nrcpt, &final);
	char *attempts = attempts_text(&q->attempts);

	if (rcpts != NULL && attempts != NULL) {
		struct store_delivery d = {.seq = q->seq,
		                           .state = message_state(q->rcpts, q->nrcpt),
		                           .final = final,
		                           .captured = q->captured,
		                           .recipients = rcpts,
		                           .attempts = attempts};
		store_save_delivery(q->r->env.store, &d);
	}
	free(rcpts);
	free(attempts);
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
	events_emit(q->r->env.events, &rec);
}

/* ---- outcomes -------------------------------------------------------------- */

static void set_text(char **slot, const char *value)
{
	free(*slot);
	*slot = xstrdup(value);
}

static void defer_or_expire(struct qmsg *q, struct rrcpt *rc, const struct hop_reply *why,
                            const char *rule)
{
	const struct relay_env *env = &q->r->env;
	const struct config_retry *rt = &env->cfg->retry;
	double now_v = vclock_now(env->clock), age = now_v - q->accepted_v;
	double delay = retry_delay(rt, rc->attempts);

	/* A timer may fire a little early: within 10 ms of wall time counts. */
	if (retry_expired(rt, age, 0.01 * env->clock->speed)) {
		rc->state = RS_BOUNCED;
		rc->expired = 1;
		rc->bounced_now = 1;
		q->r->expired++;
		q->r->bounced++;
		emit(q, "bounced", rc, why->code, why->text, rule, NULL);
		return;
	}
	delay = retry_clamp(rt, age, delay);
	rc->state = RS_DEFERRED;
	rc->next_v = now_v + delay;
	rc->next_wall = clock_wall() + vclock_real(env->clock, delay);
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
		q->r->env.bounced(q->r->env.arg, rc->address, why->text);
	} else {
		defer_or_expire(q, rc, why, rule);
	}
}

/* One attempt's record (when, where, each recipient's reply and state),
 * appended to the attempts written so far (objects separated by commas). */
static void attempt_write(struct jsonw *w, double when, const char *destination,
                          struct rrcpt *const *rcs, size_t n)
{
	if (w->len > 0)
		jsonw_lit(w, ",");
	jsonw_lit(w, "{\"time\":");
	jsonw_time(w, when);
	jsonw_lit(w, ",\"destination\":");
	jsonw_str(w, destination);
	jsonw_lit(w, ",\"recipients\":[");
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			jsonw_lit(w, ",");
		jsonw_lit(w, "{\"address\":");
		jsonw_str(w, rcs[i]->address);
		jsonw_lit(w, ",\"reply\":");
		jsonw_str(w, rcs[i]->reply ? rcs[i]->reply : "");
		jsonw_lit(w, ",\"state\":\"");
		jsonw_raw(w, rstate_names[rcs[i]->state], strlen(rstate_names[rcs[i]->state]));
		jsonw_lit(w, "\"}");
	}
	jsonw_lit(w, "]}");
}

static void log_attempt(struct qmsg *q, const char *destination, struct rrcpt **rcs, size_t n)
{
	attempt_write(&q->attempts, clock_wall(), destination, rcs, n);
}

/* ---- bounce reports ------------------------------------------------------- */

static void dsn_stored(void *arg, int ok, const struct store_message *m)
{
	(void)arg;
	if (!ok)
		log_warn("relay: the bounce report %s could not be stored", m->id);
}

/* Reads the message's text from the store unless it is in memory; -1 when
 * it cannot. */
static int load_raw(struct qmsg *q)
{
	if (q->raw != NULL)
		return 0;
	if (store_raw(q->r->env.store, q->id, &q->raw, &q->raw_len) < 0)
		return -1;
	q->r->raw_bytes += q->raw_len;
	return 0;
}

/* Keeps the text the intake had in memory, when it is small and there is
 * room, so that the first attempt needs no read from the store. */
static void keep_raw(struct qmsg *q, const struct store_message *m)
{
	struct relay *r = q->r;

	if (r->env.cfg->relay.mode == RELAY_CAPTURE || m->raw_len > RAW_KEEP_MAX ||
	    r->raw_bytes + m->raw_len > RAW_KEEP_TOTAL || (q->raw = malloc(m->raw_len + 1)) == NULL)
		return;
	memcpy(q->raw, m->raw, m->raw_len);
	q->raw[m->raw_len] = '\0';
	q->raw_len = m->raw_len;
	r->raw_bytes += m->raw_len;
}

static struct store_message *dsn_message(struct qmsg *q, const struct dsn_recipient *rs, size_t n)
{
	const struct relay_env *env = &q->r->env;
	struct store_message *m = xcalloc(1, sizeof *m);
	struct dsn_report rep = {.reporting_mta = env->cfg->hostname,
	                         .sender = q->mail_from,
	                         .envelope_id = q->id,
	                         .arrival = q->received,
	                         .now = clock_wall(),
	                         .rcpts = rs,
	                         .nrcpt = n};
	char mid[128];

	store_assign_id(env->store, m);
	snprintf(mid, sizeof mid, "<%s.dsn@%s>", m->id, env->cfg->hostname);
	load_raw(q);
	rep.original = q->raw;
	rep.original_len = q->raw_len;
	m->raw = dsn_build(&rep, mid, &m->raw_len);
	m->received = rep.now;
	m->mail_from = xstrdup("");
	m->rcpts = xcalloc(1, sizeof *m->rcpts);
	m->rcpts[0].address = xstrdup(q->mail_from);
	m->nrcpt = 1;
	m->message_id = xstrdup(mid);
	m->subject = xstrdup("Undelivered Mail Returned to Sender");
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
	if ((m = dsn_message(q, rs, n))->raw == NULL) {
		store_message_free(m);
		return;
	}
	q->r->dsns++;
	for (size_t i = 0; i < n; i++)
		emit(q, "dsn", which[i], 0, NULL, NULL, m->id);
	if (store_submit(q->r->env.store, m, dsn_stored, NULL) < 0)
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
	struct engine *engine = q->r->env.engine;
	const char *rcpts[1] = {rc->address};
	struct hook_ctx ctx = {.stage = STAGE_RELAY,
	                       .attempt = rc->attempts,
	                       .sender = q->mail_from,
	                       .recipients = rcpts,
	                       .nrecipients = 1,
	                       .user = q->user};
	struct verdict v = engine_decide(engine, &ctx, NULL);

	if (v.kind != V_DROP && v.kind != V_REPLY)
		return NULL;
	snprintf(label, labellen, "%s", v.label);
	memset(out, 0, sizeof *out);
	if (v.kind == V_DROP) {
		snprintf(out->text, sizeof out->text,
		         "the next hop dropped the connection (scenario %s)", label);
	} else {
		out->code = v.code;
		out->permanent = out->code >= 500;
		snprintf(out->text, sizeof out->text, "%s", v.rule->act.downstream);
	}
	return v.rule;
}

/* Recipient i of q goes to d: into the attempt's job for d, made on first use. */
static void add_to_job(struct qjob **jobs, size_t *njobs, struct qmsg *q, struct hop_dest *d,
                       size_t i)
{
	struct qjob *qj = NULL;

	for (size_t k = 0; k < *njobs; k++)
		if (jobs[k]->dest == d)
			qj = jobs[k];
	if (qj == NULL) {
		qj = xcalloc(1, sizeof *qj);
		qj->job.owner = qj;
		qj->q = q;
		qj->dest = d;
		qj->idx = xcalloc(q->nrcpt, sizeof *qj->idx);
		qj->addrs = xcalloc(q->nrcpt, sizeof *qj->addrs);
		qj->job.replies = xcalloc(q->nrcpt, sizeof *qj->job.replies);
		qj->job.mail_from = q->mail_from;
		qj->job.rcpts = qj->addrs;
		jobs[(*njobs)++] = qj;
	}
	qj->idx[qj->job.nrcpt] = i;
	qj->addrs[qj->job.nrcpt++] = q->rcpts[i].address;
	q->rcpts[i].held = 1;
}

static void queue_job(struct qjob *qj)
{
	struct qmsg *q = qj->q;

	for (size_t k = 0; k < qj->job.nrcpt; k++)
		set_text(&q->rcpts[qj->idx[k]].destination, hop_dest_name(qj->dest));
	q->busy++;
	q->r->jobs_in_flight++;
	hop_enqueue(qj->dest, &qj->job);
	emit(q, "relayed", &q->rcpts[qj->idx[0]], 0, NULL, NULL, NULL);
}

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
	if (q->r->env.cfg->relay.mode != RELAY_CAPTURE)
		return NULL;
	q->captured = 1;
	record_result(q, rc, "capture", &captured, NULL);
	return "capture";
}

static void start_attempt(struct qmsg *q)
{
	struct relay *r = q->r;
	double now_v = vclock_now(r->env.clock);
	size_t n = q->nrcpt, njobs = 0, nrule = 0, ncapture = 0;
	struct qjob **jobs = xcalloc(n, sizeof *jobs);
	struct hop_dest **dests = xcalloc(n, sizeof *dests);
	struct rrcpt **by_rule = xcalloc(n, sizeof *by_rule),
	             **captured = xcalloc(n, sizeof *captured);

	for (size_t i = 0; i < q->nrcpt; i++) {
		struct rrcpt *rc = &q->rcpts[i];
		const char *local;
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
		add_to_job(jobs, &njobs, q, hop_dest_for(r->hop, rc->address), i);
	}
	if (nrule > 0)
		log_attempt(q, "scenario", by_rule, nrule);
	if (ncapture > 0)
		log_attempt(q, "capture", captured, ncapture);
	free(by_rule);
	free(captured);
	/* Every job is queued (and counted in q->busy) before any is pumped: a
	 * destination that fails at once finishes its job right away. The jobs
	 * may be gone after pumping; their destinations stay. */
	for (size_t k = 0; k < njobs; k++) {
		queue_job(jobs[k]);
		dests[k] = jobs[k]->dest;
	}
	for (size_t k = 0; k < njobs; k++)
		hop_pump(dests[k]);
	free(jobs);
	free(dests);
	if (njobs == 0)
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
	now_v = vclock_now(q->r->env.clock);
	if (next <= now_v) {
		make_ready(q);
	} else {
		double secs = vclock_real(q->r->env.clock, next - now_v);
		struct timeval tv = {(time_t)secs, (suseconds_t)((secs - floor(secs)) * 1e6)};
		evtimer_add(q->timer, &tv);
	}
}

static void dispatch(struct relay *r)
{
	size_t n = 0;

	while (!STAILQ_EMPTY(&r->ready) && n < DISPATCH_BATCH && r->jobs_in_flight < MAX_JOBS) {
		struct qmsg *q = STAILQ_FIRST(&r->ready);
		STAILQ_REMOVE_HEAD(&r->ready, ready_entry);
		q->on_ready = 0;
		n++;
		start_attempt(q);
	}
	if (!STAILQ_EMPTY(&r->ready) && r->jobs_in_flight < MAX_JOBS)
		event_active(r->kick, EV_TIMEOUT, 0);
}

static void on_kick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	dispatch(arg);
}

/* ---- jobs coming back: the hop layer's callbacks ----------------------------- */

static void free_qjob(struct qjob *qj)
{
	free(qj->idx);
	free(qj->addrs);
	free(qj->job.replies);
	free(qj);
}

/* The message's text, for the job a connection is about to carry. */
static int on_job_load(void *arg, struct job *j)
{
	struct qjob *qj = j->owner;

	(void)arg;
	if (load_raw(qj->q) < 0)
		return -1;
	j->raw = qj->q->raw;
	j->raw_len = qj->q->raw_len;
	return 0;
}

/* The job is on the wire: its recipients are sending, and the store says so
 * (a restart counts them as possibly delivered twice). */
static void on_job_sending(void *arg, struct job *j)
{
	struct qjob *qj = j->owner;

	(void)arg;
	for (size_t k = 0; k < j->nrcpt; k++)
		qj->q->rcpts[qj->idx[k]].state = RS_SENDING;
	save(qj->q);
}

/* The job has its answers (or failed with final): records them, frees the
 * job and settles its message. */
static void on_job_finished(void *arg, struct job *j, const char *destination,
                            const struct hop_reply *final)
{
	struct relay *r = arg;
	struct qjob *qj = j->owner;
	struct qmsg *q = qj->q;
	struct rrcpt **rcs = xcalloc(j->nrcpt, sizeof *rcs);

	for (size_t k = 0; k < j->nrcpt; k++) {
		const struct hop_reply *rr = &j->replies[k];
		const struct hop_reply *use = final;
		struct rrcpt *rc = &q->rcpts[qj->idx[k]];
		if (rr->code != 0 && (rr->code < 200 || rr->code >= 300))
			use = rr; /* refused at RCPT: its own reply */
		rc->held = 0;
		record_result(q, rc, destination, use, NULL);
		rcs[k] = rc;
	}
	log_attempt(q, destination, rcs, j->nrcpt);
	free(rcs);
	r->jobs_in_flight--;
	q->busy--;
	free_qjob(qj);
	settle(q);
	if (!STAILQ_EMPTY(&r->ready))
		event_active(r->kick, EV_TIMEOUT, 0);
}

/* The hop layer forgets the job: so does the queue (its message goes too). */
static void on_job_dropped(void *arg, struct job *j)
{
	(void)arg;
	free_qjob(j->owner);
}

static const struct hop_ops hop_ops = {on_job_load, on_job_sending, on_job_finished,
                                       on_job_dropped};

/* ---- the relay as a whole ----------------------------------------------- */

struct relay *relay_new(const struct relay_env *env, char *err, size_t errlen)
{
	struct relay *r = xcalloc(1, sizeof *r);

	r->env = *env;
	TAILQ_INIT(&r->msgs);
	STAILQ_INIT(&r->ready);
	r->kick = event_new(env->base, -1, 0, on_kick, r);
	if ((r->hop = hop_new(env->base, env->cfg, &hop_ops, r, err, errlen)) == NULL) {
		relay_free(r);
		return NULL;
	}
	return r;
}

void relay_forget_all(struct relay *r)
{
	hop_forget_all(r->hop);
	r->jobs_in_flight = 0;
	while (!TAILQ_EMPTY(&r->msgs))
		free_qmsg(TAILQ_FIRST(&r->msgs));
	STAILQ_INIT(&r->ready);
}

void relay_free(struct relay *r)
{
	if (r == NULL)
		return;
	hop_free(r->hop);
	while (!TAILQ_EMPTY(&r->msgs))
		free_qmsg(TAILQ_FIRST(&r->msgs));
	if (r->kick != NULL)
		event_free(r->kick);
	free(r);
}

int relay_capture_now(struct relay *r, struct store_message *m)
{
	struct rrcpt *rcs;
	struct rrcpt **done;
	struct jsonw attempts = {0};
	size_t ndone = 0;
	int final;

	if (r->env.cfg->relay.mode != RELAY_CAPTURE || m->origin != NULL || m->nrcpt == 0 ||
	    engine_has_stage(r->env.engine, STAGE_RELAY))
		return 0;
	rcs = xcalloc(m->nrcpt, sizeof *rcs);
	done = xcalloc(m->nrcpt, sizeof *done);
	/* The records borrow the message's addresses and the reply text. */
	for (size_t i = 0; i < m->nrcpt; i++) {
		struct rrcpt *rc = &rcs[i];
		rc->address = m->rcpts[i].address;
		rc->state = m->rcpts[i].suppressed ? RS_SUPPRESSED : RS_DELIVERED;
		if (rc->state == RS_SUPPRESSED)
			continue;
		rc->attempts = 1;
		rc->reply = (char *)CAPTURED_REPLY;
		rc->destination = (char *)"capture";
		rc->updated = m->received;
		done[ndone++] = rc;
	}
	if (ndone > 0)
		attempt_write(&attempts, m->received, "capture", done, ndone);
	m->captured = ndone > 0;
	m->delivery_state = xstrdup(message_state(rcs, m->nrcpt));
	m->delivery_recipients = recipients_text(rcs, m->nrcpt, &final);
	m->delivery_attempts = attempts_text(&attempts);
	jsonw_free(&attempts);
	free(done);
	free(rcs);
	return 1;
}

/* Events for a message stored delivered to the capture mailbox at once. */
static void report_captured(struct relay *r, const struct store_message *m)
{
	struct qmsg q = {.r = r, .user = m->user};

	snprintf(q.id, sizeof q.id, "%s", m->id);
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
	q->is_dsn = m->origin != NULL;
	for (size_t i = 0; i < m->nrcpt; i++) {
		q->rcpts[i].address = xstrdup(m->rcpts[i].address);
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

/* The attempts a restart found in the store, as the elements q->attempts
 * keeps (the array's text without its brackets). */
static void set_attempts(struct qmsg *q, json_t *attempts)
{
	char *text = json_array_size(attempts) > 0 ? json_dumps(attempts, JSON_COMPACT) : NULL;
	size_t len = text ? strlen(text) : 0;

	jsonw_reset(&q->attempts);
	if (len >= 2)
		jsonw_raw(&q->attempts, text + 1, len - 2);
	free(text);
}

static void recover_one(void *arg, const struct store_pending *p)
{
	struct relay *r = arg;
	size_t n = json_array_size(p->recipients);
	struct qmsg *q = new_qmsg(r, p->seq, p->mail_from, p->user, p->received, n);

	q->is_dsn = p->origin != NULL;
	set_attempts(q, p->attempts);
	for (size_t i = 0; i < n; i++) {
		json_t *o = json_array_get(p->recipients, i);
		struct rrcpt *rc = &q->rcpts[i];
		rc->address = xstrdup(json_string_value(json_object_get(o, "address"))
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
	long n = store_load_pending(r->env.store, recover_one, r);

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
	const struct qmsg *q;
	size_t conns, jobs;
	json_t *o;

	for (q = TAILQ_FIRST(&r->msgs); q != NULL; q = TAILQ_NEXT(q, entry))
		for (size_t i = 0; i < q->nrcpt; i++)
			count[q->rcpts[i].state]++;
	hop_count(r->hop, &conns, &jobs);
	o = json_pack("{s:s, s:I, s:{s:I, s:I, s:I}, s:I, s:I, s:{s:I, s:I, s:I, s:I, s:I}, "
	              "s:{s:I, s:I}}",
	              "mode", modes[r->env.cfg->relay.mode], "messages", (json_int_t)r->nmsgs,
	              "recipients", "queued", (json_int_t)count[RS_QUEUED], "sending",
	              (json_int_t)count[RS_SENDING], "deferred", (json_int_t)count[RS_DEFERRED],
	              "connections", (json_int_t)conns, "jobs_waiting", (json_int_t)jobs, "totals",
	              "delivered", (json_int_t)r->delivered, "deferred", (json_int_t)r->deferred,
	              "bounced", (json_int_t)r->bounced, "expired", (json_int_t)r->expired, "dsn",
	              (json_int_t)r->dsns, "restart", "messages_resumed", (json_int_t)r->recovered,
	              "recipients_resent", (json_int_t)r->resumed);
	return o;
}
