/*
 * mailflow.c - DKIM signature, store, relay and the suppression list, in
 * that order for every accepted message.
 *
 * Invariant: the relay sees a message only after the store has committed
 * it (at least once: nothing the relay holds can be lost by a crash).
 */
#include "mailflow.h"

#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "dkim.h"
#include "log.h"
#include "relay.h"
#include "server.h"
#include "webhooks.h"

struct submission {
	struct server *srv;
	store_done_fn done;
	void *arg;
};

static void on_stored(void *arg, int ok, const struct store_message *m)
{
	struct submission *sub = arg;

	sub->done(sub->arg, ok, m);
	if (ok && sub->srv->relay != NULL)
		relay_accept(sub->srv->relay, m);
	free(sub);
}

static void sign(struct server *srv, struct store_message *m)
{
	char *signed_raw = NULL;
	size_t len = 0;

	if (srv->dkim == NULL)
		return;
	if (dkim_sign(srv->dkim, m->raw, m->raw_len, &signed_raw, &len) == 1) {
		free(m->raw);
		m->raw = signed_raw;
		m->raw_len = len;
	}
}

int mailflow_submit(struct server *srv, struct store_message *m, store_done_fn done, void *arg)
{
	struct submission *sub = malloc(sizeof *sub);

	if (sub == NULL)
		return -1;
	*sub = (struct submission){srv, done, arg};
	sign(srv, m);
	if (srv->relay != NULL)
		relay_capture_now(srv->relay, m);
	if (store_submit(srv->store, m, on_stored, sub) < 0) {
		free(sub);
		return -1;
	}
	return 0;
}

static void emit_suppression(struct server *srv, const char *type, const char *address,
                             const char *reason, const char *source)
{
	struct event_record rec = {
	    .type = type, .stage = source, .reply = reason, .recipient = address};

	events_emit(srv->events, &rec);
}

void mailflow_suppress(struct server *srv, const char *address, const char *reason,
                       const char *source)
{
	double now = clock_wall();

	policy_suppress(srv->policy, address, reason, now, source);
	store_suppression_save(srv->store, address, reason, now, source);
	emit_suppression(srv, "suppression-added", address, reason, source);
}

size_t mailflow_unsuppress(struct server *srv, const char *address)
{
	size_t n = policy_unsuppress(srv->policy, address);

	store_suppression_delete(srv->store, address);
	if (n > 0)
		emit_suppression(srv, "suppression-removed", address ? address : "*", NULL, "api");
	return n;
}

static void load_suppressions(struct server *srv)
{
	json_t *list = store_suppressions(srv->store), *e;
	size_t i;

	json_array_foreach(list, i, e)
	    policy_suppress(srv->policy, json_string_value(json_object_get(e, "address")),
	                    json_string_value(json_object_get(e, "reason")),
	                    json_real_value(json_object_get(e, "time")),
	                    json_string_value(json_object_get(e, "source")));
	json_decref(list);
}

static void post_event(void *arg, const char *type, const char *json, size_t len)
{
	webhooks_post(arg, type, json, len);
}

int mailflow_start(struct server *srv, char *err, size_t errlen)
{
	const struct config *cfg = srv->cfg;

	if (cfg->ndkim > 0 && (srv->dkim = dkim_new(cfg->dkim, cfg->ndkim, err, errlen)) == NULL)
		return -1;
	if ((srv->relay = relay_new(srv, err, errlen)) == NULL)
		return -1;
	srv->webhooks = webhooks_new(srv->base, cfg->webhooks, cfg->nwebhooks, err, errlen);
	if (cfg->nwebhooks > 0 && srv->webhooks == NULL)
		return -1;
	if (srv->webhooks != NULL)
		events_set_sink(srv->events, post_event, srv->webhooks);
	load_suppressions(srv);
	relay_recover(srv->relay);
	return 0;
}

void mailflow_stop(struct server *srv)
{
	relay_free(srv->relay);
	srv->relay = NULL;
	if (srv->events != NULL)
		events_set_sink(srv->events, NULL, NULL);
	webhooks_free(srv->webhooks);
	srv->webhooks = NULL;
	dkim_free(srv->dkim);
	srv->dkim = NULL;
}
