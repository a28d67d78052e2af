/*
 * mailflow.c - DKIM signature, store, relay and the suppression list, in
 * that order for every accepted message.
 *
 * Invariant: the relay sees a message only after the store has committed
 * it (at least once: nothing the relay holds can be lost by a crash).
 */
#include "mailflow.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "dkim.h"
#include "log.h"
#include "relay.h"
#include "env.h"
#include "events.h"
#include "policy.h"
#include "webhooks.h"
#include "xmalloc.h"

struct mailflow {
	struct env env;
	struct relay *relay;
	struct dkim *dkim;         /* NULL without dkim keys */
	struct webhooks *webhooks; /* NULL without webhooks */
};

struct submission {
	struct mailflow *f;
	store_done_fn done;
	void *arg;
};

static void on_stored(void *arg, int ok, const struct store_message *m)
{
	struct submission *sub = arg;

	sub->done(sub->arg, ok, m);
	if (ok && sub->f->relay != NULL)
		relay_accept(sub->f->relay, m);
	free(sub);
}

static void sign(struct mailflow *f, struct store_message *m)
{
	char *signed_raw = NULL;
	size_t len = 0;

	if (f->dkim == NULL)
		return;
	if (dkim_sign(f->dkim, m->raw, m->raw_len, &signed_raw, &len) == 1) {
		free(m->raw);
		m->raw = signed_raw;
		m->raw_len = len;
	}
}

int mailflow_submit(struct mailflow *f, struct store_message *m, store_done_fn done, void *arg)
{
	struct submission *sub = xmalloc(sizeof *sub);

	*sub = (struct submission){f, done, arg};
	sign(f, m);
	if (f->relay != NULL)
		relay_capture_now(f->relay, m);
	if (store_submit(f->env.store, m, on_stored, sub) < 0) {
		free(sub);
		return -1;
	}
	return 0;
}

static void emit_suppression(struct mailflow *f, const char *type, const char *address,
                             const char *reason, const char *source)
{
	struct event_record rec = {
	    .type = type, .stage = source, .reply = reason, .recipient = address};

	events_emit(f->env.events, &rec);
}

void mailflow_suppress(struct mailflow *f, const char *address, const char *reason,
                       const char *source)
{
	double now = clock_wall();

	policy_suppress(f->env.policy, address, reason, now, source);
	store_suppression_save(f->env.store, address, reason, now, source);
	emit_suppression(f, "suppression-added", address, reason, source);
}

size_t mailflow_unsuppress(struct mailflow *f, const char *address)
{
	size_t n = policy_unsuppress(f->env.policy, address);

	store_suppression_delete(f->env.store, address);
	if (n > 0)
		emit_suppression(f, "suppression-removed", address ? address : "*", NULL, "api");
	return n;
}

/* The relay's report of a bounce: the address goes on the list. */
static void on_bounce(void *arg, const char *address, const char *reply)
{
	mailflow_suppress(arg, address, reply, "bounce");
}

static void load_suppressions(struct mailflow *f)
{
	json_t *list = store_suppressions(f->env.store), *e;
	size_t i;

	json_array_foreach(list, i, e)
	    policy_suppress(f->env.policy, json_string_value(json_object_get(e, "address")),
	                    json_string_value(json_object_get(e, "reason")),
	                    json_real_value(json_object_get(e, "time")),
	                    json_string_value(json_object_get(e, "source")));
	json_decref(list);
}

static void post_event(void *arg, const char *type, const char *json, size_t len)
{
	webhooks_post(arg, type, json, len);
}

struct mailflow *mailflow_new(const struct env *env, char *err, size_t errlen)
{
	const struct config *cfg = env->cfg;
	struct mailflow *f = xcalloc(1, sizeof *f);
	struct relay_env renv = {.base = env->base,
	                         .cfg = env->cfg,
	                         .clock = env->clock,
	                         .store = env->store,
	                         .events = env->events,
	                         .engine = env->engine,
	                         .bounced = on_bounce,
	                         .arg = f};

	f->env = *env;
	f->env.flow = f;
	if (cfg->ndkim > 0 && (f->dkim = dkim_new(cfg->dkim, cfg->ndkim, err, errlen)) == NULL)
		goto fail;
	if ((f->relay = relay_new(&renv, err, errlen)) == NULL)
		goto fail;
	f->webhooks = webhooks_new(env->base, cfg->webhooks, cfg->nwebhooks, err, errlen);
	if (cfg->nwebhooks > 0 && f->webhooks == NULL)
		goto fail;
	if (f->webhooks != NULL)
		events_set_sink(env->events, post_event, f->webhooks);
	load_suppressions(f);
	relay_recover(f->relay);
	return f;
fail:
	mailflow_free(f);
	return NULL;
}

void mailflow_free(struct mailflow *f)
{
	if (f == NULL)
		return;
	relay_free(f->relay);
	if (f->env.events != NULL)
		events_set_sink(f->env.events, NULL, NULL);
	webhooks_free(f->webhooks);
	dkim_free(f->dkim);
	free(f);
}

void mailflow_forget_all(struct mailflow *f)
{
	relay_forget_all(f->relay);
}

json_t *mailflow_queue_stats(const struct mailflow *f)
{
	return relay_stats(f->relay);
}

char *mailflow_webhook_stats(const struct mailflow *f)
{
	return webhooks_stats(f->webhooks);
}
