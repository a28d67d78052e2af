/*
 * grade_attempts.c - rebuilds the client's attempts from edsim's records in
 * the evidence (conformance/SCHEMA.md section 1) and describes them.
 *
 * SMTP: every transcript is read line by line, pairing each reply with the
 * command it answers (a queue, so pipelined commands pair up too; after "354"
 * to DATA the next reply is the data-end reply). An attempt is a connection in
 * which the client sent a command other than QUIT, got a 4xx/5xx greeting,
 * failed the TLS handshake or was dropped by a rule; on one connection a new
 * attempt starts at a MAIL sent after a transaction ended (refused at MAIL,
 * RCPT, DATA or data-end, or accepted) or at an AUTH, after a refused AUTH,
 * with a mechanism the attempt already tried (a retry on the same session).
 * An AUTH after a refused AUTH with a mechanism not tried yet is a mechanism
 * fallback inside the attempt (smtplib tries PLAIN, then LOGIN): counted in
 * fallbacks, and the attempt's decisive reply is then the fallback's. Its
 * decisive reply is the first 4xx/5xx to the
 * greeting, AUTH, MAIL, RCPT, DATA or the end of data, or any 421; a 2xx at
 * data-end accepts (over an earlier RCPT refusal). Outcome: accepted,
 * rejected, dropped (a "drops the connection" or "fails the TLS handshake"
 * note), timeout (a command, or the message data, left unanswered), else
 * closed. TLS: a "TLS established" note on the connection.
 *
 * HTTPS: one attempt per event at stage "https"; 2xx accepts, type "dropped"
 * (code 0) is a drop, any other status a rejection.
 *
 * Invariants: SMTP attempts are sorted by start (then connection), HTTPS
 * ones keep the events' order; times are seconds since the case's origin;
 * every collected attempt owns its replies array and borrows its strings and
 * lines from the evidence. Collection either returns every attempt or, when
 * memory runs out, none.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "grade_attempts.h"

#include "clock.h"

#define EXCERPT_LINES 60
#define QUEUE_LEN     16

/* The attempts found so far. */
struct found {
	double origin;
	struct attempt *a;
	size_t n, cap;
};

/* Replies awaited, oldest first, with the stage of the command each answers
 * and when it was sent. */
struct scan {
	const char *queue[QUEUE_LEN];
	double queue_t[QUEUE_LEN];
	size_t head, len;
	int in_data, data_sent, auth_cont, tls;
	double data_t;     /* when the message data was complete */
	const char *multi; /* first line of a multi-line reply */
};

/* ---- SMTP attempts from transcripts ---- */

static void queue_push(struct scan *s, const char *stage, double t)
{
	if (s->len == QUEUE_LEN) {
		s->head = (s->head + 1) % QUEUE_LEN;
		s->len--;
	}
	s->queue_t[(s->head + s->len) % QUEUE_LEN] = t;
	s->queue[(s->head + s->len++) % QUEUE_LEN] = stage;
}

static const char *queue_pop(struct scan *s)
{
	const char *stage;

	if (s->len == 0)
		return "other";
	stage = s->queue[s->head];
	s->head = (s->head + 1) % QUEUE_LEN;
	s->len--;
	return stage;
}

const char *transcript_command_stage(const char *line)
{
	static const char *const map[][2] = {
	    {"EHLO", "ehlo"},         {"HELO", "ehlo"}, {"LHLO", "ehlo"},
	    {"STARTTLS", "starttls"}, {"AUTH", "auth"}, {"MAIL", "mail"},
	    {"RCPT", "rcpt"},         {"DATA", "data"}, {"QUIT", "quit"},
	};

	for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
		size_t n = strlen(map[i][0]);
		if (strncasecmp(line, map[i][0], n) == 0 && (line[n] == '\0' || line[n] == ' '))
			return map[i][1];
	}
	return "other";
}

int transcript_reply_code(const char *line, int *cont)
{
	if (!isdigit((unsigned char)line[0]) || !isdigit((unsigned char)line[1]) ||
	    !isdigit((unsigned char)line[2]) ||
	    (line[3] != '\0' && line[3] != ' ' && line[3] != '-'))
		return 0;
	*cont = line[3] == '-';
	return atoi(line);
}

static int decisive_stage(const char *stage)
{
	static const char *const stages[] = {"greeting", "auth", "mail",
	                                     "rcpt",     "data", "data-end"};

	for (size_t i = 0; i < sizeof stages / sizeof stages[0]; i++)
		if (strcmp(stage, stages[i]) == 0)
			return 1;
	return 0;
}

static int concluded(const struct attempt *a)
{
	return a->accepted || a->code >= 400;
}

static void attempt_begin(struct attempt *a, double t, long connection, int tls,
                          const json_t *lines, size_t first)
{
	*a = (struct attempt){.t = t,
	                      .end = t,
	                      .connection = connection,
	                      .tls = tls,
	                      .lines = lines,
	                      .first = first,
	                      .last = first,
	                      .key = first,
	                      .replies = json_array()};
}

static void note_reply(struct attempt *a, int code, const char *text, const char *stage, size_t i)
{
	int refusal = code >= 400 && (decisive_stage(stage) || code == 421);
	int accepting = code >= 200 && code < 300 && strcmp(stage, "data-end") == 0;

	if (a->reopened && strcmp(stage, "auth") == 0 && code != 334) {
		/* the answer to a fallback AUTH replaces the refusal before it */
		a->reopened = 0;
		a->code = 0, a->text = NULL, a->stage = NULL;
		if (code < 400)
			return;
	}

	if (code >= 400 || accepting)
		a->last_stage = stage;
	if (refusal && !concluded(a)) {
		a->code = code, a->text = text, a->stage = stage, a->key = i;
	} else if (accepting && !a->accepted && (a->code < 400 || strcmp(a->stage, "rcpt") == 0)) {
		a->accepted = 1;
		a->code = code, a->text = text, a->stage = stage, a->key = i;
	}
}

static void scan_reply(struct scan *s, struct attempt *a, const char *text, double t, size_t i)
{
	int cont = 0, code = transcript_reply_code(text, &cont);
	const char *stage;

	if (code == 0)
		return;
	if (cont) {
		if (s->multi == NULL)
			s->multi = text;
		return;
	}
	if (s->multi != NULL)
		text = s->multi, s->multi = NULL;
	stage = s->in_data ? "data-end" : queue_pop(s);
	s->in_data = strcmp(stage, "data") == 0 && code == 354;
	s->data_sent = 0;
	s->auth_cont = strcmp(stage, "auth") == 0 && code == 334;
	json_array_append_new(a->replies, json_pack("{s:f, s:i, s:s, s:s}", "t", ms(t), "code",
	                                            code, "text", text, "stage", stage));
	note_reply(a, code, text, stage, i);
}

static void scan_note(struct scan *s, struct attempt *a, const char *text, double t)
{
	if (strncmp(text, "TLS established", 15) == 0)
		s->tls = a->tls = 1;
	else if (strncmp(text, "message data:", 13) == 0)
		s->data_sent = 1, s->data_t = t;
	if (strncmp(text, "TLS handshake failed", 20) == 0)
		a->handshake_failed = 1;
	if (strstr(text, "drops the connection") != NULL ||
	    strstr(text, "fails the TLS handshake") != NULL)
		a->dropped = 1;
	if (strncmp(text, "rule ", 5) == 0)
		a->rule_acted = 1;
}

/* The AUTH mechanism of an "AUTH MECH ..." line, upper-cased into buf. */
static const char *auth_mechanism(const char *line, char *buf, size_t len)
{
	size_t n = 0;

	for (line += 4; *line == ' '; line++)
		;
	while (line[n] != '\0' && line[n] != ' ' && n + 1 < len) {
		buf[n] = (char)toupper((unsigned char)line[n]);
		n++;
	}
	buf[n] = '\0';
	return buf;
}

/* Whether mech is one of the attempt's tried mechanisms. */
static int mechanism_tried(const struct attempt *a, const char *mech)
{
	size_t n = strlen(mech);

	for (const char *p = a->mechs; (p = strstr(p, mech)) != NULL; p += n)
		if ((p == a->mechs || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
			return 1;
	return 0;
}

static void mechanism_add(struct attempt *a, const char *mech)
{
	size_t used = strlen(a->mechs);

	if (*mech != '\0' && !mechanism_tried(a, mech) && used + strlen(mech) + 2 < sizeof a->mechs)
		snprintf(a->mechs + used, sizeof a->mechs - used, "%s%s", used ? " " : "", mech);
}

/* An AUTH after a refused AUTH: another mechanism (1), or one the attempt
 * already tried (0), which is a retry. */
static int auth_fallback(const struct scan *s, const struct attempt *a, const char *text)
{
	char mech[32];

	if (s->auth_cont || !concluded(a) || a->accepted || a->last_stage == NULL ||
	    strcmp(a->last_stage, "auth") != 0 ||
	    strcmp(transcript_command_stage(text), "auth") != 0)
		return 0;
	return !mechanism_tried(a, auth_mechanism(text, mech, sizeof mech));
}

/* The attempt goes on with another mechanism: the fallback's reply decides. */
static void fall_back(struct attempt *a)
{
	if (a->fallbacks++ == 0)
		a->fallback_code = a->code;
	a->reopened = 1;
}

/* The client tries again on the same connection: a MAIL after a
 * transaction that ended (refused at MAIL, RCPT, DATA or its end, or
 * accepted), or an AUTH after a refused AUTH with a mechanism it tried. */
static int starts_attempt(const struct scan *s, const struct attempt *a, const char *text)
{
	const char *stage = transcript_command_stage(text);

	if (s->auth_cont || !concluded(a) || a->last_stage == NULL)
		return 0;
	if (strcmp(stage, "auth") == 0)
		return strcmp(a->last_stage, "auth") == 0 && !auth_fallback(s, a, text);
	return strcmp(stage, "mail") == 0 && strcmp(a->last_stage, "auth") != 0 &&
	       strcmp(a->last_stage, "greeting") != 0;
}

static void scan_command(struct scan *s, struct attempt *a, const char *text, double t)
{
	const char *stage = s->auth_cont ? "auth" : transcript_command_stage(text);
	char mech[32];

	if (auth_fallback(s, a, text))
		fall_back(a);
	if (!s->auth_cont && strcmp(stage, "auth") == 0)
		mechanism_add(a, auth_mechanism(text, mech, sizeof mech));
	s->auth_cont = 0;
	if (strcmp(stage, "quit") != 0)
		a->commands++;
	queue_push(s, stage, t);
}

/* Whether a reply was still due; the oldest one due goes into the attempt's
 * pending_stage and pending_t. */
static int still_waiting(const struct scan *s, struct attempt *a)
{
	for (size_t k = 0; k < s->len; k++) {
		size_t at = (s->head + k) % QUEUE_LEN;
		if (strcmp(s->queue[at], "quit") != 0) {
			a->pending_stage = s->queue[at], a->pending_t = s->queue_t[at];
			return 1;
		}
	}
	if (s->in_data && s->data_sent) {
		a->pending_stage = "data-end", a->pending_t = s->data_t;
		return 1;
	}
	return 0;
}

static int attempt_push(struct found *f, const struct attempt *a)
{
	if (f->n == f->cap) {
		size_t cap = f->cap ? 2 * f->cap : 8;
		struct attempt *na = realloc(f->a, cap * sizeof *na);
		if (na == NULL)
			return -1;
		f->a = na, f->cap = cap;
	}
	f->a[f->n++] = *a;
	return 0;
}

static int attempt_finish(struct found *f, struct attempt *a, const struct scan *s, int open)
{
	a->waiting = still_waiting(s, a) || open;
	if (a->code == 0)
		a->key = a->last;
	a->outcome = a->accepted           ? "accepted"
	             : a->code >= 400      ? "rejected"
	             : a->dropped          ? "dropped"
	             : a->handshake_failed ? "closed"
	             : a->waiting          ? "timeout"
	                                   : "closed";
	if (a->commands == 0 && a->code < 400 && !a->dropped && !a->handshake_failed) {
		json_decref(a->replies);
		return 0;
	}
	if (attempt_push(f, a) == 0)
		return 0;
	json_decref(a->replies);
	return -1;
}

static int scan_transcript(struct found *f, const json_t *tr)
{
	const json_t *lines = json_object_get(tr, "lines"), *l;
	long conn = (long)json_integer_value(json_object_get(tr, "connection"));
	struct scan s = {.len = 0};
	struct attempt a;
	size_t i;

	attempt_begin(&a, clock_parse(str_of(tr, "opened")) - f->origin, conn, 0, lines, 0);
	queue_push(&s, "greeting", a.t);
	json_array_foreach(lines, i, l)
	{
		const char *dir = str_of(l, "dir"), *text = str_of(l, "line");
		double t = clock_parse(str_of(l, "time")) - f->origin;

		if (dir == NULL || text == NULL)
			continue;
		if (strcmp(dir, "in") == 0 && starts_attempt(&s, &a, text)) {
			if (attempt_finish(f, &a, &s, 0) < 0)
				return -1;
			attempt_begin(&a, t, conn, s.tls, lines, i);
		}
		if (isnan(a.t))
			a.t = t;
		a.last = i, a.end = t;
		if (strcmp(dir, "note") == 0)
			scan_note(&s, &a, text, t);
		else if (strcmp(dir, "in") == 0)
			scan_command(&s, &a, text, t);
		else if (strcmp(dir, "out") == 0)
			scan_reply(&s, &a, text, t, i);
	}
	return attempt_finish(f, &a, &s, json_is_true(json_object_get(tr, "open")));
}

/* ---- HTTPS attempts from events ---- */

static int scan_events(struct found *f, const json_t *events)
{
	const json_t *e;
	size_t i;

	json_array_foreach(events, i, e)
	{
		const char *stage = str_of(e, "stage");
		struct attempt a;
		int code = (int)json_integer_value(json_object_get(e, "code"));

		if (stage == NULL || strcmp(stage, "https") != 0)
			continue;
		attempt_begin(&a, clock_parse(str_of(e, "time")) - f->origin, 0, 1, NULL, 0);
		a.commands = 1, a.code = code, a.stage = "https";
		a.text = str_of(e, "reply") ? str_of(e, "reply") : "";
		a.accepted = code >= 200 && code < 300;
		a.dropped =
		    code == 0 || (str_of(e, "type") && strcmp(str_of(e, "type"), "dropped") == 0);
		a.outcome = a.accepted ? "accepted" : a.dropped ? "dropped" : "rejected";
		a.rule_acted = json_is_string(json_object_get(e, "rule"));
		json_array_append_new(a.replies,
		                      json_pack("{s:f, s:i, s:s, s:s}", "t", ms(a.t), "code", code,
		                                "text", a.text, "stage", "https"));
		if (attempt_push(f, &a) < 0) {
			json_decref(a.replies);
			return -1;
		}
	}
	return 0;
}

/* ---- every attempt of the case ---- */

static int by_start(const void *x, const void *y)
{
	const struct attempt *a = x, *b = y;

	if (a->t != b->t)
		return a->t < b->t ? -1 : 1;
	return (a->connection > b->connection) - (a->connection < b->connection);
}

double attempts_origin(const json_t *ev)
{
	const json_t *edsim = json_object_get(ev, "edsim"), *x;
	double origin = num_of(json_object_get(ev, "run"), "started"), t;
	size_t i;

	if (origin > 0)
		return origin;
	origin = INFINITY;
	json_array_foreach(json_object_get(edsim, "transcripts"), i, x)
	{
		if (!isnan(t = clock_parse(str_of(x, "opened"))) && t < origin)
			origin = t;
	}
	json_array_foreach(json_object_get(edsim, "events"), i, x)
	{
		if (!isnan(t = clock_parse(str_of(x, "time"))) && t < origin)
			origin = t;
	}
	return isinf(origin) ? 0 : origin;
}

static int scan_transcripts(struct found *f, const json_t *transcripts)
{
	const json_t *tr;
	size_t i;

	json_array_foreach(transcripts, i, tr)
	{
		if (scan_transcript(f, tr) < 0)
			return -1;
	}
	if (f->n > 1)
		qsort(f->a, f->n, sizeof *f->a, by_start);
	return 0;
}

int attempts_collect(const json_t *evidence, double origin, int https, struct attempt **out,
                     size_t *n)
{
	const json_t *edsim = json_object_get(evidence, "edsim");
	struct found f = {.origin = origin};
	int rc = https ? scan_events(&f, json_object_get(edsim, "events"))
	               : scan_transcripts(&f, json_object_get(edsim, "transcripts"));

	if (rc < 0) {
		attempts_free(f.a, f.n);
		f.a = NULL, f.n = 0;
	}
	*out = f.a, *n = f.n;
	return rc;
}

void attempts_free(struct attempt *a, size_t n)
{
	for (size_t i = 0; i < n; i++)
		json_decref(a[i].replies);
	free(a);
}

/* ---- describing attempts ---- */
/* What became of an attempt that got no decisive reply. */
static const char *unanswered(const struct attempt *a)
{
	if (a->dropped)
		return "dropped by edsim without a reply";
	if (a->handshake_failed)
		return "the TLS handshake failed";
	if (a->waiting && a->cut)
		return "no reply yet; still waiting when the budget ran out";
	if (a->waiting)
		return "no reply; the client stopped waiting";
	return "closed by the client before sending the message";
}

json_t *attempt_line(const struct attempt *a, size_t i)
{
	char where[64];

	if (a->lines == NULL)
		snprintf(where, sizeof where, "HTTPS");
	else
		snprintf(where, sizeof where, "connection %ld%s", a->connection,
		         a->tls ? ", TLS" : "");
	if (a->lines == NULL && a->code != 0)
		return json_sprintf("attempt %zu at %.2f s (%s): %d%s%s", i + 1, a->t, where,
		                    a->code, *a->text ? " " : "", a->text);
	if (a->code != 0)
		return json_sprintf("attempt %zu at %.2f s (%s): %s at %s", i + 1, a->t, where,
		                    a->text, a->stage);
	return json_sprintf("attempt %zu at %.2f s (%s): %s", i + 1, a->t, where, unanswered(a));
}

json_t *attempt_json(const struct attempt *a, size_t i, double retry_after)
{
	return json_pack("{s:i, s:f, s:f, s:s, s:I, s:b, s:O, s:s, s:i, s:o}", "n", (int)i + 1, "t",
	                 ms(a->t), "end", ms(a->end), "kind", a->lines ? "smtp" : "https",
	                 "connection", (json_int_t)a->connection, "tls", a->tls, "replies",
	                 a->replies, "outcome", a->outcome, "code", a->code, "retry_after",
	                 a->code == 429 && retry_after > 0 ? json_real(retry_after) : json_null());
}

/* ---- transcript excerpt ---- */

/* A transcript line for the report, AUTH's credentials left out. */
static json_t *masked(const char *dir, const char *text)
{
	size_t mech;

	if (strcmp(dir, "in") != 0 || strncasecmp(text, "AUTH ", 5) != 0)
		return json_string(text);
	mech = strcspn(text + 5, " ");
	return text[5 + mech] ? json_sprintf("%.*s ****", (int)(5 + mech), text)
	                      : json_string(text);
}

static void excerpt_attempt(const struct attempt *a, double origin, size_t per, json_t *out)
{
	size_t from = a->key > a->first + per - 3 ? a->key - (per - 3) : a->first;
	size_t to = a->key + 2 < a->last ? a->key + 2 : a->last;

	if (a->lines == NULL) {
		json_array_append_new(
		    out, json_pack(
		             "{s:i, s:f, s:s, s:o}", "connection", 0, "t", ms(a->t), "dir",
		             a->code ? "out" : "note", "line",
		             a->code ? json_sprintf("%d%s%s", a->code, *a->text ? " " : "", a->text)
		                     : json_string("dropped without an answer")));
		return;
	}
	for (size_t i = from; i <= to && json_array_size(out) < EXCERPT_LINES; i++) {
		const json_t *l = json_array_get(a->lines, i);
		const char *text = str_of(l, "line"), *dir = str_of(l, "dir");
		if (text == NULL || dir == NULL || (i != a->key && strncmp(text, "250-", 4) == 0))
			continue;
		json_array_append_new(out, json_pack("{s:I, s:f, s:s, s:o}", "connection",
		                                     (json_int_t)a->connection, "t",
		                                     ms(clock_parse(str_of(l, "time")) - origin),
		                                     "dir", dir, "line", masked(dir, text)));
	}
}

/* Up to EXCERPT_LINES lines around each attempt's decisive reply. */
json_t *attempts_excerpt(const struct attempt *a, size_t n, double origin)
{
	json_t *out = json_array();
	size_t per = n ? EXCERPT_LINES / n : 0;

	if (per < 6)
		per = 6;
	for (size_t i = 0; i < n && json_array_size(out) < EXCERPT_LINES; i++)
		excerpt_attempt(&a[i], origin, per, out);
	return out;
}
