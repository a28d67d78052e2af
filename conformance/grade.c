/*
 * grade.c - grades one case run from its evidence (conformance/SCHEMA.md).
 *
 * It owns the checks, the verdicts and the result (SCHEMA.md section 2). The
 * client's attempts are rebuilt from edsim's records by grade_attempts.c,
 * once per case, before any check runs; the checks only read them.
 *
 * Permanent failures: SMTP 5xx; HTTP 4xx but 409 and 429, 5xx but 500, 502,
 * 503 and 504, except an HTTPS error code the case's catalog calls transient
 * (case.transient_codes: SES's v1 Throttling is a 400). Gaps are start to start between consecutive
 * attempts; an attempt that began before the one before it ended (a parallel session) is no retry
 * and opens no gap.
 *
 * Checks (left out when the expect key they need is not set):
 *   exercised - the client met the case's condition: an attempt got a
 *     reply of an exercised catalog row (code and text template), or a rule
 *     of the scenario acted on an attempt (or, at stage relay, on the
 *     client's message). PASS when met; left out when the case has neither
 *     rows nor rules. When the client made attempts but met nothing, the
 *     check is INFO, the reason says "condition not exercised", and every
 *     other check is turned to INFO ("not graded") but a WARN or FAIL for
 *     what the client did on its own (own_doing(): tls, reconnect-after-421,
 *     auth-fallback, the message stored twice): a client is never blamed,
 *     or praised, for what it did not meet.
 *   delivered-once / not-delivered / suppressed - stored messages with the
 *     case's Message-ID (DSNs aside): exactly 1 / none / 1 with a suppressed
 *     recipient or a 254 reply (1 without a suppression seen: INFO).
 *   attempts - min <= n <= max (max 0: no bound).   retried - n >= 2.
 *   min-gap - each gap >= min_gap - 0.05 s; a shorter one WARNs ("retries
 *     too fast"), one under 0.1 s FAILs (a loop with no pause).
 *   backoff - with >= 2 gaps: growing (no gap under 90% of the one before,
 *     the last over 110% of the first), constant, or shrinking. "growing"
 *     expected: growing PASS, constant or shrinking WARN; "constant": WARN
 *     only when shrinking. Fewer gaps: INFO.
 *   retry-after - the attempt after each 429 at least Retry-After - 0.05 s
 *     later, else FAIL; no 429 followed by an attempt: INFO.
 *   gives-up - true: an attempt after the first permanent failure FAILs (none
 *     seen: INFO); false: FAIL when nothing was accepted and the last attempt
 *     failed transiently while the client was not stopped at the budget.
 *   auth-fallback (SMTP) - another AUTH mechanism tried on one session after
 *     a refused AUTH (not a new attempt): WARN after a 535, which counts
 *     toward the auth-failure limit, INFO after any other refusal; left out
 *     when no attempt fell back.
 *   reconnect-after-421 (SMTP) - a command other than QUIT after a 421 on the
 *     same connection FAILs; no 421: INFO.
 *   tls (SMTP) - AUTH before TLS FAILs; an attempt that sent commands in
 *     clear WARNs (edsim always offers STARTTLS).
 *   report - failure true: exit 0 FAILs, non-zero naming the code (HTTPS:
 *     the status or the error code of the last refusal) PASSes, without it
 *     WARNs; false: exit 0 PASSes. Stopped at the budget: FAIL.
 *     A client of kind "mta" reports by bounce: INFO.
 *   budget - not timed out: INFO; timed out: FAIL when the outcome is
 *     delivered-* (for an "mta", only when not stored exactly once), else INFO.
 * A client that made no attempt in the case's protocol but some in the
 * other one did not take part: SKIPPED, with that reason. A client the
 * budget stopped while its last attempt waited for a reply, for less time
 * than RFC 5321 section 4.5.3.2 gives it (5 min; DATA 2 min, the end of the
 * data 10 min), with nothing accepted, is ungraded the same way as a
 * condition not met, with that reason: what it does next is not known.
 * The case verdict is the worst check (INFO only when every check is INFO);
 * strict makes WARN checks FAIL. WARN and FAIL checks carry a remedy: the
 * catalog rows' remedy, or for the checks of the client's own doing (tls,
 * reconnect-after-421, auth-fallback) and cases without a catalog row, the
 * check's own advice.
 *
 * Borrowed strings point into the evidence, which outlives the grading.
 * Returns a new result; NULL only when memory runs out.
 */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "grade.h"
#include "grade_attempts.h"

#define GAP_SLACK     0.05 /* seconds of slack on min_gap and Retry-After */
#define TIGHT_LOOP    0.1  /* a gap under this is a retry loop with no pause */
#define BACKOFF_SLACK 0.10 /* gaps within 10% of each other count as equal */
#define EVIDENCE_MAX  40
#define OUTPUT_LINES  40

enum verdict { V_SKIPPED, V_INFO, V_PASS, V_WARN, V_FAIL };
static const char *const verdict_names[] = {"SKIPPED", "INFO", "PASS", "WARN", "FAIL"};

struct grade {
	const json_t *ev, *kase, *expect;
	double origin;
	struct attempt *a;
	size_t n;
	int https;
};

/* ---- small helpers ---- */

static const char *or_unknown(const char *s)
{
	return s ? s : "?";
}

static void set_fmt(json_t *o, const char *key, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	json_object_set_new(o, key, json_vsprintf(fmt, ap));
	va_end(ap);
}

static void add_line(json_t *check, const char *fmt, ...)
{
	json_t *ev = json_object_get(check, "evidence");
	va_list ap;

	if (ev == NULL || json_array_size(ev) >= EVIDENCE_MAX)
		return;
	va_start(ap, fmt);
	json_array_append_new(ev, json_vsprintf(fmt, ap));
	va_end(ap);
}

static json_t *check_new(const char *id, const char *title)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:[], s:n}", "id", id, "title", title,
	                 "verdict", "INFO", "expected", "", "actual", "", "evidence", "remedy");
}

static void check_verdict(json_t *check, enum verdict v)
{
	json_object_set_new(check, "verdict", json_string(verdict_names[v]));
}

static enum verdict verdict_of(const json_t *check)
{
	int r = grade_rank(str_of(check, "verdict"));

	return r < 0 ? V_INFO : (enum verdict)r;
}

static int is_delivery(const char *outcome)
{
	return outcome != NULL && strncmp(outcome, "delivered", 9) == 0;
}

static int permanent(const struct grade *g, int code)
{
	if (!g->https)
		return code >= 500 && code < 600;
	if (code >= 400 && code < 500)
		return code != 409 && code != 429;
	return code >= 500 && code != 500 && code != 502 && code != 503 && code != 504;
}

/* Whether the HTTPS error code of attempt a is one the case's catalog calls
 * transient (case.transient_codes): SES's v1 Throttling is a 400, and the
 * SDKs retry it. */
static int transient_code(const struct grade *g, const struct attempt *a)
{
	const json_t *code;
	size_t i;

	if (!g->https || a->text == NULL)
		return 0;
	json_array_foreach(json_object_get(g->kase, "transient_codes"), i, code)
	{
		if (json_is_string(code) && strcmp(json_string_value(code), a->text) == 0)
			return 1;
	}
	return 0;
}

/* A refusal that no retry will change: by its code, unless the catalog
 * calls its HTTPS error code transient. */
static int permanent_failure(const struct grade *g, const struct attempt *a)
{
	return a->code >= 400 && permanent(g, a->code) && !transient_code(g, a);
}

static int failed_transiently(const struct grade *g, const struct attempt *a)
{
	if (a->accepted)
		return 0;
	if (a->code >= 400)
		return !permanent_failure(g, a);
	return strcmp(a->outcome, "dropped") == 0 || strcmp(a->outcome, "timeout") == 0;
}

/* The checks of what a client does on its own whatever the case (edsim
 * always offers TLS; a 421 or a refused AUTH it met): their remedy is their
 * own advice, and they are graded even when the case's condition was not
 * met. */
static int own_check(const char *id)
{
	return strcmp(id, "tls") == 0 || strcmp(id, "reconnect-after-421") == 0 ||
	       strcmp(id, "auth-fallback") == 0;
}

/* ---- attempts and gaps, for the checks ---- */

static void add_attempts(json_t *check, const struct grade *g)
{
	json_t *ev = json_object_get(check, "evidence");

	for (size_t i = 0; i < g->n && json_array_size(ev) < EVIDENCE_MAX; i++)
		json_array_append_new(ev, attempt_line(&g->a[i], i));
}

/* Start-to-start gaps; an attempt begun before the one before it ended is a
 * parallel session, not a retry. to[k]: the attempt gap k leads to. */
static size_t retry_gaps(const struct grade *g, double *gap, size_t *to)
{
	size_t k = 0;

	for (size_t i = 1; i < g->n; i++) {
		if (g->a[i].t < g->a[i - 1].end - 0.002)
			continue;
		gap[k] = g->a[i].t - g->a[i - 1].t;
		to[k++] = i;
	}
	return k;
}

static void format_gaps(char *buf, size_t len, const double *gap, size_t n)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t k = 0; k < n && used + 16 < len; k++)
		used += (size_t)snprintf(buf + used, len - used, "%s%.2f s", k ? ", " : "", gap[k]);
	if (n == 0)
		snprintf(buf, len, "no gap");
}

/* ---- checks ---- */

static int same_id(const char *a, const char *b)
{
	size_t la, lb;

	if (a == NULL || b == NULL)
		return 0;
	a += *a == '<', b += *b == '<';
	la = strcspn(a, ">"), lb = strcspn(b, ">");
	return la == lb && strncmp(a, b, la) == 0;
}

static int suppression_seen(const struct grade *g, const json_t *m)
{
	const json_t *r;
	size_t i;

	json_array_foreach(json_object_get(m, "to"), i, r)
	{
		const char *state = str_of(r, "state");
		if (state != NULL && strcmp(state, "suppressed") == 0)
			return 1;
	}
	for (i = 0; i < g->n; i++)
		if (g->a[i].accepted && (g->a[i].code == 254 || strstr(g->a[i].text, "uppress")))
			return 1;
	return 0;
}

/* Stored messages with the case's Message-ID, listed in the check's evidence. */
static size_t count_stored(const struct grade *g, json_t *check, int *suppressed)
{
	const char *id = str_of(json_object_get(g->ev, "message"), "message_id");
	const json_t *m;
	size_t i, n = 0;

	*suppressed = 0;
	json_array_foreach(json_object_get(json_object_get(g->ev, "edsim"), "messages"), i, m)
	{
		const char *origin = str_of(m, "origin");
		if (!same_id(str_of(m, "message_id"), id) || (origin && strcmp(origin, "dsn") == 0))
			continue;
		n++;
		*suppressed |= suppression_seen(g, m);
		add_line(check, "stored message %s (received %s, state %s)",
		         or_unknown(str_of(m, "id")), or_unknown(str_of(m, "received")),
		         or_unknown(str_of(m, "state")));
	}
	return n;
}

static json_t *check_outcome(const struct grade *g)
{
	const char *outcome = str_of(g->expect, "outcome");
	const char *id = str_of(json_object_get(g->ev, "message"), "message_id");
	int supp = 0;
	size_t n;
	json_t *c;

	if (outcome == NULL)
		return NULL;
	if (is_delivery(outcome))
		c = check_new("delivered-once", "delivered exactly once");
	else if (strcmp(outcome, "suppressed") == 0)
		c = check_new("suppressed", "stored once, the recipient suppressed");
	else
		c = check_new("not-delivered", "not delivered");
	add_attempts(c, g);
	n = count_stored(g, c, &supp);
	set_fmt(c, "actual", "%zu", n);
	if (is_delivery(outcome)) {
		set_fmt(c, "expected", "1 stored message with Message-ID %s", id ? id : "?");
		check_verdict(c, n == 1 ? V_PASS : V_FAIL);
		if (n == 0)
			add_line(c, "the message was lost");
		else if (n > 1)
			add_line(c, "the message was stored %zu times", n);
	} else if (strcmp(outcome, "suppressed") == 0) {
		set_fmt(c, "expected",
		        "1 stored message with Message-ID %s, the recipient suppressed",
		        id ? id : "?");
		if (n == 1 && !supp)
			set_fmt(c, "actual", "1, no suppression seen");
		check_verdict(c, n != 1 ? V_FAIL : supp ? V_PASS : V_INFO);
	} else {
		set_fmt(c, "expected", "no stored message with Message-ID %s", id ? id : "?");
		check_verdict(c, n == 0 ? V_PASS : V_FAIL);
	}
	return c;
}

static json_t *check_attempts(const struct grade *g)
{
	const json_t *x = json_object_get(g->expect, "attempts");
	long min = (long)num_of(x, "min"), max = (long)num_of(x, "max");
	json_t *c;

	if (min <= 0 && max <= 0)
		return NULL;
	c = check_new("attempts", "number of attempts");
	if (max > 0)
		set_fmt(c, "expected", "%ld to %ld", min, max);
	else
		set_fmt(c, "expected", "at least %ld", min);
	set_fmt(c, "actual", "%zu", g->n);
	check_verdict(c, (long)g->n < min || (max > 0 && (long)g->n > max) ? V_FAIL : V_PASS);
	add_attempts(c, g);
	return c;
}

static json_t *check_retried(const struct grade *g)
{
	const char *outcome = str_of(g->expect, "outcome");
	json_t *c;

	if (outcome == NULL || strcmp(outcome, "delivered-once-after-retry") != 0)
		return NULL;
	c = check_new("retried", "retried after the failure");
	set_fmt(c, "expected", "at least 2 attempts");
	set_fmt(c, "actual", "%zu", g->n);
	check_verdict(c, g->n >= 2 ? V_PASS : V_FAIL);
	add_attempts(c, g);
	return c;
}

static enum verdict gap_verdict(double gap, double min_gap)
{
	if (gap < TIGHT_LOOP)
		return V_FAIL;
	return gap < min_gap - GAP_SLACK ? V_WARN : V_PASS;
}

/* Runs one of the gap checks with the retry gaps in hand. */
static json_t *with_gaps(const struct grade *g, json_t *(*fn)(const struct grade *, const double *,
                                                              const size_t *, size_t))
{
	double *gap = malloc((g->n + 1) * sizeof *gap);
	size_t *to = malloc((g->n + 1) * sizeof *to);
	json_t *c = NULL;

	if (gap != NULL && to != NULL)
		c = fn(g, gap, to, retry_gaps(g, gap, to));
	free(gap);
	free(to);
	return c;
}

static json_t *min_gap_of(const struct grade *g, const double *gap, const size_t *to, size_t n)
{
	double min_gap = num_of(g->expect, "min_gap");
	enum verdict worst = V_PASS;
	char buf[512];
	json_t *c = check_new("min-gap", "minimum gap between attempts");

	set_fmt(c, "expected", "every gap >= %.2f s", min_gap);
	format_gaps(buf, sizeof buf, gap, n);
	set_fmt(c, "actual", "%s", buf);
	add_attempts(c, g);
	for (size_t k = 0; k < n; k++) {
		enum verdict v = gap_verdict(gap[k], min_gap);
		if (v > worst)
			worst = v;
		if (v != V_PASS)
			add_line(c, "attempt %zu came %.2f s after attempt %zu: %s", to[k] + 1,
			         gap[k], to[k],
			         v == V_FAIL ? "a retry loop with no pause" : "retries too fast");
	}
	check_verdict(c, n == 0 ? V_INFO : worst);
	return c;
}

static json_t *check_min_gap(const struct grade *g)
{
	return num_of(g->expect, "min_gap") > 0 ? with_gaps(g, min_gap_of) : NULL;
}

/* 1 growing, 0 constant, -1 shrinking. */
static int gap_trend(const double *gap, size_t n)
{
	for (size_t k = 1; k < n; k++)
		if (gap[k] < gap[k - 1] * (1.0 - BACKOFF_SLACK))
			return -1;
	return gap[n - 1] > gap[0] * (1.0 + BACKOFF_SLACK) ? 1 : 0;
}

static json_t *backoff_of(const struct grade *g, const double *gap, const size_t *to, size_t n)
{
	static const char *const trends[] = {"shrinking", "constant", "growing"};
	const char *want = str_of(g->expect, "backoff");
	json_t *c = check_new("backoff", "backoff between attempts");
	char buf[512];
	int trend;

	(void)to;
	format_gaps(buf, sizeof buf, gap, n);
	add_attempts(c, g);
	if (strcmp(want, "growing") == 0)
		set_fmt(c, "expected",
		        "growing gaps (each >= 90%% of the one before, the last "
		        "> 110%% of the first)");
	else
		set_fmt(c, "expected", "constant or growing gaps");
	if (n < 2) {
		set_fmt(c, "actual", "%s: too few gaps to compare", buf);
		return c;
	}
	trend = gap_trend(gap, n);
	set_fmt(c, "actual", "%s (%s)", trends[trend + 1], buf);
	if (strcmp(want, "growing") == 0)
		check_verdict(c, trend > 0 ? V_PASS : V_WARN);
	else
		check_verdict(c, trend >= 0 ? V_PASS : V_WARN);
	if (trend == 0 && strcmp(want, "growing") == 0)
		add_line(c, "retries with no backoff: the gaps do not grow");
	if (trend < 0)
		add_line(c, "the gaps shrink: the client retries faster after each failure");
	return c;
}

static json_t *check_backoff(const struct grade *g)
{
	const char *want = str_of(g->expect, "backoff");

	if (want == NULL || (strcmp(want, "growing") != 0 && strcmp(want, "constant") != 0))
		return NULL;
	return with_gaps(g, backoff_of);
}

static json_t *check_retry_after(const struct grade *g)
{
	double ra = num_of(g->kase, "retry_after");
	enum verdict v = V_INFO;
	json_t *c;

	if (ra <= 0)
		return NULL;
	c = check_new("retry-after", "Retry-After honoured");
	set_fmt(c, "expected", "the next attempt >= %.2f s after a 429", ra);
	set_fmt(c, "actual", "no 429 followed by another attempt");
	add_attempts(c, g);
	for (size_t i = 0; i + 1 < g->n; i++) {
		double gap = g->a[i + 1].t - g->a[i].t;
		if (g->a[i].code != 429)
			continue;
		if (v != V_FAIL)
			set_fmt(c, "actual", "%.2f s after the 429 of attempt %zu", gap, i + 1);
		if (gap < ra - GAP_SLACK) {
			v = V_FAIL;
			add_line(c, "attempt %zu came %.2f s after the 429, before Retry-After: %g",
			         i + 2, gap, ra);
		} else if (v == V_INFO) {
			v = V_PASS;
		}
	}
	check_verdict(c, v);
	return c;
}

static json_t *gives_up_true(const struct grade *g, json_t *c)
{
	size_t i;

	set_fmt(c, "expected", "no attempt after the first permanent failure");
	for (i = 0; i < g->n && !permanent_failure(g, &g->a[i]); i++)
		;
	if (i == g->n) {
		set_fmt(c, "actual", "no permanent failure seen");
		return c;
	}
	if (i + 1 < g->n) {
		set_fmt(c, "actual", "%zu more attempt(s) after the %d of attempt %zu",
		        g->n - i - 1, g->a[i].code, i + 1);
		check_verdict(c, V_FAIL);
	} else {
		set_fmt(c, "actual", "stopped after the %d of attempt %zu", g->a[i].code, i + 1);
		check_verdict(c, V_PASS);
	}
	return c;
}

static json_t *gives_up_false(const struct grade *g, json_t *c)
{
	const struct attempt *last = g->n ? &g->a[g->n - 1] : NULL;
	int timed_out = json_is_true(json_object_get(json_object_get(g->ev, "run"), "timed_out"));

	set_fmt(c, "expected", "keeps trying after a temporary failure until accepted");
	for (size_t i = 0; i < g->n; i++)
		if (g->a[i].accepted) {
			set_fmt(c, "actual", "accepted at attempt %zu", i + 1);
			check_verdict(c, V_PASS);
			return c;
		}
	if (last == NULL) {
		set_fmt(c, "actual", "no attempt");
	} else if (timed_out) {
		set_fmt(c, "actual", "still trying when the budget ran out");
		check_verdict(c, V_PASS);
	} else if (failed_transiently(g, last)) {
		set_fmt(c, "actual", "stopped after the temporary failure of attempt %zu (%s)",
		        g->n, last->outcome);
		check_verdict(c, V_FAIL);
	} else {
		set_fmt(c, "actual", "last attempt %s", last->outcome);
		check_verdict(c, V_PASS);
	}
	return c;
}

static json_t *check_gives_up(const struct grade *g)
{
	const json_t *x = json_object_get(g->expect, "gives_up");
	json_t *c;

	if (!json_is_boolean(x))
		return NULL;
	c = check_new("gives-up", json_is_true(x) ? "gives up on a permanent failure"
	                                          : "keeps trying after a temporary failure");
	add_attempts(c, g);
	return json_is_true(x) ? gives_up_true(g, c) : gives_up_false(g, c);
}

/* 421 replies and the commands sent after them on the same connection. */
static void scan_421(const json_t *tr, json_t *c, size_t *n421, size_t *after)
{
	const json_t *l;
	size_t i;
	int seen = 0;

	json_array_foreach(json_object_get(tr, "lines"), i, l)
	{
		const char *dir = str_of(l, "dir"), *text = str_of(l, "line");
		int cont = 0;

		if (dir == NULL || text == NULL)
			continue;
		if (strcmp(dir, "out") == 0 && transcript_reply_code(text, &cont) == 421 && !cont)
			seen = 1, ++*n421;
		else if (seen && strcmp(dir, "in") == 0 &&
		         strcmp(transcript_command_stage(text), "quit") != 0) {
			++*after;
			add_line(c, "connection %lld: %.40s after the 421",
			         json_integer_value(json_object_get(tr, "connection")), text);
		}
	}
}

static json_t *check_reconnect_421(const struct grade *g)
{
	const json_t *tr;
	size_t i, n421 = 0, after = 0;
	json_t *c;

	if (g->https)
		return NULL;
	c = check_new("reconnect-after-421", "closes and reconnects after 421");
	set_fmt(c, "expected", "no command but QUIT after a 421 on its connection");
	json_array_foreach(json_object_get(json_object_get(g->ev, "edsim"), "transcripts"), i, tr)
	{
		scan_421(tr, c, &n421, &after);
	}
	add_attempts(c, g);
	if (n421 == 0)
		set_fmt(c, "actual", "no 421 seen");
	else
		set_fmt(c, "actual", "%zu command(s) after %zu 421 repl%s", after, n421,
		        n421 == 1 ? "y" : "ies");
	check_verdict(c, n421 == 0 ? V_INFO : after ? V_FAIL : V_PASS);
	return c;
}

/* AUTH commands sent before TLS on their connection. */
static size_t auth_in_clear(const struct grade *g, json_t *c)
{
	const json_t *tr, *l;
	size_t i, k, n = 0;

	json_array_foreach(json_object_get(json_object_get(g->ev, "edsim"), "transcripts"), i, tr)
	{
		int tls = 0;
		json_array_foreach(json_object_get(tr, "lines"), k, l)
		{
			const char *dir = str_of(l, "dir"), *text = str_of(l, "line");
			if (dir == NULL || text == NULL)
				continue;
			if (strcmp(dir, "note") == 0 && strncmp(text, "TLS established", 15) == 0)
				tls = 1;
			if (!tls && strcmp(dir, "in") == 0 && strncasecmp(text, "AUTH ", 5) == 0) {
				n++;
				add_line(c, "connection %lld: AUTH %.*s sent before TLS",
				         json_integer_value(json_object_get(tr, "connection")),
				         (int)strcspn(text + 5, " "), text + 5);
			}
		}
	}
	return n;
}

static json_t *check_tls(const struct grade *g)
{
	size_t clear = 0, used = 0, sent = 0;
	json_t *c;

	if (g->https)
		return NULL;
	c = check_new("tls", "TLS used, no AUTH in clear");
	set_fmt(c, "expected", "STARTTLS or implicit TLS on every attempt, AUTH only under TLS");
	clear = auth_in_clear(g, c);
	for (size_t i = 0; i < g->n; i++)
		if (g->a[i].commands > 0)
			sent++, used += g->a[i].tls != 0;
	add_attempts(c, g);
	set_fmt(c, "actual", "%zu of %zu attempt(s) with TLS, %zu AUTH in clear", used, sent,
	        clear);
	check_verdict(c, clear ? V_FAIL : !sent ? V_INFO : used < sent ? V_WARN : V_PASS);
	return c;
}

/* Whether the output names the code as a number of its own. */
static int output_names(const char *out, long code)
{
	char digits[16];
	size_t n = (size_t)snprintf(digits, sizeof digits, "%ld", code);

	for (const char *p = out; (p = strstr(p, digits)) != NULL; p++)
		if ((p == out || !isdigit((unsigned char)p[-1])) && !isdigit((unsigned char)p[n]))
			return 1;
	return 0;
}

/* HTTPS: the error code of the last refusal ("SignatureDoesNotMatch"), which
 * names the failure as well as its status does; NULL for SMTP. */
static const char *error_code_of(const struct grade *g)
{
	for (size_t i = g->n; g->https && i > 0; i--)
		if (g->a[i - 1].code >= 400 && g->a[i - 1].text != NULL && g->a[i - 1].text[0])
			return g->a[i - 1].text;
	return NULL;
}

static int names_error_code(const char *out, const char *code)
{
	size_t n = code ? strlen(code) : 0;

	for (const char *p = out; n > 0 && (p = strstr(p, code)) != NULL; p++)
		if ((p == out || !isalnum((unsigned char)p[-1])) && !isalnum((unsigned char)p[n]))
			return 1;
	return 0;
}

static json_t *check_report(const struct grade *g)
{
	const json_t *rep = json_object_get(g->expect, "report"),
	             *failure = json_object_get(rep, "failure");
	const json_t *cr = json_object_get(g->ev, "client_result");
	const char *kind = str_of(json_object_get(g->ev, "client"), "kind"),
	           *out = str_of(cr, "output");
	long code = (long)num_of(rep, "code"), status = (long)num_of(cr, "exit_code");
	long sig = (long)num_of(cr, "signal");
	const char *error = error_code_of(g);
	int named =
	    code > 0 && out != NULL && (output_names(out, code) || names_error_code(out, error));
	json_t *c;

	if (!json_is_boolean(failure))
		return NULL;
	c = check_new("report", "exit status and output report the result");
	if (json_is_true(failure) && code > 0 && error != NULL)
		set_fmt(c, "expected", "exit status non-zero, output naming %ld or %s", code,
		        error);
	else if (json_is_true(failure) && code > 0)
		set_fmt(c, "expected", "exit status non-zero, output naming %ld", code);
	else
		set_fmt(c, "expected",
		        json_is_true(failure) ? "exit status non-zero" : "exit status 0");
	if (sig != 0)
		set_fmt(c, "actual", "killed by signal %ld", sig);
	else
		set_fmt(c, "actual", "exit %ld%s", status,
		        code <= 0 ? ""
		        : named   ? ", output names the code"
		                  : ", code not in output");
	if (kind != NULL && strcmp(kind, "mta") == 0) {
		set_fmt(c, "actual", "an MTA reports by bounce, not exit status");
		return c;
	}
	if (json_is_true(json_object_get(json_object_get(g->ev, "run"), "timed_out"))) {
		set_fmt(c, "actual", "no exit status: still running when the budget ran out");
		check_verdict(c, V_FAIL);
	} else if (json_is_true(failure)) {
		check_verdict(c, status == 0 && sig == 0 ? V_FAIL
		                 : code <= 0 || named    ? V_PASS
		                                         : V_WARN);
		if (status == 0 && sig == 0)
			add_line(c, "the client reported success");
	} else {
		check_verdict(c, status == 0 && sig == 0 ? V_PASS : V_FAIL);
	}
	return c;
}

static json_t *check_budget(const struct grade *g)
{
	const json_t *run = json_object_get(g->ev, "run");
	const char *kind = str_of(json_object_get(g->ev, "client"), "kind");
	double budget = num_of(run, "budget"), took = num_of(run, "ended") - num_of(run, "started");
	json_t *c = check_new("budget", "finished within the time budget");
	int supp;

	set_fmt(c, "expected", "finished within %.0f s", budget);
	if (!json_is_true(json_object_get(run, "timed_out"))) {
		set_fmt(c, "actual", "finished after %.2f s", took);
		return c;
	}
	set_fmt(c, "actual", "still running after %.2f s", took);
	if (is_delivery(str_of(g->expect, "outcome"))) {
		int mta = kind != NULL && strcmp(kind, "mta") == 0;
		if (!mta || count_stored(g, NULL, &supp) != 1)
			check_verdict(c, V_FAIL);
	}
	add_attempts(c, g);
	return c;
}

/* ---- the case's condition ---- */

/* Whether text fits a catalog template: its literal pieces (between
 * {placeholders}) appear in order, the first at the start. */
static int fits_template(const char *tmpl, const char *text)
{
	const char *p = text;
	int first = 1;

	while (*tmpl != '\0') {
		size_t n = strcspn(tmpl, "{");
		const char *hit = n ? memmem(p, strlen(p), tmpl, n) : p;
		if (hit == NULL || (first && hit != p))
			return 0;
		p = hit + n;
		first = 0;
		tmpl += n;
		if (*tmpl == '{')
			tmpl += strcspn(tmpl, "}") + (strchr(tmpl, '}') ? 1 : 0);
	}
	return 1;
}

/* The exercised catalog row a reply of the attempt carries, or NULL. */
static const char *row_met(const struct grade *g, const struct attempt *a)
{
	const json_t *row, *reply;
	size_t i, k;

	json_array_foreach(a->replies, k, reply)
	{
		json_array_foreach(json_object_get(g->kase, "catalog_rows"), i, row)
		{
			const char *tmpl = str_of(row, "template"), *text = str_of(reply, "text");
			if ((int)num_of(row, "code") == (int)num_of(reply, "code") && tmpl &&
			    text && fits_template(tmpl, text))
				return str_of(row, "id");
		}
	}
	return NULL;
}

/* A relay rule that answered for the client's message. */
static const json_t *relay_rule_event(const struct grade *g)
{
	const json_t *e;
	size_t i;

	json_array_foreach(json_object_get(json_object_get(g->ev, "edsim"), "events"), i, e)
	{
		const char *stage = str_of(e, "stage");
		if (stage != NULL && strcmp(stage, "relay") == 0 && str_of(e, "rule") != NULL)
			return e;
	}
	return NULL;
}

/* What the case makes a client meet, for the evidence. */
static void describe_condition(const struct grade *g, char *buf, size_t len)
{
	const json_t *row;
	size_t i, used = 0;

	buf[0] = '\0';
	json_array_foreach(json_object_get(g->kase, "catalog_rows"), i, row)
	{
		if (used + 8 < len)
			used +=
			    (size_t)snprintf(buf + used, len - used, "%s\"%s\"", used ? " or " : "",
			                     or_unknown(str_of(row, "reply")));
	}
	if (num_of(g->kase, "rules") > 0 && used + 8 < len)
		snprintf(buf + used, len - used, "%sa rule of the scenario acting",
		         used ? " or " : "");
}

/* exercised: the case's condition reached the client. NULL when the case
 * has nothing to meet (no catalog row, no rule). *met: whether it did;
 * what: the condition, in words. */
static json_t *check_exercised(const struct grade *g, int *met, char *what, size_t len)
{
	size_t nrows = json_array_size(json_object_get(g->kase, "catalog_rows"));
	const json_t *relay = relay_rule_event(g);
	json_t *c;

	*met = 1;
	if (nrows == 0 && num_of(g->kase, "rules") <= 0)
		return NULL;
	c = check_new("exercised", "the client met the case's condition");
	describe_condition(g, what, len);
	set_fmt(c, "expected", "an attempt meets %s", what);
	*met = 0;
	for (size_t i = 0; i < g->n && !*met; i++) {
		const char *row = row_met(g, &g->a[i]);
		if (row != NULL || g->a[i].rule_acted) {
			*met = 1;
			set_fmt(c, "actual", "attempt %zu met %s", i + 1,
			        row ? row : "a rule of the scenario");
		}
	}
	if (!*met && relay != NULL) {
		*met = 1;
		set_fmt(c, "actual", "the relay met %s for the client's message",
		        or_unknown(str_of(relay, "rule")));
	}
	if (!*met)
		set_fmt(c, "actual", g->n ? "no attempt met it" : "no attempt");
	add_attempts(c, g);
	check_verdict(c, *met ? V_PASS : V_INFO);
	return c;
}

/* Whether check c grades something the client did on its own, whatever
 * the case's condition: an own check (own_check()), or the message stored
 * more than once. */
static int own_doing(const struct grade *g, const json_t *c)
{
	const char *id = str_of(c, "id");
	int supp;

	if (strcmp(id, "delivered-once") == 0)
		return count_stored(g, NULL, &supp) > 1;
	return own_check(id);
}

/* The case cannot be graded (why): nothing is praised, and only what the
 * client did on its own can still WARN or FAIL. */
static void ungrade(const struct grade *g, json_t *checks, const char *why)
{
	json_t *c;
	size_t i;

	json_array_foreach(checks, i, c)
	{
		enum verdict v = verdict_of(c);
		if (v < V_PASS)
			continue;
		if (v >= V_WARN && own_doing(g, c)) {
			add_line(c, "graded although %s: the client did this on its own", why);
			continue;
		}
		add_line(c, "not graded (was %s): %s", verdict_names[v], why);
		check_verdict(c, V_INFO);
	}
}

/* ---- a client stopped by the budget while it waited, as RFC 5321 lets it ---- */

/* RFC 5321 section 4.5.3.2: how long a client waits for the reply that a
 * stage's command gets (5 minutes where it names none), and the command. */
struct rfc_wait {
	const char *stage, *command;
	double seconds;
};

static struct rfc_wait rfc5321_wait(const char *stage)
{
	static const struct rfc_wait waits[] = {{"greeting", "the greeting", 300},
	                                        {"ehlo", "EHLO", 300},
	                                        {"starttls", "STARTTLS", 300},
	                                        {"auth", "AUTH", 300},
	                                        {"mail", "MAIL FROM", 300},
	                                        {"rcpt", "RCPT TO", 300},
	                                        {"data", "DATA", 120},
	                                        {"data-end", "the end of the data", 600}};

	for (size_t i = 0; i < sizeof waits / sizeof waits[0]; i++)
		if (strcmp(stage, waits[i].stage) == 0)
			return waits[i];
	return (struct rfc_wait){stage, "a command", 300};
}

/* When the budget stopped the client while its last attempt still waited
 * for a reply, for less time than RFC 5321 gives it, and nothing was
 * accepted: what it does next cannot be known. Marks that attempt and
 * says why; 0 otherwise. */
static int waiting_within_rfc(struct grade *g, char *why, size_t len)
{
	const json_t *run = json_object_get(g->ev, "run");
	double budget = num_of(run, "budget"), waited;
	struct attempt *last = g->n ? &g->a[g->n - 1] : NULL;
	struct rfc_wait limit;

	if (!json_is_true(json_object_get(run, "timed_out")) || last == NULL || !last->waiting ||
	    last->pending_stage == NULL)
		return 0;
	for (size_t i = 0; i < g->n; i++)
		if (g->a[i].accepted)
			return 0;
	waited = budget - last->pending_t;
	limit = rfc5321_wait(last->pending_stage);
	if (waited >= limit.seconds)
		return 0;
	last->cut = 1;
	snprintf(why, len,
	         "still waiting for the reply to %s after %.0f s (RFC 5321 allows %.0f min) when "
	         "the %.0f s budget ran out; a longer --budget shows what the client does next",
	         limit.command, waited, limit.seconds / 60, budget);
	return 1;
}

/* auth-fallback: another AUTH mechanism tried on the same session after a
 * refused AUTH (smtplib's login() does it). After a 535 it WARNs: every
 * refusal counts toward the service's auth-failure limit. */
static json_t *check_auth_fallback(const struct grade *g)
{
	enum verdict worst = V_INFO;
	size_t seen = 0;
	json_t *c;

	if (g->https)
		return NULL;
	c = check_new("auth-fallback", "one AUTH mechanism per attempt");
	set_fmt(c, "expected", "no other mechanism tried after 535 on the same session");
	for (size_t i = 0; i < g->n; i++) {
		const struct attempt *a = &g->a[i];
		if (a->fallbacks == 0)
			continue;
		seen++;
		add_line(c, "attempt %zu (connection %ld): AUTH %s, %d more mechanism(s) after %d",
		         i + 1, a->connection, a->mechs, a->fallbacks, a->fallback_code);
		if (a->fallback_code == 535)
			worst = V_WARN;
	}
	if (seen == 0) {
		json_decref(c);
		return NULL;
	}
	set_fmt(c, "actual", "%zu attempt(s) fell back to another mechanism", seen);
	if (worst == V_WARN)
		add_line(c,
		         "each refused AUTH counts toward the per-IP auth-failure limit "
		         "(limits.auth_failures_per_ip): a fallback after 535 spends two of them "
		         "per message, so \"421 Too many auth failures\" comes twice as soon");
	else
		add_line(c, "the fallback followed a refusal that is not an auth failure (not "
		            "535): it costs nothing toward the auth-failure limit");
	check_verdict(c, worst);
	return c;
}

/* ---- the result ---- */

static const char *fallback_remedy(const char *id)
{
	static const char *const remedies[][2] = {
	    {"delivered-once",
	     "Keep the message until the service accepts it; resend it, with the "
	     "same Message-ID, only after a failure reply or a broken connection."},
	    {"not-delivered", "Do not resend a message the service refused permanently; fix the "
	                      "cause the reply names first."},
	    {"suppressed", "Treat a suppression reply as accepted: do not resend, and stop mailing "
	                   "the recipient until the suppression is lifted."},
	    {"attempts", "Retry temporary failures a bounded number of times; stop at once on a "
	                 "permanent one."},
	    {"retried", "Treat 4xx replies, HTTP 429/5xx and broken connections as temporary: keep "
	                "the message and try again later."},
	    {"min-gap",
	     "Wait before retrying: at least the minimum gap, longer after each failure."},
	    {"backoff",
	     "Use exponential backoff with jitter: each wait longer than the one before."},
	    {"retry-after", "Honour Retry-After: do not retry before the time it names."},
	    {"gives-up", "Stop after a permanent failure (SMTP 5xx, HTTP 4xx but 409/429); keep "
	                 "retrying after a temporary one."},
	    {"reconnect-after-421", "A 421 closes the session: close the connection and reconnect "
	                            "later instead of sending more commands."},
	    {"tls",
	     "Use STARTTLS (or the implicit-TLS port) before AUTH; never send credentials in "
	     "clear."},
	    {"report", "Exit non-zero when the message could not be sent and print the server's "
	               "reply code; exit 0 only on success."},
	    {"budget", "Bound every wait (RFC 5321 timeouts) and the total retry time."},
	    {"auth-fallback",
	     "After 535 the credentials are wrong, not the mechanism: do not try them again "
	     "with another mechanism; stop and report. Fall back to another mechanism only "
	     "after 504. (Python's smtplib login() tries every advertised mechanism: call "
	     "auth() with one mechanism instead.)"},
	};

	for (size_t i = 0; i < sizeof remedies / sizeof remedies[0]; i++)
		if (strcmp(id, remedies[i][0]) == 0)
			return remedies[i][1];
	return NULL;
}

/* The catalog rows' remedies, distinct ones joined by a space; NULL: none. */
static json_t *catalog_remedy(const json_t *kase)
{
	const json_t *row;
	json_t *out = NULL;
	size_t i;

	json_array_foreach(json_object_get(kase, "catalog_rows"), i, row)
	{
		const char *r = str_of(row, "remedy"), *have = out ? json_string_value(out) : NULL;
		json_t *joined;
		if (r == NULL || *r == '\0' || (have != NULL && strstr(have, r) != NULL))
			continue;
		joined = have ? json_sprintf("%s %s", have, r) : json_string(r);
		json_decref(out);
		out = joined;
	}
	return out;
}

/* strict, then the remedy; returns the worst verdict. */
static enum verdict finish_checks(json_t *checks, const json_t *kase, int strict)
{
	json_t *remedy = catalog_remedy(kase), *c;
	enum verdict worst = V_SKIPPED;
	size_t i;

	json_array_foreach(checks, i, c)
	{
		enum verdict v = verdict_of(c);
		const char *id = str_of(c, "id");
		int own = own_check(id);
		if (strict && v == V_WARN) {
			check_verdict(c, v = V_FAIL);
			add_line(c, "strict: WARN counts as FAIL");
		}
		if (v >= V_WARN)
			json_object_set_new(c, "remedy",
			                    remedy && !own ? json_incref(remedy)
			                                   : json_string(fallback_remedy(id)));
		if (v > worst)
			worst = v;
	}
	json_decref(remedy);
	return worst == V_SKIPPED ? V_INFO : worst;
}

static json_t *output_excerpt(const char *out)
{
	const char *p;
	size_t n = 0;
	json_t *s;

	if (out == NULL)
		return json_string("");
	p = out + strlen(out);
	if (p > out && p[-1] == '\n')
		p--;
	while (p > out && !(p[-1] == '\n' && ++n == OUTPUT_LINES))
		p--;
	s = json_string(p);
	return s ? s : json_string("");
}

static json_t *row_ids(const json_t *kase)
{
	const json_t *row;
	json_t *ids = json_array();
	size_t i;

	json_array_foreach(json_object_get(kase, "catalog_rows"), i, row)
	{
		const char *id = json_is_string(row) ? json_string_value(row) : str_of(row, "id");
		if (id != NULL)
			json_array_append_new(ids, json_string(id));
	}
	return ids;
}

static json_t *result_new(const json_t *kase, const char *client)
{
	const char *id = str_of(kase, "id"), *title = str_of(kase, "title");
	const char *protocol = str_of(kase, "protocol");

	return json_pack("{s:s, s:s, s:s, s:o, s:s, s:s, s:n, s:f, s:[], s:[], s:n, s:[]}", "case",
	                 id ? id : "", "client", client ? client : "", "title",
	                 title ? title : (id ? id : ""), "catalog_rows", row_ids(kase), "protocol",
	                 protocol ? protocol : "smtp", "verdict", "INFO", "reason", "duration", 0.0,
	                 "attempts", "checks", "client_result", "transcript_excerpt");
}

static void fill_result(struct grade *g, json_t *res, int strict)
{
	static json_t *(*const checks[])(const struct grade *) = {
	    check_outcome,       check_attempts,    check_retried,  check_min_gap,
	    check_backoff,       check_retry_after, check_gives_up, check_auth_fallback,
	    check_reconnect_421, check_tls,         check_report,   check_budget,
	};
	const json_t *run = json_object_get(g->ev, "run"),
	             *cr = json_object_get(g->ev, "client_result");
	json_t *list = json_object_get(res, "checks"), *attempts = json_object_get(res, "attempts");
	json_t *exercised;
	char what[1024], why[512];
	int met, unfinished = waiting_within_rfc(g, why, sizeof why);

	for (size_t i = 0; i < g->n; i++)
		json_array_append_new(attempts,
		                      attempt_json(&g->a[i], i, num_of(g->kase, "retry_after")));
	for (size_t i = 0; i < sizeof checks / sizeof checks[0]; i++) {
		json_t *c = checks[i](g);
		if (c != NULL)
			json_array_append_new(list, c);
	}
	exercised = check_exercised(g, &met, what, sizeof what);
	if (exercised != NULL)
		json_array_insert_new(list, 0, exercised);
	if (!met && g->n > 0) {
		ungrade(g, list, "the client never met the case's condition");
		json_object_set_new(res, "reason",
		                    json_sprintf("condition not exercised: the client's %zu "
		                                 "attempt(s) never met %s",
		                                 g->n, what));
	} else if (unfinished) {
		ungrade(g, list, why);
		json_object_set_new(res, "reason", json_string(why));
	}
	json_object_set_new(res, "verdict",
	                    json_string(verdict_names[finish_checks(list, g->kase, strict)]));
	json_object_set_new(res, "duration",
	                    json_real(ms(fmax(0, num_of(run, "ended") - num_of(run, "started")))));
	json_object_set_new(res, "client_result",
	                    json_pack("{s:I, s:I, s:b, s:o}", "exit_code",
	                              json_integer_value(json_object_get(cr, "exit_code")),
	                              "signal", json_integer_value(json_object_get(cr, "signal")),
	                              "timed_out", json_is_true(json_object_get(run, "timed_out")),
	                              "output_excerpt", output_excerpt(str_of(cr, "output"))));
	json_object_set_new(res, "transcript_excerpt", attempts_excerpt(g->a, g->n, g->origin));
}

/* A client that acted only in the other protocol did not take part: the
 * result becomes SKIPPED with that reason (1), else 0. */
static int other_protocol_only(const struct grade *g, json_t *res)
{
	struct attempt *other = NULL;
	size_t n = 0;

	if (attempts_collect(g->ev, g->origin, !g->https, &other, &n) < 0 || n == 0) {
		attempts_free(other, n);
		return 0;
	}
	attempts_free(other, n);
	json_object_set_new(res, "verdict", json_string("SKIPPED"));
	json_object_set_new(
	    res, "reason",
	    json_sprintf("the client acted only over %s (%zu attempt(s)); this is an %s case",
	                 g->https ? "SMTP" : "the HTTPS API", n, g->https ? "HTTPS" : "SMTP"));
	return 1;
}

json_t *grade_case(const json_t *evidence, int strict)
{
	struct grade g = {.ev = evidence};
	const char *protocol;
	json_t *res;

	g.kase = json_object_get(evidence, "case");
	g.expect = json_object_get(g.kase, "expect");
	protocol = str_of(g.kase, "protocol");
	g.https = protocol != NULL && strcmp(protocol, "https") == 0;
	g.origin = attempts_origin(evidence);
	res = result_new(g.kase, str_of(json_object_get(evidence, "client"), "name"));
	if (res != NULL && attempts_collect(evidence, g.origin, g.https, &g.a, &g.n) == 0) {
		if (g.n > 0 || !other_protocol_only(&g, res))
			fill_result(&g, res, strict);
	} else {
		json_decref(res);
		res = NULL;
	}
	attempts_free(g.a, g.n);
	return res;
}

json_t *grade_skipped(const json_t *case_info, const char *client, const char *reason)
{
	json_t *res = result_new(case_info, client);

	if (res == NULL)
		return NULL;
	json_object_set_new(res, "verdict", json_string("SKIPPED"));
	json_object_set_new(res, "reason", json_string(reason ? reason : "skipped"));
	return res;
}

int grade_rank(const char *verdict)
{
	for (int i = 0;
	     verdict != NULL && i < (int)(sizeof verdict_names / sizeof verdict_names[0]); i++)
		if (strcmp(verdict, verdict_names[i]) == 0)
			return i;
	return -1;
}
