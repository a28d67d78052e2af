/*
 * https_oci.c - POST /20220926/actions/submitEmail, answered as the service
 * answers it.
 *
 * Every response carries opc-request-id (the client's, else a new one) and
 * every error is {"code", "message"} from the catalog. An accepted request
 * becomes a real message in the same store as SMTP mail, with the same
 * quotas, approvals and suppressions; the 200 is sent after the commit.
 * A request whose connection closes before its commit calls back is
 * forgotten (the message is still stored). Requests a rule's delay holds
 * wait on a LIST, so that a scenario change can release them all.
 *
 * The request body and the message made from it are as large as the client
 * made them: a failure to allocate them answers oci.https.internal-error.
 * Everything else (the records, the envelope's copies) comes from xmalloc.h.
 */
#include "https_oci.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/bufferevent_ssl.h>
#include <event2/http.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include "catalog.h"
#include "clock.h"
#include "config.h"
#include "env.h"
#include "events.h"
#include "mailflow.h"
#include "message.h"
#include "oci_signature.h"
#include "scenario_engine.h"
#include "oci_submit.h"
#include "policy.h"
#include "address.h"
#include "store.h"
#include "tls.h"
#include "util.h"
#include "xmalloc.h"

#define SUBMIT_PATH     "/20220926/actions/submitEmail"
#define SUBMIT_RAW_PATH "/20220926/actions/submitRawEmail"

struct call;
struct hook_ctx;

struct https_api {
	struct env env;
	struct evhttp *http;
	LIST_HEAD(, call) waiting; /* requests a rule's delay holds */
	uint64_t next_request;
	double window_start; /* the current second of the request-rate limit */
	unsigned long long window_requests;
};

static int https_hook(struct https_api *api, struct evhttp_request *req, const char *request_id,
                      struct call *c, struct hook_ctx *ctx);

/* limits.requests_per_second, counted in fixed one-second windows of the
 * server's clock: 1 when this request is over the limit. */
static int rate_limited(struct https_api *api)
{
	unsigned long long limit = api->env.cfg->limits.requests_per_second;
	double now = vclock_now(api->env.clock);

	if (limit == 0)
		return 0;
	if (now - api->window_start >= 1.0) {
		api->window_start = now;
		api->window_requests = 0;
	}
	return ++api->window_requests > limit;
}

/* A submission waiting for its commit. */
struct pending {
	struct https_api *api;
	struct evhttp_request *req; /* NULL once its connection is gone */
	char request_id[80];
	char client_ip[64];
	char *user;
	json_t *answer;
};

/* An event for a submission, as SMTP records one per message: stage
 * "https", the HTTP status as the code. */
static void record_rule(struct https_api *api, const char *client_ip, const char *user,
                        const char *type, int status, const char *text, const char *message,
                        const char *rule)
{
	struct event_record rec = {.type = type,
	                           .rule = rule,
	                           .client_ip = client_ip,
	                           .user = user,
	                           .stage = "https",
	                           .command = "POST",
	                           .code = status,
	                           .reply = text,
	                           .message = message};

	events_emit(api->env.events, &rec);
}

static void record(struct https_api *api, const char *client_ip, const char *user, const char *type,
                   int status, const char *text, const char *message)
{
	record_rule(api, client_ip, user, type, status, text, message, NULL);
}

static const char *peer_of(struct evhttp_request *req)
{
	char *peer = NULL;
	ev_uint16_t port = 0;

	evhttp_connection_get_peer(evhttp_request_get_connection(req), &peer, &port);
	return peer ? peer : "";
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

static void send_json(struct evhttp_request *req, const char *request_id, int status, json_t *body)
{
	struct evhttp_connection *conn = evhttp_request_get_connection(req);
	struct evbuffer *out = evbuffer_new();
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	char *text = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);
	const char *answer = text != NULL ? text : "{}";

	evhttp_add_header(h, "Content-Type", "application/json");
	evhttp_add_header(h, "opc-request-id", request_id);
	evbuffer_add(out, answer, strlen(answer));
	evhttp_send_reply(req, status, status == 200 ? "OK" : "Error", out);
	one_record(conn);
	free(text);
	json_decref(body);
	evbuffer_free(out);
}

/* The catalog entry's status, code and message, its placeholders filled. */
static void send_entry(struct evhttp_request *req, const char *request_id,
                       const struct cat_entry *e, const struct cat_var *vars, size_t nvars)
{
	char message[1024];

	catalog_fill(e->message ? e->message : "", vars, nvars, message, sizeof message);
	send_json(req, request_id, e->status,
	          json_pack("{s:s, s:s}", "code", e->error_code ? e->error_code : "", "message",
	                    message));
}

static void send_error(struct https_api *api, struct evhttp_request *req, const char *request_id,
                       const char *id, const char *name, const char *value)
{
	const struct cat_entry *e = catalog_find(api->env.catalog, id);
	struct cat_var var = {name, value};

	if (e != NULL)
		record(api, peer_of(req), NULL, "rejected", e->status, e->error_code, NULL);
	if (e == NULL) {
		send_json(req, request_id, 500,
		          json_pack("{s:s, s:s}", "code", "InternalServerError", "message",
		                    "Internal Server Error"));
		return;
	}
	send_entry(req, request_id, e, &var, name ? 1 : 0);
}

static void request_id_for(struct https_api *api, struct evhttp_request *req, char *out, size_t len)
{
	const char *given =
	    evhttp_find_header(evhttp_request_get_input_headers(req), "opc-request-id");

	if (given != NULL && *given != '\0' && strlen(given) < len)
		snprintf(out, len, "%s", given);
	else
		snprintf(out, len, "EDSIM%016llX%08llX",
		         (unsigned long long)(clock_wall() * 1000.0),
		         (unsigned long long)++api->next_request);
}

static const char *header_of(void *arg, const char *name)
{
	return evhttp_find_header(evhttp_request_get_input_headers(arg), name);
}

static const char *method_name(enum evhttp_cmd_type cmd)
{
	switch (cmd) {
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

/* https.auth verify: the signature over the listed headers checks out with
 * the public key of the user named in keyId, and a body is covered by a
 * matching x-content-sha256. */
static int signature_verified(struct https_api *api, struct evhttp_request *req,
                              const struct oci_sig *sig, char *user, size_t len)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	const struct config_user *u;
	char text[4096], hash[64];
	size_t body_len = evbuffer_get_length(in);

	if (oci_sig_user(sig, user, len) < 0 ||
	    (u = policy_find_user(api->env.policy, user)) == NULL || u->public_key == NULL)
		return 0;
	if (oci_sig_signing_string(sig, method_name(evhttp_request_get_command(req)),
	                           evhttp_request_get_uri(req), header_of, req, text,
	                           sizeof text) < 0 ||
	    !oci_sig_verify(u->public_key, text, sig->signature))
		return 0;
	if (evhttp_request_get_command(req) == EVHTTP_REQ_POST) {
		const char *given = header_of(req, "x-content-sha256");
		oci_sig_body_hash(evbuffer_pullup(in, (ev_ssize_t)body_len), body_len, hash);
		if (!oci_sig_covers(sig, "x-content-sha256") || given == NULL ||
		    strcmp(given, hash) != 0)
			return 0;
	}
	return 1;
}

/* https.auth: 0 when the request may go on, with the signing user in user
 * ("" unless verify), -1 when it is not authenticated. */
static int authenticate(struct https_api *api, struct evhttp_request *req, char *user, size_t len)
{
	struct oci_sig sig;

	user[0] = '\0';
	if (api->env.cfg->https_auth == HTTPS_AUTH_OFF)
		return 0;
	if (oci_sig_parse(header_of(req, "Authorization"), &sig) < 0)
		return -1;
	if (api->env.cfg->https_auth == HTTPS_AUTH_PRESENT)
		return 0;
	return signature_verified(api, req, &sig, user, len) ? 0 : -1;
}

static void on_connection_closed(struct evhttp_connection *conn, void *arg)
{
	struct pending *p = arg;

	(void)conn;
	p->req = NULL;
}

static void on_committed(void *arg, int ok, const struct store_message *m)
{
	struct pending *p = arg;

	(void)m;
	if (ok)
		record(p->api, p->client_ip, p->user, "accepted", 200, NULL,
		       json_string_value(json_object_get(p->answer, "envelopeId")));
	if (p->req != NULL) {
		evhttp_connection_set_closecb(evhttp_request_get_connection(p->req), NULL, NULL);
		if (ok)
			send_json(p->req, p->request_id, 200, json_incref(p->answer));
		else
			send_json(p->req, p->request_id, 500,
			          json_pack("{s:s, s:s}", "code", "InternalServerError", "message",
			                    "Internal Server Error"));
	}
	json_decref(p->answer);
	free(p->user);
	free(p);
}

/* Quotas and approval: the refusal's catalog id, or NULL. */
static const char *policy_refusal(struct https_api *api, const char *user, const char *sender,
                                  char *limit, size_t len)
{
	struct policy *pol = api->env.policy;
	unsigned long long n = 0;

	if (!policy_sender_approved(pol, user, sender))
		return "oci.https.sender-not-authorized";
	switch (policy_quota_check(pol, user, vclock_now(api->env.clock), &n)) {
	case QUOTA_MINUTE:
		snprintf(limit, len, "%llu", n);
		return "oci.https.rate-minute";
	case QUOTA_DAY:
		snprintf(limit, len, "%llu", n);
		return "oci.https.rate-day";
	case QUOTA_OK:
		break;
	}
	return NULL;
}

/* A store record for a submission: its id, time, peer and envelope, with
 * the suppressed recipients listed in *suppressed. */
static struct store_message *new_message(struct https_api *api, struct evhttp_request *req,
                                         const char *sender, const char *const *rcpts, size_t n,
                                         json_t **suppressed)
{
	struct store_message *m = xcalloc(1, sizeof *m);
	char *peer = NULL;
	ev_uint16_t port = 0;

	*suppressed = json_array();
	store_assign_id(api->env.store, m);
	m->received = clock_wall();
	evhttp_connection_get_peer(evhttp_request_get_connection(req), &peer, &port);
	snprintf(m->client_ip, sizeof m->client_ip, "%s", peer ? peer : "");
	m->mail_from = xstrdup(sender);
	m->rcpts = xcalloc(n, sizeof *m->rcpts);
	m->nrcpt = n;
	for (size_t i = 0; i < n; i++) {
		m->rcpts[i].address = xstrdup(rcpts[i]);
		m->rcpts[i].suppressed = policy_is_suppressed(api->env.policy, rcpts[i]);
		if (m->rcpts[i].suppressed)
			json_array_append_new(*suppressed, json_string(rcpts[i]));
	}
	return m;
}

static struct store_message *make_message(struct https_api *api, struct evhttp_request *req,
                                          const json_t *body, json_t **suppressed)
{
	const char **rcpts = NULL;
	const json_t *subject = json_object_get(body, "subject");
	size_t n = oci_submit_recipients(body, &rcpts);
	const char *sender = json_string_value(json_object_get(
	    json_object_get(json_object_get(body, "sender"), "senderAddress"), "email"));
	struct store_message *m = new_message(api, req, sender, rcpts, n, suppressed);
	char generated[80];

	free(rcpts);
	snprintf(generated, sizeof generated, "<%s@edsim.invalid>", m->id);
	m->message_id = xstrdup(json_is_string(json_object_get(body, "messageId"))
	                            ? json_string_value(json_object_get(body, "messageId"))
	                            : generated);
	m->subject = json_is_string(subject) ? xstrdup(json_string_value(subject)) : NULL;
	m->raw = oci_submit_message(body, m->message_id, m->received, &m->raw_len);
	return m;
}

/* Stores m and answers 200 once it is committed; owns m and suppressed.
 * m->raw NULL (the message could not be made): internal-error. */
static void accept_message(struct https_api *api, struct evhttp_request *req,
                           const char *request_id, const char *user, struct store_message *m,
                           json_t *suppressed)
{
	struct pending *p;

	if (m->raw == NULL) {
		store_message_free(m);
		json_decref(suppressed);
		send_error(api, req, request_id, "oci.https.internal-error", NULL, NULL);
		return;
	}
	p = xcalloc(1, sizeof *p);
	p->api = api;
	p->req = req;
	p->user = xstrdup(user);
	snprintf(p->client_ip, sizeof p->client_ip, "%s", peer_of(req));
	snprintf(p->request_id, sizeof p->request_id, "%s", request_id);
	p->answer = json_pack("{s:s, s:s, s:o}", "messageId", m->message_id ? m->message_id : "",
	                      "envelopeId", m->id, "suppressedRecipients", suppressed);
	m->user = xstrdup(user);
	policy_quota_charge(api->env.policy, user, 1, vclock_now(api->env.clock));
	evhttp_connection_set_closecb(evhttp_request_get_connection(req), on_connection_closed, p);
	if (mailflow_submit(api->env.flow, m, on_committed, p) < 0) {
		evhttp_connection_set_closecb(evhttp_request_get_connection(req), NULL, NULL);
		store_message_free(m);
		json_decref(p->answer);
		free(p->user);
		free(p);
		send_error(api, req, request_id, "oci.https.internal-error", NULL, NULL);
	}
}

/* "application/json", with or without parameters such as a charset. */
static int json_content_type(const char *type)
{
	static const char json[] = "application/json";
	const size_t n = sizeof json - 1;

	return type != NULL && strncasecmp(type, json, n) == 0 &&
	       (type[n] == '\0' || type[n] == ';' || type[n] == ' ');
}

static void submit_email(struct https_api *api, struct evhttp_request *req, const char *request_id,
                         const char *user, struct call *resumed)
{
	const char **rcpts = NULL;
	struct hook_ctx ctx = {.stage = STAGE_SUBMIT};
	int h;
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);
	unsigned long long max = api->env.cfg->limits.message_bytes;
	struct oci_error err = {0};
	json_t *body;
	char limit[32], *text;
	const char *refusal, *sender;

	if (len > max) {
		snprintf(limit, sizeof limit, "%llu", max);
		send_error(api, req, request_id, "oci.https.entity-too-large", "limit", limit);
		return;
	}
	if (!json_content_type(header_of(req, "Content-Type"))) {
		send_error(api, req, request_id, "oci.https.unsupported-content-type", NULL, NULL);
		return;
	}
	if ((text = malloc(len + 1)) == NULL) { /* as long as the client sent */
		send_error(api, req, request_id, "oci.https.internal-error", NULL, NULL);
		return;
	}
	evbuffer_copyout(in, text, len);
	text[len] = '\0';
	body = json_loadb(text, len, 0, NULL);
	free(text);
	if (!json_is_object(body)) {
		json_decref(body);
		send_error(api, req, request_id, "oci.https.invalid-json", NULL, NULL);
		return;
	}
	ctx.sender = json_string_value(json_object_get(
	    json_object_get(json_object_get(body, "sender"), "senderAddress"), "email"));
	ctx.nrecipients = oci_submit_recipients(body, &rcpts);
	ctx.recipients = rcpts;
	ctx.user = user;
	h = https_hook(api, req, request_id, resumed, &ctx);
	free(rcpts);
	if (h == 1) {
		json_decref(body);
		return;
	}
	if (oci_submit_check(body, &err) < 0) {
		send_error(api, req, request_id, err.id,
		           strstr(err.id, "address") ? "address" : "header", err.value);
		json_decref(body);
		return;
	}
	sender = json_string_value(json_object_get(
	    json_object_get(json_object_get(body, "sender"), "senderAddress"), "email"));
	if (h != 2 && (refusal = policy_refusal(api, user, sender, limit, sizeof limit)) != NULL)
		send_error(api, req, request_id, refusal,
		           strstr(refusal, "rate") ? "limit" : "sender",
		           strstr(refusal, "rate") ? limit : sender);
	else {
		json_t *suppressed = NULL;
		struct store_message *m = make_message(api, req, body, &suppressed);
		accept_message(api, req, request_id, user, m, suppressed);
	}
	json_decref(body);
}

/* The recipients header of submitRawEmail: addresses separated by commas. */
static size_t split_recipients(const char *header, char list[][256], size_t max)
{
	size_t n = 0;

	while (header != NULL && *header != '\0') {
		size_t len = strcspn(header, ",");
		const char *start = header, *end = header + len;
		while (start < end && (*start == ' ' || *start == '\t'))
			start++;
		while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		if (n < max)
			snprintf(list[n], 256, "%.*s", (int)(end - start), start);
		n++;
		header += len + (header[len] == ',');
	}
	return n;
}

/* The envelope headers of submitRawEmail; the catalog id of a problem, or NULL. */
static const char *raw_envelope_problem(struct evhttp_request *req, char list[][256], size_t *n,
                                        struct oci_error *err)
{
	struct evkeyvalq *h = evhttp_request_get_input_headers(req);
	const char *compartment = evhttp_find_header(h, "compartment-id");
	const char *sender = evhttp_find_header(h, "sender");

	err->value[0] = '\0';
	if (compartment == NULL || *compartment == '\0')
		return "oci.https.missing-compartment";
	if (sender == NULL || *sender == '\0')
		return "oci.https.missing-sender";
	if (!address_is_valid(sender)) {
		snprintf(err->value, sizeof err->value, "%s", sender);
		return "oci.https.invalid-address";
	}
	*n = split_recipients(evhttp_find_header(h, "recipients"), list, OCI_MAX_RECIPIENTS + 1);
	if (*n == 0)
		return "oci.https.missing-recipients";
	if (*n > OCI_MAX_RECIPIENTS)
		return "oci.https.too-many-recipients";
	for (size_t i = 0; i < *n; i++) {
		if (list[i][0] == '\0')
			return "oci.https.empty-address";
		if (!address_is_valid(list[i])) {
			snprintf(err->value, sizeof err->value, "%.255s", list[i]);
			return "oci.https.invalid-address";
		}
	}
	return NULL;
}

static void submit_raw(struct https_api *api, struct evhttp_request *req, const char *request_id,
                       const char *user, struct call *resumed)
{
	struct hook_ctx ctx = {.stage = STAGE_SUBMIT_RAW};
	int h;
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in), n = 0;
	unsigned long long max = api->env.cfg->limits.message_bytes;
	char list[OCI_MAX_RECIPIENTS + 1][256], limit[32], generated[80];
	const char *rcpts[OCI_MAX_RECIPIENTS + 1], *problem, *sender;
	struct oci_error err;
	struct header_info hi;
	struct store_message *m;
	json_t *suppressed = NULL;

	if (len > max) {
		snprintf(limit, sizeof limit, "%llu", max);
		send_error(api, req, request_id, "oci.https.entity-too-large", "limit", limit);
		return;
	}
	ctx.sender = header_of(req, "sender");
	ctx.nrecipients =
	    split_recipients(header_of(req, "recipients"), list, OCI_MAX_RECIPIENTS + 1);
	for (size_t i = 0; i < ctx.nrecipients && i <= OCI_MAX_RECIPIENTS; i++)
		rcpts[i] = list[i];
	ctx.recipients = rcpts;
	if (ctx.nrecipients > OCI_MAX_RECIPIENTS + 1)
		ctx.nrecipients = OCI_MAX_RECIPIENTS + 1;
	ctx.user = user;
	if ((h = https_hook(api, req, request_id, resumed, &ctx)) == 1)
		return;
	if ((problem = raw_envelope_problem(req, list, &n, &err)) != NULL) {
		send_error(api, req, request_id, problem, "address", err.value);
		return;
	}
	sender = evhttp_find_header(evhttp_request_get_input_headers(req), "sender");
	if (h != 2 && (problem = policy_refusal(api, user, sender, limit, sizeof limit)) != NULL) {
		send_error(api, req, request_id, problem,
		           strstr(problem, "rate") ? "limit" : "sender",
		           strstr(problem, "rate") ? limit : sender);
		return;
	}
	for (size_t i = 0; i < n; i++)
		rcpts[i] = list[i];
	m = new_message(api, req, sender, rcpts, n, &suppressed);
	if ((m->raw = malloc(len + 1)) != NULL) { /* as long as the client sent */
		evbuffer_copyout(in, m->raw, len);
		m->raw[len] = '\0';
		m->raw_len = len;
		message_parse_headers(m->raw, len, len + 1, &hi);
		snprintf(generated, sizeof generated, "<%s@edsim.invalid>", m->id);
		m->message_id = xstrdup(hi.message_id[0] ? hi.message_id : generated);
		m->subject = hi.subject[0] ? xstrdup(hi.subject) : NULL;
	}
	accept_message(api, req, request_id, user, m, suppressed);
}

/* A request held by a rule's delay; it resumes at the stage it stopped. */
struct call {
	LIST_ENTRY(call) link;
	struct https_api *api;
	struct evhttp_request *req; /* NULL once its connection is gone */
	enum scenario_stage resume; /* hooks of earlier stages have run */
	const struct rule *forced;  /* the delayed rule, acting when the wait ends */
	uint64_t attempt;
	struct event *timer;
};

static void handle(struct https_api *api, struct evhttp_request *req, struct call *resumed);

static void on_call_closed(struct evhttp_connection *conn, void *arg)
{
	struct call *c = arg;

	(void)conn;
	c->req = NULL;
}

static void on_wait_over(evutil_socket_t fd, short what, void *arg)
{
	struct call *c = arg;

	(void)fd;
	(void)what;
	LIST_REMOVE(c, link);
	if (c->req != NULL) {
		evhttp_connection_set_closecb(evhttp_request_get_connection(c->req), NULL, NULL);
		handle(c->api, c->req, c);
	}
	event_free(c->timer);
	free(c);
}

static void start_wait(struct https_api *api, struct evhttp_request *req, enum scenario_stage stage,
                       const struct rule *r, double delay, uint64_t attempt)
{
	struct call *c = xcalloc(1, sizeof *c);
	struct timeval tv;

	c->api = api;
	c->req = req;
	c->resume = stage;
	c->forced = r;
	c->attempt = attempt;
	c->timer = evtimer_new(api->env.base, on_wait_over, c);
	LIST_INSERT_HEAD(&api->waiting, c, link);
	tv.tv_sec = (long)delay;
	tv.tv_usec = (long)((delay - (double)tv.tv_sec) * 1e6);
	evhttp_connection_set_closecb(evhttp_request_get_connection(req), on_call_closed, c);
	evtimer_add(c->timer, &tv);
}

void https_api_scenario_changed(struct https_api *api)
{
	static const struct timeval now = {0, 0};

	if (api == NULL)
		return;
	for (struct call *c = LIST_FIRST(&api->waiting); c != NULL; c = LIST_NEXT(c, link)) {
		c->forced = NULL; /* the old scenario's rule: resume natively, now */
		evtimer_add(c->timer, &now);
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
static void record_forced(struct https_api *api, struct evhttp_request *req, const char *label,
                          int status, const char *text)
{
	record_rule(api, peer_of(req), NULL,
	            status == 0    ? "dropped"
	            : status < 400 ? "accepted"
	                           : "rejected",
	            status, text, NULL, label);
}

static void send_forced(struct https_api *api, struct evhttp_request *req, const char *request_id,
                        const struct verdict *v, const struct hook_ctx *ctx)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	const struct rule *r = v->rule;
	char limit[32];

	for (size_t i = 0; i < r->act.nheaders; i++)
		evhttp_add_header(h, r->act.header_names[i], r->act.header_values[i]);
	if (r->act.close)
		evhttp_add_header(h, "Connection", "close");
	if (r->act.reply_entry != NULL) {
		const char *rcpt = ctx->nrecipients ? ctx->recipients[0] : "";
		struct cat_var vars[] = {{"limit", limit},
		                         {"sender", ctx->sender ? ctx->sender : ""},
		                         {"address", ctx->sender ? ctx->sender : rcpt},
		                         {"header", "X-Header"}};
		snprintf(limit, sizeof limit, "%llu",
		         policy_limit_for(api->env.policy, r->act.reply_entry->id));
		send_entry(req, request_id, r->act.reply_entry, vars, 4);
	} else {
		send_json(req, request_id, r->act.https_status,
		          json_pack("{s:s, s:s}", "code", r->act.https_code, "message",
		                    r->act.https_message));
	}
	record_forced(api, req, v->label, v->code,
	              r->act.reply_entry ? r->act.reply_entry->error_code : r->act.https_code);
}

static uint64_t request_attempt(struct https_api *api, struct evhttp_request *req)
{
	const char *id = header_of(req, "opc-request-id");
	char key[200];

	if (!engine_uses_attempt(api->env.engine) || id == NULL)
		return 1;
	snprintf(key, sizeof key, "opc-request-id:%s", id);
	return engine_attempt(api->env.engine, key);
}

/* The scenario at an HTTPS stage: 0 native, 1 answered (or dropped, or
 * waiting), 2 the stage's native rejections are lifted. */
static int https_hook(struct https_api *api, struct evhttp_request *req, const char *request_id,
                      struct call *c, struct hook_ctx *ctx)
{
	const struct rule *held = NULL;
	struct verdict v;

	if (c != NULL && c->resume == ctx->stage && c->forced != NULL) {
		held = c->forced;
		c->forced = NULL;
	} else if (c != NULL && ctx->stage <= c->resume) {
		return 0; /* it ran before the wait */
	}
	ctx->method = method_name(evhttp_request_get_command(req));
	ctx->path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
	ctx->header = header_of;
	ctx->header_arg = req;
	ctx->attempt = c != NULL ? c->attempt : request_attempt(api, req);
	v = engine_decide(api->env.engine, ctx, held);
	if (v.kind == V_NATIVE)
		return 0;
	if (v.kind == V_WAIT) {
		start_wait(api, req, ctx->stage, v.rule, v.delay, ctx->attempt);
		return 1;
	}
	env_apply_effects(&api->env, &v.rule->act, ctx->user);
	switch (v.kind) {
	case V_DROP:
		record_forced(api, req, v.label, 0, NULL);
		drop_request(req);
		return 1;
	case V_REPLY:
		send_forced(api, req, request_id, &v, ctx);
		return 1;
	default:
		return v.kind == V_ACCEPT ? 2 : 0;
	}
}

static void handle(struct https_api *api, struct evhttp_request *req, struct call *resumed)
{
	const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
	struct hook_ctx ctx = {.stage = STAGE_REQUEST};
	char request_id[80], user[512];
	int h;

	request_id_for(api, req, request_id, sizeof request_id);
	if ((h = https_hook(api, req, request_id, resumed, &ctx)) == 1)
		return;
	if (h != 2 && rate_limited(api))
		send_error(api, req, request_id, "oci.https.too-many-requests", NULL, NULL);
	else if (path == NULL ||
	         (strcmp(path, SUBMIT_PATH) != 0 && strcmp(path, SUBMIT_RAW_PATH) != 0))
		send_error(api, req, request_id, "oci.https.not-found", NULL, NULL);
	else if (evhttp_request_get_command(req) != EVHTTP_REQ_POST)
		send_error(api, req, request_id, "oci.https.method-not-allowed", NULL, NULL);
	else if (h != 2 && authenticate(api, req, user, sizeof user) < 0)
		send_error(api, req, request_id, "oci.https.not-authenticated", NULL, NULL);
	else if (strcmp(path, SUBMIT_RAW_PATH) == 0)
		submit_raw(api, req, request_id, h == 2 ? NULL : (user[0] ? user : NULL), resumed);
	else
		submit_email(api, req, request_id, h == 2 ? NULL : (user[0] ? user : NULL),
		             resumed);
}

static void route(struct evhttp_request *req, void *arg)
{
	handle(arg, req, NULL);
}

static struct bufferevent *tls_bufferevent(struct event_base *base, void *arg)
{
	struct https_api *api = arg;
	SSL *ssl = SSL_new(tls_context(api->env.tls));
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

struct https_api *https_api_new(const struct env *env, const char *listen, int *port, char *err,
                                size_t errlen)
{
	struct evhttp *http;
	struct https_api *api;
	evutil_socket_t fd;

	http = http_listen(env->base, listen, "listen.https", "https", port, &fd, err, errlen);
	if (http == NULL)
		return NULL;
	api = xcalloc(1, sizeof *api);
	LIST_INIT(&api->waiting);
	api->env = *env;
	api->http = http;
	evhttp_set_bevcb(api->http, tls_bufferevent, api);
	evhttp_set_max_body_size(api->http,
	                         (ev_ssize_t)(env->cfg->limits.message_bytes * 2 + 65536));
	evhttp_set_gencb(api->http, route, api);
	/* Answers leave in two TLS records (head, body): with Nagle the second
	 * waits for the client's delayed ACK, about 40 ms. Accepted sockets
	 * inherit TCP_NODELAY from the listening one. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){1}, sizeof(int));
	return api;
}

void https_api_free(struct https_api *api)
{
	if (api == NULL)
		return;
	while (!LIST_EMPTY(&api->waiting)) {
		struct call *c = LIST_FIRST(&api->waiting);
		LIST_REMOVE(c, link);
		if (c->req != NULL)
			evhttp_connection_set_closecb(evhttp_request_get_connection(c->req), NULL,
			                              NULL);
		event_free(c->timer);
		free(c);
	}
	evhttp_free(api->http);
	free(api);
}
