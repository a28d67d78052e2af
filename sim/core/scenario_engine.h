/*
 * scenario_engine.h - runs the active scenario: counters, matching, firing.
 *
 * Every front end (the SMTP session, a provider's HTTPS API, the relay) asks
 * engine_decide() at every stage, before its native policy, and renders the
 * verdict in its protocol; the first matching rule in file order wins. The engine owns
 * the active scenario and every counter that belongs to it (connections
 * since it started, attempts per message, how often each rule fired, the
 * seeded random sequence); swapping the scenario resets them all.
 */
#ifndef EDSIM_SCENARIO_ENGINE_H
#define EDSIM_SCENARIO_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "scenario.h"

struct engine;

struct hook_ctx {
	enum scenario_stage stage;
	uint64_t connection; /* nth connection since the scenario started */
	uint64_t command;    /* nth command of the connection */
	uint64_t attempt;    /* data-end: nth time this message arrived */
	const char *sender;
	const char *const *recipients; /* rcpt: the one being added; data stages: all */
	size_t nrecipients;
	const char *user;
	const char *client_ip;
	const char *mechanism;
	unsigned long long offset; /* data-body: bytes of message data so far */
	const char *method, *path; /* HTTPS */
	const char *(*header)(void *arg, const char *name); /* HTTPS: a request header, or NULL */
	void *header_arg;
	/* for filling a forced reply's placeholders, not for matching */
	const char *helo;      /* the EHLO/HELO name */
	const char *stored_id; /* data-end: the id the message was stored under */
};

struct engine *engine_new(void);
void engine_free(struct engine *e);
/* Makes sc the active scenario (or none, when NULL), resetting every counter.
 * The engine owns sc from then on. */
void engine_set(struct engine *e, struct scenario *sc);
/* Starts the active scenario's counters afresh. */
void engine_reset(struct engine *e);
const struct scenario *engine_scenario(const struct engine *e);
/* True when the active scenario has a rule at this stage (the session skips
 * per-line hooks at data-body otherwise). */
int engine_has_stage(const struct engine *e, enum scenario_stage stage);
/* Counts a new connection; returns its number since the scenario started. */
uint64_t engine_connection_opened(struct engine *e);
/* True when a rule of the active scenario matches on `attempt`: only then
 * are arrivals counted. */
int engine_uses_attempt(const struct engine *e);
/* Counts an arrival of the message known by key at data-end; returns its number. */
uint64_t engine_attempt(struct engine *e, const char *key);
/* What the scenario says at a stage. */
enum verdict_kind {
	V_NATIVE, /* no rule acts: native behaviour */
	V_WAIT,   /* a rule delays: decide again with it held after `delay` seconds */
	V_DROP,   /* close without a reply (relay: the next hop drops the connection) */
	V_REPLY,  /* answer with the rule's reply instead of the native one */
	V_ACCEPT, /* the stage's native rejections are lifted (accept, discard, suppress) */
	V_PASS,   /* a rule acts (set, close after the reply, ...) but answers natively */
};

struct verdict {
	enum verdict_kind kind;
	const struct rule *rule; /* the rule that acted (NULL: V_NATIVE) */
	double delay;            /* V_WAIT: seconds */
	int code;                /* V_REPLY: the reply's code (SMTP, HTTPS status or next hop's) */
	char label[48];          /* the rule for events and transcripts: "rule 2 (line 14)" */
};

/* The one decision for every front end. held: the rule a V_WAIT returned,
 * when its delay is over: it acts now, without matching again or waiting.
 * A rule's set and use_quota are for the caller to apply (env.h) unless
 * the verdict is V_WAIT or V_NATIVE. */
struct verdict engine_decide(struct engine *e, const struct hook_ctx *ctx, const struct rule *held);
/* The code a rule's reply has at its stage (0: it has none). */
int engine_reply_code(const struct rule *r, enum scenario_stage stage);
/* The rule that acts for ctx, or NULL; counts its firing (engine_decide's
 * matching, for stages that only ask whether a rule acts). */
const struct rule *engine_match(struct engine *e, const struct hook_ctx *ctx);
/* A rule's label for events and transcripts: "rule 2 (line 14)". */
void engine_rule_label(const struct engine *e, const struct rule *r, char *out, size_t outlen);

#endif
