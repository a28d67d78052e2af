/*
 * env.h - the handles a front end is given: the SMTP engine, a provider's
 * HTTPS API and the control API each get a struct env from the composition
 * root (server.c) instead of the server itself, and use only what they need.
 *
 * Invariants: every handle outlives the front ends (server.c frees the front
 * ends first); cfg is the configuration in force, one object for the whole
 * run whose contents change when a scenario's settings or a rule's `set`
 * apply, so a front end may keep the pointer but not pointers into it
 * across a scenario change.
 */
#ifndef EDSIM_ENV_H
#define EDSIM_ENV_H

struct event_base;
struct config;
struct vclock;
struct catalog;
struct tls;
struct policy;
struct engine;
struct events;
struct store;
struct mailflow;
struct rule_do;
struct profile;

struct env {
	struct event_base *base;
	struct config *cfg;
	const struct vclock *clock; /* the scenario's virtual clock */
	const struct catalog *catalog;
	struct tls *tls; /* NULL: no TLS */
	struct policy *policy;
	struct engine *engine; /* the active scenario */
	struct events *events;
	struct store *store;
	struct mailflow *flow;         /* where accepted mail goes */
	const struct profile *profile; /* the provider edsim plays */
	void *account; /* the provider's account (SES: struct ses_account), or NULL */
};

/* What a rule does besides answering, in every front end: its `set` lays
 * settings over the configuration in force, its `use_quota` counts messages
 * against user's quotas (NULL: the anonymous user). */
void env_apply_effects(const struct env *env, const struct rule_do *act, const char *user);

#endif
