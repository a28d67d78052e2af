/*
 * server.c - start-up, listeners, signals and the orderly shutdown.
 *
 * Start-up order: state directory, catalog, TLS (the files checked and the
 * self-signed pair made; the contexts themselves are made by the first
 * connection that needs one, tls.h), store, events, relay (which takes up
 * the store's unfinished messages), listeners, control API; only then is
 * the ready file written. SIGTERM or SIGINT starts a drain: listeners stop
 * accepting, idle sessions get 421 4.3.0 at once, busy ones after their
 * transaction, and the loop ends when the last session is gone (or
 * drain_timeout has passed).
 */
#include "server.h"

#include <errno.h>
#include <malloc.h>
#include <event2/util.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "control_api.h"
#include "profiles.h"
#include "log.h"
#include "mailflow.h"
#include "scenario.h"
#include "scenario_engine.h"
#include "smtp_session.h"
#include "env.h"
#include "tls.h"
#include "util.h"
#include "xmalloc.h"

static int server_use_scenario(struct server *srv, struct scenario *sc, char **errors);
static int server_restart_scenario(struct server *srv);

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int len,
                      void *arg)
{
	struct server *srv = arg;

	(void)len;
	smtp_accept(srv->smtp, fd, sa, l == srv->smtps_listener);
}

static void on_accept_error(struct evconnlistener *l, void *arg)
{
	(void)l;
	(void)arg;
	log_warn("accept failed: %s", evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
}

static struct evconnlistener *listen_on(struct server *srv, const char *text, const char *what,
                                        int *port, char *err, size_t errlen)
{
	struct evutil_addrinfo hints, *ai = NULL;
	struct evconnlistener *l = NULL;
	char host[256], service[16];
	int want;

	if (split_host_port(text, host, sizeof host, &want) < 0) {
		snprintf(err, errlen, "listen.%s: expected host:port, found '%s'", what, text);
		return NULL;
	}
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = EVUTIL_AI_PASSIVE | EVUTIL_AI_NUMERICSERV;
	snprintf(service, sizeof service, "%d", want);
	if (evutil_getaddrinfo(host, service, &hints, &ai) != 0 || ai == NULL) {
		snprintf(err, errlen, "listen.%s: cannot resolve '%s'", what, host);
		return NULL;
	}
	l = evconnlistener_new_bind(srv->base, on_accept, srv,
	                            LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_FREE |
	                                LEV_OPT_CLOSE_ON_EXEC,
	                            1024, ai->ai_addr, (int)ai->ai_addrlen);
	evutil_freeaddrinfo(ai);
	if (l == NULL) {
		snprintf(err, errlen, "cannot listen on %s (%s): %s", text, what, strerror(errno));
		return NULL;
	}
	evconnlistener_set_error_cb(l, on_accept_error);
	*port = bound_port(evconnlistener_get_fd(l));
	return l;
}

/* The SMTP engine's last session is gone during a drain. */
static void on_drained(void *arg)
{
	struct server *srv = arg;

	event_base_loopexit(srv->base, NULL);
}

static void on_drain_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;

	(void)fd;
	(void)what;
	log_warn("drain: %zu session(s) still open after the deadline, closing them",
	         smtp_server_sessions(srv->smtp));
	smtp_server_abort(srv->smtp);
}

static void begin_drain(struct server *srv)
{
	struct timeval tv;

	if (srv->draining)
		return;
	srv->draining = 1;
	if (srv->smtp == NULL) { /* a signal during start-up */
		event_base_loopexit(srv->base, NULL);
		return;
	}
	log_info("shutting down: draining %zu session(s)", smtp_server_sessions(srv->smtp));
	if (srv->smtp_listener)
		evconnlistener_disable(srv->smtp_listener);
	if (srv->smtps_listener)
		evconnlistener_disable(srv->smtps_listener);
	tv.tv_sec = (long)srv->cfg->limits.drain_timeout;
	tv.tv_usec = 0;
	srv->drain_timer = evtimer_new(srv->base, on_drain_deadline, srv);
	evtimer_add(srv->drain_timer, &tv);
	smtp_server_drain(srv->smtp);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	log_info("received signal %d", (int)sig);
	begin_drain(arg);
}

static void on_flush(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;

	(void)fd;
	(void)what;
	events_flush(srv->events);
}

static int write_ready_file(struct server *srv, int smtp, int smtps, int https, int control)
{
	FILE *f;
	char tmp[4200];

	snprintf(srv->ready_path, sizeof srv->ready_path, "%s/edsim.ready", srv->cfg->state_dir);
	snprintf(tmp, sizeof tmp, "%s.tmp", srv->ready_path);
	f = fopen(tmp, "w");
	if (f == NULL)
		return -1;
	fprintf(f, "{\"pid\": %ld, \"smtp\": %d, \"smtps\": %d, \"https\": %d, \"control\": %d}\n",
	        (long)getpid(), smtp, smtps, https, control);
	if (fclose(f) != 0)
		return -1;
	return rename(tmp, srv->ready_path);
}

static int open_store(struct server *srv, char *err, size_t errlen)
{
	const char *path = srv->cfg->store_path;
	char full[4096];

	if (strcmp(path, ":memory:") != 0 && path[0] != '/') {
		snprintf(full, sizeof full, "%s/%s", srv->cfg->state_dir, path);
		path = full;
	}
	srv->store = store_sqlite_open(srv->base, path, err, errlen);
	return srv->store ? 0 : -1;
}

static int load_catalog(struct server *srv, char *err, size_t errlen)
{
	char *errors = NULL;

	if (profile_load_catalog(srv->profile, &srv->catalog, &errors) < 0) {
		snprintf(err, errlen, "%s", errors ? errors : "the catalog is invalid");
		free(errors);
		return -1;
	}
	return 0;
}

/* The handles the front ends and the mail flow are given. */
static struct env front_env(struct server *srv)
{
	return (struct env){.base = srv->base,
	                    .cfg = srv->cfg,
	                    .clock = &srv->clock,
	                    .catalog = &srv->catalog,
	                    .tls = srv->tls,
	                    .policy = srv->policy,
	                    .engine = srv->engine,
	                    .events = srv->events,
	                    .store = srv->store,
	                    .flow = srv->flow,
	                    .profile = srv->profile,
	                    .account = srv->account};
}

static int use_scenario_op(void *arg, struct scenario *sc, char **errors)
{
	return server_use_scenario(arg, sc, errors);
}

static void restart_scenario_op(void *arg)
{
	server_restart_scenario(arg);
}

static void health_op(void *arg, size_t *sessions, int *draining, double *uptime)
{
	struct server *srv = arg;

	*sessions = srv->smtp ? smtp_server_sessions(srv->smtp) : 0;
	*draining = srv->draining;
	*uptime = clock_now() - srv->started;
}

static int start_front_ends(struct server *srv, char *err, size_t errlen)
{
	struct env env = front_env(srv);
	struct control_ops ops = {.use_scenario = use_scenario_op,
	                          .restart_scenario = restart_scenario_op,
	                          .health = health_op,
	                          .arg = srv};
	const struct config *cfg = srv->cfg;
	const struct profile *p = srv->profile;

	if ((srv->smtp = smtp_server_new(&env, on_drained, srv, err, errlen)) == NULL)
		return -1;
	if (cfg->listen_https && p->https_new != NULL &&
	    !(srv->https = p->https_new(&env, cfg->listen_https, &srv->https_port, err, errlen)))
		return -1;
	if (cfg->listen_control &&
	    !(srv->control = control_api_new(&env, &ops, cfg->listen_control, &srv->control_port,
	                                     err, errlen)))
		return -1;
	return 0;
}

static int start_listeners(struct server *srv, char *err, size_t errlen)
{
	struct config *cfg = srv->cfg;
	int smtp = 0, smtps = 0, https, control;
	struct timeval flush = {0, 200000};

	if (cfg->listen_smtp &&
	    !(srv->smtp_listener = listen_on(srv, cfg->listen_smtp, "smtp", &smtp, err, errlen)))
		return -1;
	if (cfg->listen_smtps && !(srv->smtps_listener = listen_on(srv, cfg->listen_smtps, "smtps",
	                                                           &smtps, err, errlen)))
		return -1;
	if (start_front_ends(srv, err, errlen) < 0)
		return -1;
	srv->flush_timer = event_new(srv->base, -1, EV_PERSIST, on_flush, srv);
	evtimer_add(srv->flush_timer, &flush);
	srv->smtp_port = smtp;
	srv->smtps_port = smtps;
	https = srv->https_port;
	control = srv->control_port;
	if (write_ready_file(srv, smtp, smtps, https, control) < 0) {
		snprintf(err, errlen, "cannot write %s", srv->ready_path);
		return -1;
	}
	malloc_trim(0); /* what start-up parsed and freed goes back: a small idle footprint */
	log_info("ready in %.1f ms: smtp port %d, smtps port %d, https port %d, control port %d "
	         "(state in %s)",
	         (clock_now() - srv->started) * 1000.0, smtp, smtps, https, control,
	         cfg->state_dir);
	return 0;
}

/* The epoll change list folds a write event that is added and removed in
 * one loop iteration into no system call at all. Signals are caught from
 * here on, so a SIGTERM during start-up still shuts down in order. */
static int create_loop(struct server *srv)
{
	struct event_config *ec = event_config_new();

	if (ec == NULL)
		return -1;
	event_config_set_flag(ec, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
	srv->base = event_base_new_with_config(ec);
	event_config_free(ec);
	if (srv->base == NULL)
		return -1;
	srv->sigterm = evsignal_new(srv->base, SIGTERM, on_signal, srv);
	srv->sigint = evsignal_new(srv->base, SIGINT, on_signal, srv);
	evsignal_add(srv->sigterm, NULL);
	evsignal_add(srv->sigint, NULL);
	return 0;
}

static int load_scenario_file(struct server *srv, const char *file, char *err, size_t errlen)
{
	char *errors = NULL;
	size_t len = 0;
	struct scenario *sc;
	char *text = read_file(file, &len);

	if (text == NULL) {
		snprintf(err, errlen, "%s: cannot open: %s", file, strerror(errno));
		return -1;
	}
	sc = scenario_load(file, text, len, &srv->catalog, &errors);
	free(text);
	if (sc == NULL) {
		snprintf(err, errlen, "the scenario is refused:\n%s", errors ? errors : file);
		free(errors);
		return -1;
	}
	if (server_use_scenario(srv, sc, &errors) < 0) {
		snprintf(err, errlen, "the scenario's settings do not apply:\n%s",
		         errors ? errors : "");
		free(errors);
		scenario_free(sc);
		return -1;
	}
	log_info("scenario %s loaded from %s: %zu rule(s)", sc->name, file, sc->nrules);
	return 0;
}

static void forget_rules(struct server *srv)
{
	if (srv->smtp != NULL)
		smtp_server_scenario_changed(srv->smtp);
	if (srv->https != NULL)
		srv->profile->https_scenario_changed(srv->https);
}

/* Puts in force the configuration edsim started with plus sc's settings,
 * and sc's clock; every session forgets the rules it held. The engine is the
 * caller's to update. */
static int use_settings(struct server *srv, const struct scenario *sc, char **errors)
{
	struct config next;

	config_copy(&next, srv->base_cfg);
	if (sc != NULL && sc->settings_text != NULL &&
	    config_overlay_text(&next, sc->settings_text, strlen(sc->settings_text), errors) < 0) {
		config_free(&next);
		return -1;
	}
	/* srv->cfg stays the same object (every module holds it); its contents change */
	config_free(srv->cfg);
	*srv->cfg = next;
	policy_set_config(srv->policy, srv->cfg);
	vclock_set_speed(&srv->clock, sc != NULL ? sc->clock_speed : 1.0);
	forget_rules(srv);
	return 0;
}

/* Makes sc (or none) the active scenario with its settings and clock;
 * -1 with *errors when its settings do not apply (the old one stays). */
static int server_use_scenario(struct server *srv, struct scenario *sc, char **errors)
{
	*errors = NULL;
	if (use_settings(srv, sc, errors) < 0)
		return -1;
	engine_set(srv->engine, sc);
	return 0;
}

/* POST /api/v1/reset: the active scenario starts afresh (its settings
 * without any rule's set, its counters at zero). */
static int server_restart_scenario(struct server *srv)
{
	int rc = use_settings(srv, engine_scenario(srv->engine), NULL);

	engine_reset(srv->engine);
	return rc;
}

/* Before any thread: the files every TLS context will load, the relay's CA
 * included, are checked (in a child process, tls_check_start()) while the
 * store opens; server_init() waits for the verdict before it listens, so a
 * bad one stops the start. The contexts come on first use. */
static void start_tls(struct server *srv, struct tls_check *check)
{
	const struct config *cfg = srv->cfg;
	const char *relay_ca = cfg->relay.tls != RELAY_TLS_NONE ? cfg->relay.ca : NULL;

	tls_check_start(check, cfg->tls_cert, cfg->tls_key, cfg->state_dir, relay_ca);
	srv->tls = tls_new(cfg->tls_cert, cfg->tls_key, cfg->state_dir);
}

/* The rest of the start, with the TLS check running beside it. */
static int start_rest(struct server *srv, const char *scenario_file, char *err, size_t errlen)
{
	struct env env;

	if (create_loop(srv) < 0) {
		snprintf(err, errlen, "cannot create the event loop");
		return -1;
	}
	if (open_store(srv, err, errlen) < 0)
		return -1;
	srv->store->id_style = (enum store_id_style)srv->profile->message_id_style;
	srv->policy = policy_new(srv->cfg);
	srv->engine = engine_new();
	if (scenario_file != NULL && load_scenario_file(srv, scenario_file, err, errlen) < 0)
		return -1;
	if ((srv->events = events_new(srv->cfg->state_dir, err, errlen)) == NULL)
		return -1;
	env = front_env(srv);
	if (srv->profile->account_new != NULL)
		srv->account = srv->profile->account_new(&env);
	env = front_env(srv);
	return (srv->flow = mailflow_new(&env, err, errlen)) ? 0 : -1;
}

int server_init(struct server *srv, struct config *cfg, const char *scenario_file, char *err,
                size_t errlen)
{
	struct tls_check check;

	memset(srv, 0, sizeof *srv);
	srv->profile = profile_find(cfg->profile);
	if (srv->profile == NULL) {
		char names[128];
		profile_names(names, sizeof names);
		snprintf(err, errlen, "profile: unknown profile '%s' (edsim knows: %s)",
		         cfg->profile, names);
		return -1;
	}
	srv->base_cfg = cfg;
	srv->cfg = xcalloc(1, sizeof *srv->cfg);
	config_copy(srv->cfg, cfg);
	srv->started = clock_now();
	vclock_init(&srv->clock);
	if (make_dirs(cfg->state_dir) < 0) {
		snprintf(err, errlen, "cannot create the state directory %s: %s", cfg->state_dir,
		         strerror(errno));
		return -1;
	}
	if (load_catalog(srv, err, errlen) < 0)
		return -1;
	start_tls(srv, &check);
	if (start_rest(srv, scenario_file, err, errlen) < 0) {
		char tls_err[1024];
		/* a TLS file's error comes first: it is the one the user saw before */
		if (tls_check_finish(&check, tls_err, sizeof tls_err) < 0)
			snprintf(err, errlen, "%s", tls_err);
		return -1;
	}
	if (tls_check_finish(&check, err, errlen) < 0)
		return -1;
	if (policy_is_open(srv->policy) && srv->profile->smtp_login == NULL)
		log_warn("no users configured: any credentials and any sender are accepted");
	return start_listeners(srv, err, errlen);
}

int server_run(struct server *srv)
{
	return event_base_dispatch(srv->base) < 0 ? -1 : 0;
}

void server_free(struct server *srv)
{
	struct timeval tick = {0, 10000};

	/* Normally the drain has closed every session; give stragglers one second. */
	for (int i = 0; srv->smtp != NULL && smtp_server_sessions(srv->smtp) > 0 && i < 100; i++) {
		smtp_server_abort(srv->smtp);
		event_base_loopexit(srv->base, &tick);
		event_base_dispatch(srv->base);
	}
	if (srv->ready_path[0])
		unlink(srv->ready_path);
	if (srv->smtp_listener)
		evconnlistener_free(srv->smtp_listener);
	if (srv->smtps_listener)
		evconnlistener_free(srv->smtps_listener);
	/* Submissions still waiting for their sync get their answers, events
	 * and relay hand-over while the front ends and the relay exist. */
	if (srv->store)
		store_drain(srv->store);
	if (srv->https != NULL)
		srv->profile->https_free(srv->https);
	control_api_free(srv->control);
	smtp_server_free(srv->smtp);
	mailflow_free(srv->flow);
	if (srv->store)
		store_close(srv->store);
	if (srv->events)
		events_flush(srv->events);
	events_free(srv->events);
	if (srv->account != NULL)
		srv->profile->account_free(srv->account);
	policy_free(srv->policy);
	engine_free(srv->engine);
	if (srv->sigterm)
		event_free(srv->sigterm);
	if (srv->sigint)
		event_free(srv->sigint);
	if (srv->drain_timer)
		event_free(srv->drain_timer);
	if (srv->flush_timer)
		event_free(srv->flush_timer);
	if (srv->base)
		event_base_free(srv->base);
	tls_free(srv->tls);
	catalog_free(&srv->catalog);
	if (srv->cfg != NULL)
		config_free(srv->cfg);
	free(srv->cfg);
}
