/*
 * https_front.c - what every provider's HTTPS API shares: the TLS listener,
 * request ids, the request-rate window, the scenario's verdicts at the
 * HTTPS stages, waits, events and the commit of an accepted message.
 *
 * A request held by a rule's delay is a struct https_wait on the front's
 * LIST until its timer fires; a scenario change makes every timer fire at
 * once with the rule forgotten, so that the request goes on natively. A
 * submission waiting for its commit is a struct commit; its connection's
 * close callback clears its request, so that the answer is not sent to a
 * gone connection (the message stays stored).
 *
 * The records are small and fixed (xmalloc.h); a request body is as large
 * as the client made it, so its copy is a checked malloc.
 */
#include "https_front.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include "catalog.h"
#include "clock.h"
#include "config.h"
#include "env.h"
#include "events.h"
#include "mailflow.h"
#include "policy.h"
#include "scenario_engine.h"
#include "store.h"
#include "tls.h"
#include "util.h"
#include "xmalloc.h"

struct https_front {
	struct env env;
	const struct https_front_ops *ops;
	void *arg;
	struct evhttp *http;
	LIST_HEAD(, https_wait) waiting; /* requests a rule's delay holds */
	uint64_t next_request;
	double window_start; /* the current second of the request-rate limit */
	unsigned long long window_requests;
};

/* A request held by a rule's delay; it resumes at the stage it stopped. */
struct https_wait {
	LIST_ENTRY(https_wait) link;
	struct https_front *front;
	struct evhttp_request *req; /* NULL once its connection is gone */
	enum scenario_stage resume; /* hooks of earlier stages have run */
	const struct rule *forced;  /* the delayed rule, acting when the wait ends */
	uint64_t attempt;
	struct event *timer;
};

/* A submission waiting for its commit. */
struct commit {
	struct https_req r;
	char client_ip[64];
	char command[8];
	char id[STORE_ID_MAX]; /* the stored message's id, for the event */
	char *user;
	char *body;
	const char *content_type;
};

const struct env *https_front_env(const struct https_front *f)
{
	return &f->env;
}

int https_front_rate_limited(struct https_front *f)
{
	unsigned long long limit = f->env.cfg->limits.requests_per_second;
	double now = vclock_now(f->env.clock);

	if (limit == 0)
		return 0;
	if (now - f->window_start >= 1.0) {
		f->window_start = now;
		f->window_requests = 0;
	}
	return ++f->window_requests > limit;
}

const char *https_front_header(void *arg, const char *name)
{
	return evhttp_find_header(evhttp_request_get_input_headers(arg), name);
}

const char *https_front_peer(struct evhttp_request *req)
{
	char *peer = NULL;
	ev_uint16_t port = 0;

	evhttp_connection_get_peer(evhttp_request_get_connection(req), &peer, &port);
	return peer ? peer : "";
}

const char *https_front_path(struct evhttp_request *req)
{
	return evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
}

const char *https_front_method(struct evhttp_request *req)
{
	switch (evhttp_request_get_command(req)) {
	case EVHTTP_REQ_GET:
		return "get";
	case EVHTTP_REQ_PUT:
		return "put";
	case EVHTTP_REQ_DELETE:
		return "delete";
	case EVHTTP_REQ_HEAD:
		return "head";
	default:
		return "post";
	}
}

char *https_front_body(struct evhttp_request *req, size_t *len)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	char *text;

	*len = evbuffer_get_length(in);
	if ((text = malloc(*len + 1)) == NULL) /* as long as the client sent */
		return NULL;
	evbuffer_copyout(in, text, *len);
	text[*len] = '\0';
	return text;
}

/* "POST" for the events: the method in capitals. */
static void command_of(struct evhttp_request *req, char out[8])
{
	const char *m = https_front_method(req);
	size_t i;

	for (i = 0; m[i] != '\0' && i < 7; i++)
		out[i] = (char)(m[i] - 'a' + 'A');
	out[i] = '\0';
}

static void record_event(struct https_front *f, const char *client_ip, const char *command,
                         const char *user, const char *type, int status, const char *text,
                         const char *message, const char *rule)
{
	struct event_record rec = {.type = type,
	                           .rule = rule,
	                           .client_ip = client_ip,
	                           .user = user,
	                           .stage = "https",
	                           .command = command,
	                           .code = status,
	                           .reply = text,
	                           .message = message};

	events_emit(f->env.events, &rec);
}

void https_front_record(struct https_front *f, struct evhttp_request *req, const char *user,
                        const char *type, int status, const char *text, const char *message)
{
	char command[8];

	command_of(req, command);
	record_event(f, https_front_peer(req), command, user, type, status, text, message, NULL);
}

/* The answer's head and body as one piece of the connection's output, so
 * that the TLS layer sends them as one record in one write (it writes each
 * piece of its output as a record of its own). */
static void one_record(struct evhttp_connection *conn)
{
	struct bufferevent *bev = conn ? evhttp_connection_get_bufferevent(conn) : NULL;

	if (bev != NULL)
		evbuffer_pullup(bufferevent_get_output(bev), -1);
}

void https_front_send(struct https_req *r, int status, const char *reason, const char *content_type,
                      const char *body, size_t len)
{
	struct evhttp_connection *conn = evhttp_request_get_connection(r->req);
	struct evkeyvalq *h = evhttp_request_get_output_headers(r->req);
	struct evbuffer *out = evbuffer_new();

	evhttp_add_header(h, "Content-Type", content_type);
	evhttp_add_header(h, r->front->ops->request_id_header, r->request_id);
	evbuffer_add(out, body, len);
	evhttp_send_reply(r->req, status, reason ? reason : status == 200 ? "OK" : "Error", out);
	one_record(conn);
	evbuffer_free(out);
}

/* ---- the commit of an accepted message ---------------------------------------- */

static void on_commit_closed(struct evhttp_connection *conn, void *arg)
{
	struct commit *c = arg;

	(void)conn;
	c->r.req = NULL;
}

static void on_committed(void *arg, int ok, const struct store_message *m)
{
	struct commit *c = arg;
	struct https_front *f = c->r.front;

	(void)m;
	if (ok)
		record_event(f, c->client_ip, c->command, c->user, "accepted", 200, NULL, c->id,
		             NULL);
	if (c->r.req != NULL) {
		evhttp_connection_set_closecb(evhttp_request_get_connection(c->r.req), NULL, NULL);
		if (ok)
			https_front_send(&c->r, 200, NULL, c->content_type, c->body,
			                 strlen(c->body));
		else
			f->ops->commit_failed(f->arg, &c->r);
	}
	free(c->body);
	free(c->user);
	free(c);
}

int https_front_commit(struct https_req *r, struct store_message *m, const char *user, char *body,
                       const char *content_type)
{
	struct commit *c = xcalloc(1, sizeof *c);
	struct evhttp_connection *conn = evhttp_request_get_connection(r->req);

	c->r = *r;
	c->user = xstrdup(user);
	c->body = body;
	c->content_type = content_type;
	snprintf(c->client_ip, sizeof c->client_ip, "%s", https_front_peer(r->req));
	command_of(r->req, c->command);
	snprintf(c->id, sizeof c->id, "%s", m->id);
	m->user = xstrdup(user);
	evhttp_connection_set_closecb(conn, on_commit_closed, c);
	if (mailflow_submit(r->front->env.flow, m, on_committed, c) < 0) {
		evhttp_connection_set_closecb(conn, NULL, NULL);
		store_message_free(m);
		free(c->body);
		free(c->user);
		free(c);
		return -1;
	}
	return 0;
}

struct store_message *https_front_message(struct https_front *f, struct evhttp_request *req,
                                          const char *sender, const char *const *rcpts, size_t n)
{
	struct store_message *m = xcalloc(1, sizeof *m);

	store_assign_id(f->env.store, m);
	m->received = clock_wall();
	snprintf(m->client_ip, sizeof m->client_ip, "%s", https_front_peer(req));
	m->mail_from = xstrdup(sender);
	m->rcpts = xcalloc(n, sizeof *m->rcpts);
	m->nrcpt = n;
	for (size_t i = 0; i < n; i++) {
		m->rcpts[i].address = xstrdup(rcpts[i]);
		m->rcpts[i].suppressed = policy_is_suppressed(f->env.policy, rcpts[i]);
	}
	return m;
}

/* ---- the scenario's verdicts ------------------------------------------------------ */

static void handle(struct https_front *f, struct evhttp_request *req, struct https_wait *resumed);

static void on_wait_closed(struct evhttp_connection *conn, void *arg)
{
	struct https_wait *w = arg;

	(void)conn;
	w->req = NULL;
}

static void on_wait_over(evutil_socket_t fd, short what, void *arg)
{
	struct https_wait *w = arg;

	(void)fd;
	(void)what;
	LIST_REMOVE(w, link);
	if (w->req != NULL) {
		evhttp_connection_set_closecb(evhttp_request_get_connection(w->req), NULL, NULL);
		handle(w->front, w->req, w);
	}
	event_free(w->timer);
	free(w);
}

static void start_wait(struct https_front *f, struct evhttp_request *req, enum scenario_stage stage,
                       const struct rule *r, double delay, uint64_t attempt)
{
	struct https_wait *w = xcalloc(1, sizeof *w);
	struct timeval tv;

	w->front = f;
	w->req = req;
	w->resume = stage;
	w->forced = r;
	w->attempt = attempt;
	w->timer = evtimer_new(f->env.base, on_wait_over, w);
	LIST_INSERT_HEAD(&f->waiting, w, link);
	tv.tv_sec = (long)delay;
	tv.tv_usec = (long)((delay - (double)tv.tv_sec) * 1e6);
	evhttp_connection_set_closecb(evhttp_request_get_connection(req), on_wait_closed, w);
	evtimer_add(w->timer, &tv);
}

void https_front_scenario_changed(struct https_front *f)
{
	static const struct timeval now = {0, 0};

	if (f == NULL)
		return;
	for (struct https_wait *w = LIST_FIRST(&f->waiting); w != NULL; w = LIST_NEXT(w, link)) {
		w->forced = NULL; /* the old scenario's rule: resume natively, now */
		evtimer_add(w->timer, &now);
	}
}

/* Closes the connection without an answer. */
static void drop_request(struct evhttp_request *req)
{
	struct bufferevent *bev =
	    evhttp_connection_get_bufferevent(evhttp_request_get_connection(req));

	shutdown(bufferevent_getfd(bev), SHUT_RDWR);
}

/* A rule answered (or dropped) the request: an event like a native one,
 * naming the rule. */
static void record_forced(struct https_front *f, struct evhttp_request *req, const char *label,
                          int status, const char *text)
{
	char command[8];

	command_of(req, command);
	record_event(f, https_front_peer(req), command, NULL,
	             status == 0    ? "dropped"
	             : status < 400 ? "accepted"
	                            : "rejected",
	             status, text, NULL, label);
}

static void send_forced(struct https_req *r, const struct verdict *v, const struct hook_ctx *ctx)
{
	struct https_front *f = r->front;
	struct evkeyvalq *h = evhttp_request_get_output_headers(r->req);
	const struct rule *rule = v->rule;
	const struct cat_entry *e = rule->act.reply_entry;

	for (size_t i = 0; i < rule->act.nheaders; i++)
		evhttp_add_header(h, rule->act.header_names[i], rule->act.header_values[i]);
	if (rule->act.close)
		evhttp_add_header(h, "Connection", "close");
	f->ops->send_forced(f->arg, r, e, e ? e->status : rule->act.https_status,
	                    e ? e->error_code : rule->act.https_code,
	                    e ? e->message : rule->act.https_message, ctx);
	record_forced(f, r->req, v->label, v->code, e ? e->error_code : rule->act.https_code);
}

static uint64_t request_attempt(struct https_front *f, struct evhttp_request *req)
{
	const char *name = f->ops->attempt_header;
	const char *id = name ? https_front_header(req, name) : NULL;
	char key[200];

	if (!engine_uses_attempt(f->env.engine) || id == NULL)
		return 1;
	snprintf(key, sizeof key, "%s:%s", name, id);
	return engine_attempt(f->env.engine, key);
}

int https_front_hook(struct https_req *r, struct hook_ctx *ctx)
{
	struct https_front *f = r->front;
	struct https_wait *w = r->resumed;
	const struct rule *held = NULL;
	struct verdict v;

	if (w != NULL && w->resume == ctx->stage && w->forced != NULL) {
		held = w->forced;
		w->forced = NULL;
	} else if (w != NULL && ctx->stage <= w->resume) {
		return 0; /* it ran before the wait */
	}
	ctx->method = https_front_method(r->req);
	ctx->path = https_front_path(r->req);
	ctx->header = https_front_header;
	ctx->header_arg = r->req;
	ctx->attempt = w != NULL ? w->attempt : request_attempt(f, r->req);
	v = engine_decide(f->env.engine, ctx, held);
	if (v.kind == V_NATIVE)
		return 0;
	if (v.kind == V_WAIT) {
		start_wait(f, r->req, ctx->stage, v.rule, v.delay, ctx->attempt);
		return 1;
	}
	env_apply_effects(&f->env, &v.rule->act, ctx->user);
	switch (v.kind) {
	case V_DROP:
		record_forced(f, r->req, v.label, 0, NULL);
		drop_request(r->req);
		return 1;
	case V_REPLY:
		send_forced(r, &v, ctx);
		return 1;
	default:
		return v.kind == V_ACCEPT ? 2 : 0;
	}
}

/* ---- the listener ----------------------------------------------------------------- */

static void handle(struct https_front *f, struct evhttp_request *req, struct https_wait *resumed)
{
	struct https_req r = {.front = f, .req = req, .resumed = resumed};
	struct hook_ctx ctx = {.stage = STAGE_REQUEST};
	int h;

	f->ops->request_id(f->arg, req, ++f->next_request, r.request_id, sizeof r.request_id);
	if ((h = https_front_hook(&r, &ctx)) == 1)
		return;
	f->ops->handle(f->arg, &r, h);
}

static void route(struct evhttp_request *req, void *arg)
{
	handle(arg, req, NULL);
}

static struct bufferevent *tls_bufferevent(struct event_base *base, void *arg)
{
	struct https_front *f = arg;
	SSL *ssl = SSL_new(tls_context(f->env.tls));
	struct bufferevent *bev =
	    ssl ? bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
	                                         BEV_OPT_CLOSE_ON_FREE)
	        : NULL;

	if (bev == NULL)
		SSL_free(ssl);
	else
		bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	return bev;
}

struct https_front *https_front_new(const struct env *env, const char *listen, int *port,
                                    size_t max_body, const struct https_front_ops *ops, void *arg,
                                    char *err, size_t errlen)
{
	struct evhttp *http;
	struct https_front *f;
	evutil_socket_t fd;

	http = http_listen(env->base, listen, "listen.https", "https", port, &fd, err, errlen);
	if (http == NULL) {
		free(arg);
		return NULL;
	}
	f = xcalloc(1, sizeof *f);
	LIST_INIT(&f->waiting);
	f->env = *env;
	f->ops = ops;
	f->arg = arg;
	f->http = http;
	evhttp_set_bevcb(f->http, tls_bufferevent, f);
	evhttp_set_max_body_size(f->http, (ev_ssize_t)max_body);
	evhttp_set_gencb(f->http, route, f);
	/* Answers leave in two TLS records (head, body): with Nagle the second
	 * waits for the client's delayed ACK, about 40 ms. Accepted sockets
	 * inherit TCP_NODELAY from the listening one. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){1}, sizeof(int));
	return f;
}

void https_front_free(struct https_front *f)
{
	if (f == NULL)
		return;
	while (!LIST_EMPTY(&f->waiting)) {
		struct https_wait *w = LIST_FIRST(&f->waiting);
		LIST_REMOVE(w, link);
		if (w->req != NULL)
			evhttp_connection_set_closecb(evhttp_request_get_connection(w->req), NULL,
			                              NULL);
		event_free(w->timer);
		free(w);
	}
	evhttp_free(f->http);
	free(f->arg);
	free(f);
}
