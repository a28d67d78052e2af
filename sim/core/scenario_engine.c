/*
 * scenario_engine.c - matching rules against what happens, in file order.
 *
 * Probability draws come from a xorshift64* generator seeded with the
 * scenario's seed, drawn only when a rule with a probability below 1 is
 * otherwise matching, so that the same traffic gives the same decisions.
 * Attempts are counted per key in a hash table of ATTEMPT_BUCKETS singly
 * linked chains (SLIST), made on first use and emptied by reset.
 */
#include "scenario_engine.h"

#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>

#include "xmalloc.h"

struct attempt_entry {
	SLIST_ENTRY(attempt_entry) chain;
	uint64_t count;
	char key[];
};

SLIST_HEAD(attempt_chain, attempt_entry);

#define ATTEMPT_BUCKETS 4096

struct engine {
	struct scenario *sc;
	unsigned long long *fired; /* per rule */
	uint64_t connections;
	uint64_t random_state;
	int uses_attempt;               /* some rule matches on attempt: count them */
	struct attempt_chain *attempts; /* ATTEMPT_BUCKETS chains by key hash, made on first use */
};

struct engine *engine_new(void)
{
	return xcalloc(1, sizeof(struct engine));
}

static void reset(struct engine *e)
{
	struct attempt_entry *a;

	for (size_t b = 0; e->attempts != NULL && b < ATTEMPT_BUCKETS; b++)
		while ((a = SLIST_FIRST(&e->attempts[b])) != NULL) {
			SLIST_REMOVE_HEAD(&e->attempts[b], chain);
			free(a);
		}
	free(e->attempts);
	e->attempts = NULL;
	free(e->fired);
	e->fired = NULL;
	e->connections = 0;
	e->random_state = 0;
	e->uses_attempt = 0;
}

void engine_free(struct engine *e)
{
	if (e == NULL)
		return;
	reset(e);
	scenario_free(e->sc);
	free(e);
}

void engine_set(struct engine *e, struct scenario *sc)
{
	reset(e);
	scenario_free(e->sc);
	e->sc = sc;
	if (sc != NULL) {
		e->fired = xcalloc(sc->nrules, sizeof *e->fired);
		e->random_state = sc->seed ? sc->seed : 0x9e3779b97f4a7c15ULL;
		for (size_t i = 0; i < sc->nrules; i++)
			if (sc->rules[i].when.attempt != WHEN_ANY)
				e->uses_attempt = 1;
	}
}

const struct scenario *engine_scenario(const struct engine *e)
{
	return e->sc;
}

int engine_has_stage(const struct engine *e, enum scenario_stage stage)
{
	for (size_t i = 0; e->sc != NULL && i < e->sc->nrules; i++)
		if (e->sc->rules[i].when.stage == stage)
			return 1;
	return 0;
}

uint64_t engine_connection_opened(struct engine *e)
{
	return ++e->connections;
}

int engine_uses_attempt(const struct engine *e)
{
	return e->uses_attempt;
}

static size_t key_bucket(const char *key)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */

	for (; *key != '\0'; key++)
		h = (h ^ (unsigned char)*key) * 1099511628211ULL;
	return (size_t)(h % ATTEMPT_BUCKETS);
}

uint64_t engine_attempt(struct engine *e, const char *key)
{
	size_t b = key_bucket(key), len = strlen(key);
	struct attempt_entry *a;

	if (e->attempts == NULL) {
		e->attempts = xcalloc(ATTEMPT_BUCKETS, sizeof *e->attempts);
		for (size_t i = 0; i < ATTEMPT_BUCKETS; i++)
			SLIST_INIT(&e->attempts[i]);
	}
	for (a = SLIST_FIRST(&e->attempts[b]); a != NULL; a = SLIST_NEXT(a, chain))
		if (strcmp(a->key, key) == 0)
			return ++a->count;
	a = xmalloc(sizeof *a + len + 1);
	memcpy(a->key, key, len + 1);
	a->count = 1;
	SLIST_INSERT_HEAD(&e->attempts[b], a, chain);
	return 1;
}

static double next_random(struct engine *e)
{
	uint64_t x = e->random_state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	e->random_state = x;
	return (double)((x * 0x2545F4914F6CDD1DULL) >> 11) / 9007199254740992.0;
}

static int glob_matches(const char *pattern, const char *value)
{
	return value != NULL && fnmatch(pattern, value, FNM_CASEFOLD) == 0;
}

static int any_recipient_matches(const char *pattern, const struct hook_ctx *ctx)
{
	for (size_t i = 0; i < ctx->nrecipients; i++)
		if (glob_matches(pattern, ctx->recipients[i]))
			return 1;
	return 0;
}

static int headers_match(const struct rule_when *w, const struct hook_ctx *ctx)
{
	for (size_t i = 0; i < w->nheaders; i++)
		if (ctx->header == NULL ||
		    !glob_matches(w->header_globs[i],
		                  ctx->header(ctx->header_arg, w->header_names[i])))
			return 0;
	return 1;
}

static int counters_match(const struct rule_when *w, const struct hook_ctx *ctx)
{
	return (w->connection == WHEN_ANY || w->connection == ctx->connection) &&
	       (w->command == WHEN_ANY || w->command == ctx->command) &&
	       (w->attempt == WHEN_ANY || w->attempt == ctx->attempt) &&
	       (w->stage != STAGE_DATA_BODY || ctx->offset >= w->offset);
}

static int matchers_match(const struct rule_when *w, const struct hook_ctx *ctx)
{
	return (w->sender == NULL || glob_matches(w->sender, ctx->sender)) &&
	       (w->recipient == NULL || any_recipient_matches(w->recipient, ctx)) &&
	       (w->user == NULL || (ctx->user != NULL && strcmp(w->user, ctx->user) == 0)) &&
	       (w->client_ip == NULL ||
	        (ctx->client_ip != NULL && strcmp(w->client_ip, ctx->client_ip) == 0)) &&
	       (w->mechanism == NULL ||
	        (ctx->mechanism != NULL && strcasecmp(w->mechanism, ctx->mechanism) == 0)) &&
	       (w->method == NULL ||
	        (ctx->method != NULL && strcasecmp(w->method, ctx->method) == 0)) &&
	       (w->path == NULL || glob_matches(w->path, ctx->path)) && headers_match(w, ctx);
}

const struct rule *engine_match(struct engine *e, const struct hook_ctx *ctx)
{
	if (e->sc == NULL)
		return NULL;
	for (size_t i = 0; i < e->sc->nrules; i++) {
		const struct rule *r = &e->sc->rules[i];
		if (r->when.stage != ctx->stage || !counters_match(&r->when, ctx) ||
		    !matchers_match(&r->when, ctx))
			continue;
		if (r->when.times != 0 && e->fired[i] >= r->when.times)
			continue;
		if (r->when.probability < 1.0 && next_random(e) >= r->when.probability)
			continue;
		e->fired[i]++;
		return r;
	}
	return NULL;
}

int engine_reply_code(const struct rule *r, enum scenario_stage stage)
{
	const struct rule_do *a = &r->act;

	if (stage == STAGE_RELAY)
		return a->downstream != NULL ? atoi(a->downstream) : 0;
	if (a->reply_entry != NULL)
		return stage >= STAGE_REQUEST ? a->reply_entry->status : a->reply_entry->code;
	if (stage >= STAGE_REQUEST)
		return a->https_status;
	return a->nreply_lines > 0 ? atoi(a->reply_lines[0]) : 0;
}

struct verdict engine_decide(struct engine *e, const struct hook_ctx *ctx, const struct rule *held)
{
	struct verdict v = {.kind = V_NATIVE};
	const struct rule *r = held != NULL ? held : engine_match(e, ctx);
	const struct rule_do *a;

	if (r == NULL)
		return v;
	a = &r->act;
	v.rule = r;
	engine_rule_label(e, r, v.label, sizeof v.label);
	if (held == NULL && a->delay > 0) {
		v.kind = V_WAIT;
		v.delay = a->delay;
	} else if (a->drop || a->downstream_drop) {
		v.kind = V_DROP;
	} else if ((v.code = engine_reply_code(r, ctx->stage)) != 0) {
		v.kind = V_REPLY;
	} else if (a->accept || a->discard || a->suppress) {
		v.kind = V_ACCEPT;
	} else {
		v.kind = V_PASS;
	}
	return v;
}

void engine_rule_label(const struct engine *e, const struct rule *r, char *out, size_t outlen)
{
	size_t index = e->sc ? (size_t)(r - e->sc->rules) + 1 : 0;

	snprintf(out, outlen, "rule %zu (line %d)", index, r->line);
}

void engine_reset(struct engine *e)
{
	struct scenario *sc = e->sc;

	e->sc = NULL;
	engine_set(e, sc);
}
