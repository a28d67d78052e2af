/*
 * scenario.c - loading and checking scenario files.
 *
 * Every key is checked against what its place allows, every catalog id
 * against the catalog, every duration and number against its syntax; all
 * problems are reported, each with its line and column, and a scenario with
 * any problem is refused whole.
 */
#include "scenario.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "util.h"
#include "xmalloc.h"
#include "ydoc.h"

/* The scenario text being loaded, for cutting out settings fragments. */
struct source {
	const char *text;
	size_t len;
};

/* The YAML of node n as a document of its own: the node's text, indented
 * as it stands in the file so that a block mapping parses alone. */
static char *fragment(const struct source *src, const yaml_node_t *n)
{
	size_t start = n->start_mark.index, end = n->end_mark.index, col = n->start_mark.column;
	char *out;

	if (end > src->len || start > end)
		return NULL;
	out = malloc(col + end - start + 2);
	if (out == NULL)
		return NULL;
	memset(out, ' ', col);
	memcpy(out + col, src->text + start, end - start);
	out[col + end - start] = '\n';
	out[col + end - start + 1] = '\0';
	return out;
}

/* Checks settings against the configuration's own rules, on a scratch copy
 * of the defaults, so that errors point into the scenario file. */
static int check_settings(struct ydoc *d, yaml_node_t *n, const char *what)
{
	struct config scratch;
	char *errors = NULL;
	int rc;

	if (config_load(&scratch, NULL, &errors) < 0) {
		free(errors);
		return ydoc_error(d, n, "%s: the default configuration does not load", what);
	}
	rc = config_overlay_node(&scratch, d, n, what);
	config_free(&scratch);
	return rc;
}

static int load_settings(struct ydoc *d, yaml_node_t *n, const struct source *src, const char *what,
                         char **out)
{
	if (check_settings(d, n, what) < 0)
		return -1;
	*out = fragment(src, n);
	return *out ? 0 : ydoc_error(d, n, "%s: cannot keep this text", what);
}

static const char *const stage_names[STAGE_COUNT] = {
    "connect",  "ehlo", "starttls", "auth", "mail",    "rcpt",   "data",       "data-body",
    "data-end", "rset", "quit",     "idle", "request", "submit", "submit-raw", "relay"};

static int https_stage(enum scenario_stage st)
{
	return st == STAGE_REQUEST || st == STAGE_SUBMIT || st == STAGE_SUBMIT_RAW;
}

static const char *const outcomes[] = {"delivered-once", "delivered-once-after-retry",
                                       "not-delivered", "suppressed", NULL};

const char *scenario_stage_name(enum scenario_stage stage)
{
	return stage < STAGE_COUNT ? stage_names[stage] : "?";
}

static int in_list(const char *s, const char *const *list)
{
	for (; s != NULL && *list != NULL; list++)
		if (strcmp(s, *list) == 0)
			return 1;
	return 0;
}

static int load_stage(struct ydoc *d, yaml_node_t *when, enum scenario_stage *out)
{
	yaml_node_t *n = ydoc_get(d, when, "stage");
	const char *s = ydoc_scalar(n);

	*out = STAGE_COUNT; /* unknown: stage-specific checks are skipped */
	if (n == NULL)
		return ydoc_error(
		    d, when,
		    "when: missing 'stage' (connect, ehlo, starttls, auth, mail, "
		    "rcpt, data, data-body, data-end, rset, quit, idle, request, submit, "
		    "submit-raw or relay)");
	for (int i = 0; i < STAGE_COUNT; i++)
		if (s != NULL && strcmp(s, stage_names[i]) == 0) {
			*out = (enum scenario_stage)i;
			return 0;
		}
	return ydoc_error(d, n,
	                  "unknown stage '%s': expected connect, ehlo, starttls, auth, mail, "
	                  "rcpt, data, data-body, data-end, rset, quit, idle, request, submit, "
	                  "submit-raw or relay",
	                  s ? s : "");
}

static int load_count(struct ydoc *d, yaml_node_t *map, const char *key, unsigned long long *out)
{
	yaml_node_t *n = ydoc_get(d, map, key);
	char what[32];

	if (n == NULL)
		return 0;
	snprintf(what, sizeof what, "when.%s", key);
	if (ydoc_uint(d, n, what, out) < 0)
		return -1;
	if (*out == 0)
		return ydoc_error(d, n, "%s: counts start at 1", what);
	return 0;
}

static int load_text(struct ydoc *d, yaml_node_t *map, const char *key, char **out)
{
	yaml_node_t *n = ydoc_get(d, map, key);

	return n ? ydoc_string(d, n, key, out) : 0;
}

static int load_probability(struct ydoc *d, yaml_node_t *when, double *out)
{
	yaml_node_t *n = ydoc_get(d, when, "probability");
	const char *s = ydoc_scalar(n);
	char *end;

	*out = 1.0;
	if (n == NULL)
		return 0;
	if (s != NULL)
		*out = strtod(s, &end);
	if (s == NULL || *s == '\0' || *end != '\0' || *out < 0.0 || *out > 1.0)
		return ydoc_error(d, n, "when.probability: expected a number from 0 to 1");
	return 0;
}

/* Which matchers make sense at which stage. */
static int check_matchers(struct ydoc *d, yaml_node_t *when, const struct rule_when *w)
{
	enum scenario_stage st = w->stage;
	int rc = 0;

	if (w->attempt && st != STAGE_DATA_END && st != STAGE_RELAY && !https_stage(st))
		rc = ydoc_error(d, ydoc_get(d, when, "attempt"),
		                "when.attempt: only at stage data-end, where the message is known "
		                "(by its Message-ID, else by its envelope), at the HTTPS stages "
		                "(by opc-request-id) and at stage relay (per recipient)");
	if (st == STAGE_RELAY && (w->connection || w->command || w->user || w->client_ip ||
	                          w->mechanism || ydoc_get(d, when, "offset") != NULL))
		rc = ydoc_error(d, when,
		                "when: at stage relay, match on sender, recipient, attempt, times "
		                "and probability");
	if ((w->method || w->path || w->nheaders) && !https_stage(st))
		rc = ydoc_error(d, when,
		                "when: method, path and header only at the HTTPS stages request, "
		                "submit and submit-raw");
	if (w->connection && https_stage(st))
		rc = ydoc_error(d, ydoc_get(d, when, "connection"),
		                "when.connection: not at the HTTPS stages; use attempt or times");
	int data = st == STAGE_DATA || st == STAGE_DATA_BODY || st == STAGE_DATA_END ||
	           st == STAGE_SUBMIT || st == STAGE_SUBMIT_RAW || st == STAGE_RELAY;

	if (w->sender && !(st == STAGE_MAIL || st == STAGE_RCPT || data))
		rc = ydoc_error(
		    d, ydoc_get(d, when, "sender"),
		    "when.sender: only at stages mail, rcpt, data, data-body, data-end, submit, "
		    "submit-raw and relay");
	if (w->recipient && !(st == STAGE_RCPT || data))
		rc = ydoc_error(
		    d, ydoc_get(d, when, "recipient"),
		    "when.recipient: only at stages rcpt, data, data-body, data-end, submit, "
		    "submit-raw and relay");
	if (ydoc_get(d, when, "offset") != NULL && st != STAGE_DATA_BODY)
		rc = ydoc_error(d, ydoc_get(d, when, "offset"),
		                "when.offset: only at stage data-body");
	if (w->mechanism && st != STAGE_AUTH)
		rc = ydoc_error(d, ydoc_get(d, when, "mechanism"),
		                "when.mechanism: only at stage auth");
	if (w->command && (st == STAGE_CONNECT || https_stage(st)))
		rc = ydoc_error(d, ydoc_get(d, when, "command"),
		                "when.command: not at stage connect or the HTTPS stages");
	return rc;
}

/* A mapping of strings (header name: value or glob) into two arrays. */
static int load_pairs(struct ydoc *d, yaml_node_t *n, const char *what, char ***names,
                      char ***values, size_t *count)
{
	size_t i = 0;
	int rc = 0;

	if (n == NULL)
		return 0;
	if (ydoc_expect_map(d, n, what) < 0)
		return -1;
	*count = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
	*names = xcalloc(*count, sizeof **names);
	*values = xcalloc(*count, sizeof **values);
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top;
	     p++, i++) {
		rc |= ydoc_string(d, yaml_document_get_node(&d->doc, p->key), what, &(*names)[i]);
		rc |=
		    ydoc_string(d, yaml_document_get_node(&d->doc, p->value), what, &(*values)[i]);
	}
	return rc;
}

static int load_when(struct ydoc *d, yaml_node_t *when, struct rule_when *w)
{
	static const char *const keys[] = {"stage",     "connection", "command",     "attempt",
	                                   "times",     "sender",     "recipient",   "user",
	                                   "client_ip", "mechanism",  "probability", "offset",
	                                   "method",    "path",       "header",      NULL};
	yaml_node_t *offset = ydoc_get(d, when, "offset");
	int rc = 0;

	if (ydoc_expect_map(d, when, "when") < 0)
		return -1;
	rc |= ydoc_check_keys(d, when, keys);
	rc |= load_stage(d, when, &w->stage);
	rc |= load_count(d, when, "connection", &w->connection);
	rc |= load_count(d, when, "command", &w->command);
	rc |= load_count(d, when, "attempt", &w->attempt);
	rc |= load_count(d, when, "times", &w->times);
	rc |= load_text(d, when, "sender", &w->sender);
	rc |= load_text(d, when, "recipient", &w->recipient);
	rc |= load_text(d, when, "user", &w->user);
	rc |= load_text(d, when, "client_ip", &w->client_ip);
	rc |= load_text(d, when, "mechanism", &w->mechanism);
	rc |= load_probability(d, when, &w->probability);
	if (offset != NULL)
		rc |= ydoc_uint(d, offset, "when.offset", &w->offset);
	rc |= load_text(d, when, "method", &w->method);
	rc |= load_text(d, when, "path", &w->path);
	rc |= load_pairs(d, ydoc_get(d, when, "header"), "when.header", &w->header_names,
	                 &w->header_globs, &w->nheaders);
	if (w->stage != STAGE_COUNT)
		rc |= check_matchers(d, when, w);
	return rc ? -1 : 0;
}

static int literal_line_valid(const char *line)
{
	return line[0] >= '2' && line[0] <= '5' && isdigit((unsigned char)line[1]) &&
	       isdigit((unsigned char)line[2]) && (line[3] == '\0' || line[3] == ' ');
}

/* reply: a catalog id, or literal reply lines ("451 4.3.0 Try again"). */
static int load_reply(struct ydoc *d, yaml_node_t *n, const struct catalog *cat, struct rule_do *a)
{
	const char *s = ydoc_scalar(n);
	char *copy, *line, *save = NULL;

	if (s == NULL || *s == '\0')
		return ydoc_error(d, n,
		                  "do.reply: expected a catalog id or a reply line such as "
		                  "\"451 4.3.0 Try again later\"");
	if (isalpha((unsigned char)s[0])) {
		a->reply_entry = catalog_find(cat, s);
		if (a->reply_entry == NULL)
			return ydoc_error(d, n, "do.reply: unknown catalog id '%s'", s);
		return 0;
	}
	copy = xstrdup(s);
	for (line = strtok_r(copy, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		size_t len = strlen(line);
		if (len > 0 && line[len - 1] == '\r')
			line[--len] = '\0';
		if (!literal_line_valid(line) || len > 512) {
			ydoc_error(
			    d, n,
			    "do.reply: '%s' is not a reply line: expected a code from 200 to "
			    "599, a space and text",
			    line);
			free(copy);
			return -1;
		}
		a->reply_lines =
		    xrealloc(a->reply_lines, (a->nreply_lines + 1) * sizeof *a->reply_lines);
		a->reply_lines[a->nreply_lines++] = xstrdup(line);
	}
	free(copy);
	if (a->nreply_lines == 0)
		return ydoc_error(d, n, "do.reply: no reply line");
	return 0;
}

static int load_flag(struct ydoc *d, yaml_node_t *map, const char *key, int *out)
{
	yaml_node_t *n = ydoc_get(d, map, key);
	char what[32];

	if (n == NULL)
		return 0;
	snprintf(what, sizeof what, "do.%s", key);
	return ydoc_bool(d, n, what, out);
}

/* HTTPS stages answer with HTTPS rows or status/code/message, SMTP stages
 * with SMTP rows or reply lines. */
static int check_protocol(struct ydoc *d, yaml_node_t *act, const struct rule_do *a,
                          enum scenario_stage st)
{
	yaml_node_t *reply = ydoc_get(d, act, "reply");
	int https = https_stage(st), rc = 0;

	if (a->reply_entry != NULL && a->reply_entry->protocol != (https ? CAT_HTTPS : CAT_SMTP))
		rc = ydoc_error(d, reply, "do.reply: '%s' is not an %s condition",
		                a->reply_entry->id, https ? "HTTPS" : "SMTP");
	if (https && a->nreply_lines > 0)
		rc = ydoc_error(d, reply,
		                "do.reply: at the HTTPS stages, a catalog id or status, "
		                "code and message");
	if (!https && (a->https_status || a->https_code || a->https_message || a->nheaders))
		rc = ydoc_error(d, act,
		                "do: status, code, message and headers only at the HTTPS stages");
	if (https && (a->https_status != 0) != (a->https_code != NULL && a->https_message != NULL))
		rc = ydoc_error(d, act, "do: give status, code and message together");
	if (https && a->https_status && a->reply_entry != NULL)
		rc =
		    ydoc_error(d, act, "do: a catalog reply or status, code and message, not both");
	if (https && (a->trickle || a->suppress || a->discard))
		rc = ydoc_error(d, act, "do: trickle, suppress and discard are SMTP actions");
	return rc;
}

/* At stage relay the one action is downstream: the next hop's answer. */
static int check_relay_actions(struct ydoc *d, yaml_node_t *act, const struct rule_do *a,
                               enum scenario_stage st)
{
	int has_downstream = a->downstream != NULL || a->downstream_drop;

	if (st == STAGE_RELAY && !has_downstream)
		return ydoc_error(d, act,
		                  "do: at stage relay, give downstream: a reply line such as "
		                  "\"550 5.1.1 User unknown\", or drop");
	if (st == STAGE_RELAY && ydoc_get(d, act, "downstream") != NULL &&
	    (act->data.mapping.pairs.top - act->data.mapping.pairs.start) > 1)
		return ydoc_error(d, act, "do: at stage relay, downstream is the only action");
	if (st != STAGE_RELAY && st != STAGE_COUNT && has_downstream)
		return ydoc_error(d, ydoc_get(d, act, "downstream"),
		                  "do.downstream: only at stage relay");
	return 0;
}

static int load_downstream(struct ydoc *d, yaml_node_t *n, struct rule_do *a)
{
	const char *s = ydoc_scalar(n);

	if (s != NULL && strcmp(s, "drop") == 0) {
		a->downstream_drop = 1;
		return 0;
	}
	if (s == NULL || strlen(s) > 512 || strchr(s, '\n') != NULL || !literal_line_valid(s))
		return ydoc_error(d, n,
		                  "do.downstream: expected one reply line such as \"451 4.7.1 Try "
		                  "again later\" (code 200 to 599), or drop");
	a->downstream = xstrdup(s);
	return 0;
}

/* Stages at which the user whose quotas count is known. */
static int quota_stage(enum scenario_stage st)
{
	return st == STAGE_MAIL || st == STAGE_RCPT || st == STAGE_DATA || st == STAGE_DATA_BODY ||
	       st == STAGE_DATA_END || st == STAGE_SUBMIT || st == STAGE_SUBMIT_RAW;
}

static int check_actions(struct ydoc *d, yaml_node_t *act, const struct rule_do *a,
                         enum scenario_stage st)
{
	int has_reply = a->reply_entry != NULL || a->nreply_lines > 0 || a->https_status != 0;
	int rc = 0;

	if (st == STAGE_RELAY || a->downstream != NULL || a->downstream_drop)
		return check_relay_actions(d, act, a, st);

	if (st != STAGE_COUNT && check_protocol(d, act, a, st) < 0)
		rc = -1;
	if (!has_reply && !a->drop && !a->close && !a->accept && !a->discard && !a->suppress &&
	    a->delay == 0 && a->set_text == NULL && !a->tls_fail && a->trickle == 0 &&
	    a->use_quota == 0)
		rc = ydoc_error(d, act,
		                "do: expected at least one action (reply, close, drop, delay, "
		                "accept, discard, suppress, set, use_quota or tls-fail)");
	if (a->drop && (has_reply || a->close))
		rc = ydoc_error(
		    d, act, "do: drop closes without a reply; it cannot go with reply or close");
	if (a->trickle && !has_reply)
		rc = ydoc_error(d, ydoc_get(d, act, "trickle"),
		                "do.trickle: slows a reply; give the reply too");
	if (a->tls_fail && (has_reply || a->drop))
		rc = ydoc_error(
		    d, ydoc_get(d, act, "tls-fail"),
		    "do.tls-fail: the handshake fails instead of a reply; give no reply or drop");
	if (st == STAGE_COUNT)
		return rc;
	if (a->tls_fail && st != STAGE_STARTTLS && st != STAGE_CONNECT)
		rc = ydoc_error(d, ydoc_get(d, act, "tls-fail"),
		                "do.tls-fail: only at stages starttls and connect");
	if (a->discard && st != STAGE_DATA_END)
		rc = ydoc_error(d, ydoc_get(d, act, "discard"),
		                "do.discard: only at stage data-end");
	if (a->suppress && st != STAGE_RCPT)
		rc = ydoc_error(d, ydoc_get(d, act, "suppress"), "do.suppress: only at stage rcpt");
	if (a->use_quota && !quota_stage(st))
		rc = ydoc_error(d, ydoc_get(d, act, "use_quota"),
		                "do.use_quota: only at stages mail, rcpt, data, data-body, "
		                "data-end, submit and submit-raw (where the user is known)");
	if (a->accept && has_reply)
		rc = ydoc_error(
		    d, ydoc_get(d, act, "accept"),
		    "do.accept: the native reply is kept; give reply or accept, not both");
	return rc;
}

static int load_do(struct ydoc *d, yaml_node_t *act, const struct catalog *cat,
                   const struct source *src, enum scenario_stage st, struct rule_do *a)
{
	static const char *const keys[] = {
	    "reply",    "delay",   "close",      "drop",      "accept", "discard",
	    "suppress", "trickle", "tls-fail",   "set",       "status", "code",
	    "message",  "headers", "downstream", "use_quota", NULL};
	yaml_node_t *n;
	int rc = 0;

	if (ydoc_expect_map(d, act, "do") < 0)
		return -1;
	rc |= ydoc_check_keys(d, act, keys);
	if ((n = ydoc_get(d, act, "reply")) != NULL)
		rc |= load_reply(d, n, cat, a);
	if ((n = ydoc_get(d, act, "delay")) != NULL)
		rc |= ydoc_duration(d, n, "do.delay", &a->delay);
	rc |= load_flag(d, act, "close", &a->close);
	rc |= load_flag(d, act, "drop", &a->drop);
	rc |= load_flag(d, act, "accept", &a->accept);
	rc |= load_flag(d, act, "discard", &a->discard);
	rc |= load_flag(d, act, "suppress", &a->suppress);
	rc |= load_flag(d, act, "tls-fail", &a->tls_fail);
	if ((n = ydoc_get(d, act, "trickle")) != NULL &&
	    (ydoc_uint(d, n, "do.trickle", &a->trickle) < 0 ||
	     (a->trickle == 0 &&
	      ydoc_error(d, n, "do.trickle: expected bytes a second, at least 1"))))
		rc = -1;
	if ((n = ydoc_get(d, act, "status")) != NULL) {
		unsigned long long status = 0;
		if (ydoc_uint(d, n, "do.status", &status) < 0)
			rc = -1;
		else if (status < 200 || status > 599)
			rc = ydoc_error(d, n, "do.status: expected an HTTP status from 200 to 599");
		a->https_status = (int)status;
	}
	rc |= load_text(d, act, "code", &a->https_code);
	rc |= load_text(d, act, "message", &a->https_message);
	rc |= load_pairs(d, ydoc_get(d, act, "headers"), "do.headers", &a->header_names,
	                 &a->header_values, &a->nheaders);
	if ((n = ydoc_get(d, act, "set")) != NULL)
		rc |= load_settings(d, n, src, "do.set", &a->set_text);
	if ((n = ydoc_get(d, act, "use_quota")) != NULL &&
	    (ydoc_uint(d, n, "do.use_quota", &a->use_quota) < 0 ||
	     (a->use_quota == 0 &&
	      ydoc_error(d, n, "do.use_quota: expected a number of messages, at least 1"))))
		rc = -1;
	if ((n = ydoc_get(d, act, "downstream")) != NULL)
		rc |= load_downstream(d, n, a);
	if (rc == 0)
		rc |= check_actions(d, act, a, st);
	return rc ? -1 : 0;
}

static int load_rule(struct ydoc *d, yaml_node_t *n, const struct catalog *cat,
                     const struct source *src, struct rule *r)
{
	static const char *const keys[] = {"when", "do", NULL};
	yaml_node_t *when, *act;
	int rc = 0;

	if (ydoc_expect_map(d, n, "rules[]") < 0)
		return -1;
	r->line = (int)n->start_mark.line + 1;
	rc |= ydoc_check_keys(d, n, keys);
	when = ydoc_get(d, n, "when");
	act = ydoc_get(d, n, "do");
	if (when == NULL)
		return ydoc_error(d, n, "rule: missing 'when'");
	if (act == NULL)
		return ydoc_error(d, n, "rule: missing 'do'");
	rc |= load_when(d, when, &r->when);
	rc |= load_do(d, act, cat, src, r->when.stage, &r->act);
	return rc ? -1 : 0;
}

static int load_rules(struct ydoc *d, yaml_node_t *n, const struct catalog *cat,
                      const struct source *src, struct scenario *sc)
{
	int rc = 0;

	if (!ydoc_is_seq(n))
		return ydoc_error(d, n, "rules: expected a list of {when, do}");
	sc->nrules = ydoc_seq_len(n);
	sc->rules = xcalloc(sc->nrules, sizeof *sc->rules);
	for (size_t i = 0; i < sc->nrules; i++)
		rc |= load_rule(d, ydoc_seq_item(d, n, i), cat, src, &sc->rules[i]);
	return rc ? -1 : 0;
}

static int load_expect(struct ydoc *d, yaml_node_t *n, struct scenario_expect *e)
{
	static const char *const keys[] = {"outcome",  "attempts", "min_gap", "backoff",
	                                   "gives_up", "report",   NULL};
	static const char *const range_keys[] = {"min", "max", NULL};
	static const char *const report_keys[] = {"failure", "code", NULL};
	static const char *const backoffs[] = {"growing", "constant", "any", NULL};
	yaml_node_t *v, *w;
	unsigned long long code;
	int rc = 0;

	if (ydoc_expect_map(d, n, "expect") < 0)
		return -1;
	rc |= ydoc_check_keys(d, n, keys);
	if ((v = ydoc_get(d, n, "outcome")) == NULL)
		rc |= ydoc_error(d, n,
		                 "expect: missing 'outcome' (delivered-once, "
		                 "delivered-once-after-retry, not-delivered or suppressed)");
	else if (ydoc_string(d, v, "expect.outcome", &e->outcome) == 0 &&
	         !in_list(e->outcome, outcomes))
		rc |= ydoc_error(d, v,
		                 "expect.outcome: expected delivered-once, "
		                 "delivered-once-after-retry, not-delivered or suppressed");
	if ((v = ydoc_get(d, n, "attempts")) != NULL &&
	    ydoc_expect_map(d, v, "expect.attempts") == 0) {
		rc |= ydoc_check_keys(d, v, range_keys);
		if ((w = ydoc_get(d, v, "min")) != NULL)
			rc |= ydoc_uint(d, w, "expect.attempts.min", &e->attempts_min);
		if ((w = ydoc_get(d, v, "max")) != NULL)
			rc |= ydoc_uint(d, w, "expect.attempts.max", &e->attempts_max);
		if (e->attempts_max && e->attempts_min > e->attempts_max)
			rc |= ydoc_error(d, v, "expect.attempts: min is above max");
	}
	if ((v = ydoc_get(d, n, "min_gap")) != NULL)
		rc |= ydoc_duration(d, v, "expect.min_gap", &e->min_gap);
	if ((v = ydoc_get(d, n, "backoff")) != NULL &&
	    ydoc_string(d, v, "expect.backoff", &e->backoff) == 0 && !in_list(e->backoff, backoffs))
		rc |= ydoc_error(d, v, "expect.backoff: expected growing, constant or any");
	if ((v = ydoc_get(d, n, "gives_up")) != NULL)
		rc |= ydoc_bool(d, v, "expect.gives_up", &e->gives_up);
	if ((v = ydoc_get(d, n, "report")) != NULL && ydoc_expect_map(d, v, "expect.report") == 0) {
		rc |= ydoc_check_keys(d, v, report_keys);
		if ((w = ydoc_get(d, v, "failure")) != NULL)
			rc |= ydoc_bool(d, w, "expect.report.failure", &e->report_failure);
		if ((w = ydoc_get(d, v, "code")) != NULL &&
		    ydoc_uint(d, w, "expect.report.code", &code) == 0) {
			if (code < 200 || code > 599)
				rc |= ydoc_error(
				    d, w,
				    "expect.report.code: expected a reply code from 200 to 599");
			e->report_code = (int)code;
		}
	}
	return rc ? -1 : 0;
}

static int load_exercises(struct ydoc *d, yaml_node_t *n, const struct catalog *cat,
                          struct scenario *sc)
{
	int rc = 0;

	if (!ydoc_is_seq(n))
		return ydoc_error(d, n, "exercises: expected a list of catalog ids");
	sc->nexercises = ydoc_seq_len(n);
	sc->exercises = xcalloc(sc->nexercises, sizeof *sc->exercises);
	for (size_t i = 0; i < sc->nexercises; i++) {
		yaml_node_t *item = ydoc_seq_item(d, n, i);
		if (ydoc_string(d, item, "exercises[]", &sc->exercises[i]) < 0)
			rc = -1;
		else if (catalog_find(cat, sc->exercises[i]) == NULL)
			rc = ydoc_error(d, item, "exercises: unknown catalog id '%s'",
			                sc->exercises[i]);
	}
	return rc;
}

static int load_header(struct ydoc *d, yaml_node_t *root, const struct catalog *cat,
                       struct scenario *sc)
{
	yaml_node_t *v = ydoc_get(d, root, "edsim");
	const char *version = ydoc_scalar(v);
	int rc = 0;

	if (v == NULL)
		rc |= ydoc_error(d, root, "missing 'edsim: 1' (the scenario language version)");
	else if (version == NULL || strcmp(version, "1") != 0)
		rc |= ydoc_error(d, v,
		                 "edsim: expected 1, the only version of the scenario language");
	if ((v = ydoc_get(d, root, "name")) == NULL)
		rc |= ydoc_error(d, root, "missing 'name'");
	else
		rc |= ydoc_string(d, v, "name", &sc->name);
	rc |= load_text(d, root, "title", &sc->title);
	rc |= load_text(d, root, "description", &sc->description);
	/* a scenario is written for one profile: the one whose catalog it is checked against */
	if ((v = ydoc_get(d, root, "profile")) != NULL &&
	    ydoc_string(d, v, "profile", &sc->profile) == 0 &&
	    strcmp(sc->profile, cat->profile) != 0)
		rc |= ydoc_error(d, v, "profile: expected %s", cat->profile);
	if ((v = ydoc_get(d, root, "exercises")) != NULL)
		rc |= load_exercises(d, v, cat, sc);
	if ((v = ydoc_get(d, root, "seed")) != NULL)
		rc |= ydoc_uint(d, v, "seed", &sc->seed);
	return rc;
}

static int load_clock(struct ydoc *d, yaml_node_t *n, double *speed)
{
	static const char *const keys[] = {"speed", NULL};
	yaml_node_t *v;
	const char *s;
	char *end;

	int rc;

	if (ydoc_expect_map(d, n, "clock") < 0)
		return -1;
	rc = ydoc_check_keys(d, n, keys);
	if ((v = ydoc_get(d, n, "speed")) == NULL)
		return rc;
	s = ydoc_scalar(v);
	*speed = s ? strtod(s, &end) : 0;
	if (s == NULL || *s == '\0' || *end != '\0' || *speed < 1.0 || *speed > 1e6)
		return ydoc_error(d, v, "clock.speed: expected a number from 1 to 1000000");
	return rc;
}

static int load_scenario(struct ydoc *d, const struct catalog *cat, const struct source *src,
                         struct scenario *sc)
{
	static const char *const keys[] = {"edsim",       "name",      "title", "profile",
	                                   "description", "exercises", "seed",  "rules",
	                                   "expect",      "settings",  "clock", NULL};
	yaml_node_t *root = ydoc_root(d), *v;
	int rc = 0;

	if (ydoc_expect_map(d, root, "scenario") < 0)
		return -1;
	rc |= ydoc_check_keys(d, root, keys);
	rc |= load_header(d, root, cat, sc);
	if ((v = ydoc_get(d, root, "settings")) != NULL)
		rc |= load_settings(d, v, src, "settings", &sc->settings_text);
	if ((v = ydoc_get(d, root, "clock")) != NULL)
		rc |= load_clock(d, v, &sc->clock_speed);
	if ((v = ydoc_get(d, root, "rules")) != NULL)
		rc |= load_rules(d, v, cat, src, sc);
	if ((v = ydoc_get(d, root, "expect")) != NULL)
		rc |= load_expect(d, v, &sc->expect);
	return rc;
}

struct scenario *scenario_load(const char *file, const char *text, size_t len,
                               const struct catalog *catalog, char **errors)
{
	struct scenario *sc = xcalloc(1, sizeof *sc);
	struct source src = {text, len};
	struct ydoc d;
	int rc;

	*errors = NULL;
	sc->expect.gives_up = sc->expect.report_failure = -1;
	sc->clock_speed = 1.0;
	rc = ydoc_load(&d, file, (const unsigned char *)text, len);
	if (rc == 0)
		rc = load_scenario(&d, catalog, &src, sc);
	if (rc != 0 || d.nerrors > 0) {
		*errors = xstrdup(ydoc_errors(&d));
		ydoc_free(&d);
		scenario_free(sc);
		return NULL;
	}
	ydoc_free(&d);
	sc->file = xstrdup(file);
	if ((sc->text = malloc(len + 1)) == NULL) { /* as long as the client's text */
		char msg[512];
		snprintf(msg, sizeof msg,
		         "%s:1:1: cannot keep the text (%zu bytes): out of memory\n", file, len);
		*errors = xstrdup(msg);
		scenario_free(sc);
		return NULL;
	}
	memcpy(sc->text, text, len);
	sc->text[len] = '\0';
	return sc;
}

static void rule_free(struct rule *r)
{
	free(r->when.sender);
	free(r->when.recipient);
	free(r->when.user);
	free(r->when.client_ip);
	free(r->when.mechanism);
	strings_free(r->act.reply_lines, r->act.nreply_lines);
	free(r->act.set_text);
	free(r->act.downstream);
	free(r->when.method);
	free(r->when.path);
	strings_free(r->when.header_names, r->when.nheaders);
	strings_free(r->when.header_globs, r->when.nheaders);
	free(r->act.https_code);
	free(r->act.https_message);
	strings_free(r->act.header_names, r->act.nheaders);
	strings_free(r->act.header_values, r->act.nheaders);
}

void scenario_free(struct scenario *sc)
{
	if (sc == NULL)
		return;
	for (size_t i = 0; i < sc->nrules; i++)
		rule_free(&sc->rules[i]);
	free(sc->rules);
	strings_free(sc->exercises, sc->nexercises);
	free(sc->file);
	free(sc->text);
	free(sc->name);
	free(sc->title);
	free(sc->profile);
	free(sc->description);
	free(sc->expect.outcome);
	free(sc->settings_text);
	free(sc->expect.backoff);
	free(sc);
}

/* The catalog the text's `profile:` names, or NULL with *errors set. A text
 * that does not parse gets the default profile's: the loader reports it. */
static const struct catalog *catalog_of(const char *file, const char *text, size_t len,
                                        scenario_catalog_fn catalog_for, void *arg, char **errors)
{
	const struct catalog *cat;
	yaml_node_t *root, *v = NULL;
	const char *name = NULL;
	char why[256] = "";
	struct ydoc d;

	if (ydoc_load(&d, file, (const unsigned char *)text, len) == 0 &&
	    (root = ydoc_root(&d)) != NULL && ydoc_is_map(root) &&
	    (v = ydoc_get(&d, root, "profile")) != NULL)
		name = ydoc_scalar(v);
	if ((cat = catalog_for(arg, name, why, sizeof why)) == NULL) {
		ydoc_error(&d, v, "profile: %s", why);
		*errors = xstrdup(ydoc_errors(&d));
	}
	ydoc_free(&d);
	return cat;
}

struct scenario *scenario_load_for_profile(const char *file, const char *text, size_t len,
                                           scenario_catalog_fn catalog_for, void *arg,
                                           const struct catalog **cat, char **errors)
{
	const struct catalog *c;

	*errors = NULL;
	if (cat != NULL)
		*cat = NULL;
	if ((c = catalog_of(file, text, len, catalog_for, arg, errors)) == NULL)
		return NULL;
	if (cat != NULL)
		*cat = c;
	return scenario_load(file, text, len, c, errors);
}

static const struct catalog *the_catalog(void *arg, const char *profile, char *err, size_t errlen)
{
	(void)profile, (void)err, (void)errlen;
	return arg; /* the loader says when the scenario's profile is another */
}

int scenario_check_files_by_profile(int nfiles, char **files, scenario_catalog_fn catalog_for,
                                    void *arg)
{
	char *errors = NULL;
	int bad = 0;

	for (int i = 0; i < nfiles; i++) {
		size_t len = 0;
		char *text = read_file(files[i], &len);
		struct scenario *sc;
		if (text == NULL) {
			fprintf(stderr, "%s:1:1: cannot read the file\n", files[i]);
			bad++;
			continue;
		}
		sc =
		    scenario_load_for_profile(files[i], text, len, catalog_for, arg, NULL, &errors);
		if (sc == NULL) {
			fputs(errors ? errors : "", stderr);
			bad++;
		} else {
			printf("%s: ok (%s, %zu rule%s)\n", files[i], sc->name, sc->nrules,
			       sc->nrules == 1 ? "" : "s");
		}
		free(errors);
		errors = NULL;
		free(text);
		scenario_free(sc);
	}
	return bad ? 1 : 0;
}

int scenario_check_files(int nfiles, char **files, const struct catalog *cat)
{
	return scenario_check_files_by_profile(nfiles, files, the_catalog, (void *)cat);
}
