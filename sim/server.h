/*
 * server.h - the composition root: everything that lives for the whole run.
 *
 * There is no global mutable state: the event loop, configuration, catalog,
 * TLS, store, policy counters, events, the mail flow and the front ends all
 * hang off struct server, which main() owns. Nothing below includes this
 * header: each module is handed the handles it uses (env.h, relay_env,
 * control_ops) and reports back through callbacks.
 */
#ifndef EDSIM_SERVER_H
#define EDSIM_SERVER_H

#include <event2/event.h>
#include <event2/listener.h>
#include <stdint.h>

#include "catalog.h"
#include "clock.h"
#include "config.h"
#include "events.h"
#include "policy.h"
#include "store.h"
#include "tls.h"

struct smtp_server;
struct control_api;
struct https_front;
struct mailflow;
struct scenario;
struct profile;

struct server {
	const struct profile *profile; /* the provider edsim plays */
	struct event_base *base;
	struct config *cfg;            /* in force: base, the scenario's settings, rules' set */
	const struct config *base_cfg; /* as edsim started */
	struct vclock clock;           /* the scenario's virtual clock */
	struct catalog catalog;
	struct tls *tls; /* its SSL_CTX made on first use: tls_context() */
	struct store *store;
	struct policy *policy;
	struct engine *engine; /* the active scenario, if any */
	struct events *events;
	struct mailflow *flow; /* DKIM, the relay, webhooks, suppressions */
	struct smtp_server *smtp;
	struct evconnlistener *smtp_listener;
	struct evconnlistener *smtps_listener;
	struct control_api *control;
	struct https_front *https;
	void *account; /* the provider's account (profile.h), or NULL */
	int draining;
	double started; /* clock_now() at start */
	struct event *sigterm, *sigint, *drain_timer, *flush_timer;
	char ready_path[4096];
	int smtp_port, smtps_port, https_port, control_port; /* as bound (0: not listening) */
};

/* Builds everything and binds the listeners; nothing is served before
 * server_run(). Returns -1 with a message in err. */
int server_init(struct server *srv, struct config *cfg, const char *scenario_file, char *err,
                size_t errlen);
int server_run(struct server *srv);
void server_free(struct server *srv);

#endif
