/*
 * control_api.c - routes of the control API.
 *
 *   GET    /api/v1/health
 *   GET    /api/v1/messages?to=&from=&subject=&limit=   newest first
 *   DELETE /api/v1/messages
 *   GET    /api/v1/messages/{id}        envelope, headers, body
 *   GET    /api/v1/messages/{id}/raw    message/rfc822
 *   GET    /api/v1/events?since=N       events with id > N
 *   GET    /api/v1/connections/{id}/transcript
 *   GET    /api/v1/scenario             the active scenario, if any
 *   PUT    /api/v1/scenario             YAML body: check it, make it active
 *   DELETE /api/v1/scenario             back to native behaviour
 *   GET    /api/v1/mailbox?to=&from=&subject=&limit=    the capture mailbox
 *   GET    /api/v1/queue                the relay: counts by state, totals
 *   GET    /api/v1/suppressions?address=
 *   POST   /api/v1/suppressions         {"address", "reason"}
 *   DELETE /api/v1/suppressions[/{address}]
 *   POST   /api/v1/reset                clear messages, events, suppressions (not the
 *                                       configuration's), quotas and throttles
 *
 * Unknown ids answer 404, unknown or malformed query parameters 400, other
 * paths 404 and other methods 405, each with a JSON error body. A request
 * body or a stored message too large to copy answers 500 (out of memory).
 */
#include "control_api.h"

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <sys/queue.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "clock.h"
#include "mailflow.h"
#include "message.h"
#include "env.h"
#include "events.h"
#include "policy.h"
#include "profile.h"
#include "scenario_engine.h"
#include "store.h"
#include "util.h"
#include "xmalloc.h"

struct control_api {
	struct env env;
	struct control_ops ops;
	struct evhttp *http;
};

static void send_json(struct evhttp_request *req, int status, json_t *body)
{
	struct evbuffer *out = evbuffer_new();
	char *text = json_dumps(body, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
	                  "application/json");
	evbuffer_add_printf(out, "%s\n", text ? text : "null");
	evhttp_send_reply(req, status, status < 400 ? "OK" : "Error", out);
	free(text);
	json_decref(body);
	evbuffer_free(out);
}

static void send_error(struct evhttp_request *req, int status, const char *code, const char *msg)
{
	send_json(req, status, json_pack("{s:s, s:s}", "code", code, "message", msg));
}

/* Parses the query into q; refuses parameters not listed in allowed. */
static int parse_query(struct evhttp_request *req, struct evkeyvalq *q, const char *const *allowed)
{
	const char *query = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
	char msg[200];

	TAILQ_INIT(q);
	if (query != NULL && evhttp_parse_query_str(query, q) < 0) {
		send_error(req, 400, "InvalidParameter", "the query string is malformed");
		return -1;
	}
	for (struct evkeyval *kv = TAILQ_FIRST(q); kv != NULL; kv = TAILQ_NEXT(kv, next)) {
		size_t i;
		for (i = 0; allowed[i] != NULL && strcmp(allowed[i], kv->key) != 0; i++)
			;
		if (allowed[i] == NULL) {
			snprintf(msg, sizeof msg, "unknown query parameter '%s'", kv->key);
			send_error(req, 400, "InvalidParameter", msg);
			evhttp_clear_headers(q);
			return -1;
		}
	}
	return 0;
}

static void get_health(struct control_api *api, struct evhttp_request *req)
{
	char *hooks = mailflow_webhook_stats(api->env.flow);
	size_t sessions = 0;
	int draining = 0;
	double uptime = 0;
	json_t *health;

	api->ops.health(api->ops.arg, &sessions, &draining, &uptime);
	health = json_pack("{s:s, s:s, s:f, s:I, s:b}", "status", draining ? "draining" : "ok",
	                   "version", EDSIM_VERSION, "uptime_seconds", uptime, "sessions",
	                   (json_int_t)sessions, "draining", draining);

	json_object_set_new(health, "webhooks", hooks ? json_loads(hooks, 0, NULL) : json_object());
	free(hooks);
	send_json(req, 200, health);
}

static void get_messages(struct control_api *api, struct evhttp_request *req, int mailbox)
{
	static const char *const allowed[] = {"to", "from", "subject", "limit", NULL};
	struct evkeyvalq q;
	struct store_filter f = {.mailbox = mailbox};
	const char *limit;
	unsigned long long n = 100;

	if (parse_query(req, &q, allowed) < 0)
		return;
	f.to = evhttp_find_header(&q, "to");
	f.from = evhttp_find_header(&q, "from");
	f.subject = evhttp_find_header(&q, "subject");
	limit = evhttp_find_header(&q, "limit");
	if (limit != NULL && (parse_ulonglong(limit, &n) < 0 || n == 0 || n > 100000)) {
		send_error(req, 400, "InvalidParameter",
		           "limit: expected an integer from 1 to 100000");
		evhttp_clear_headers(&q);
		return;
	}
	f.limit = (long)n;
	send_json(req, 200, json_pack("{s:o}", "messages", store_list(api->env.store, &f)));
	evhttp_clear_headers(&q);
}

static void delete_messages(struct control_api *api, struct evhttp_request *req)
{
	long n = store_delete_all(api->env.store);

	mailflow_forget_all(api->env.flow);
	if (n < 0)
		send_error(req, 500, "InternalServerError",
		           "the store could not delete the messages");
	else
		send_json(req, 200, json_pack("{s:I}", "deleted", (json_int_t)n));
}

/* headers: [{name, value}] unfolded; body: the rest. -1 when a folded
 * value cannot be joined (out of memory). */
static int add_content(json_t *obj, const char *raw, size_t len)
{
	struct header_info h;
	json_t *headers = json_array();
	const char *p = raw, *end;

	if (message_parse_headers(raw, len, len + 1, &h) != HDR_OK)
		h.body_offset = 0;
	end = raw + (h.body_offset ? h.body_offset : 0);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *line_end = nl ? nl : end, *colon;
		size_t n = (size_t)(line_end - p);
		if (n > 0 && p[n - 1] == '\r')
			n--;
		if (n == 0)
			break;
		if ((p[0] == ' ' || p[0] == '\t') && json_array_size(headers) > 0) {
			json_t *last = json_array_get(headers, json_array_size(headers) - 1);
			const char *old = json_string_value(json_object_get(last, "value"));
			size_t oldlen = strlen(old);
			char *joined = malloc(oldlen + n + 1); /* as long as the message made it */
			if (joined == NULL) {
				json_decref(headers);
				return -1;
			}
			memcpy(joined, old, oldlen);
			memcpy(joined + oldlen, p, n);
			json_object_set_new(last, "value", json_text(joined, oldlen + n));
			free(joined);
		} else if ((colon = memchr(p, ':', n)) != NULL) {
			const char *v = colon + 1;
			while (v < p + n && (*v == ' ' || *v == '\t'))
				v++;
			json_array_append_new(headers,
			                      json_pack("{s:o, s:o}", "name",
			                                json_text(p, (size_t)(colon - p)), "value",
			                                json_text(v, (size_t)(p + n - v))));
		}
		p = line_end + 1;
	}
	json_object_set_new(obj, "headers", headers);
	json_object_set_new(obj, "body", json_text(raw + h.body_offset, len - h.body_offset));
	return 0;
}

static void get_message(struct control_api *api, struct evhttp_request *req, const char *id,
                        int raw_only)
{
	json_t *obj = store_get(api->env.store, id);
	char *raw = NULL, msg[200];
	size_t len = 0;

	if (obj == NULL || store_raw(api->env.store, id, &raw, &len) < 0) {
		json_decref(obj);
		snprintf(msg, sizeof msg, "no message with id '%s'", id);
		send_error(req, 404, "NotFound", msg);
		return;
	}
	if (raw_only) {
		struct evbuffer *out = evbuffer_new();
		evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
		                  "message/rfc822");
		evbuffer_add(out, raw, len);
		evhttp_send_reply(req, 200, "OK", out);
		evbuffer_free(out);
		json_decref(obj);
	} else if (add_content(obj, raw, len) < 0) {
		json_decref(obj);
		send_error(req, 500, "InternalServerError", "out of memory");
	} else {
		send_json(req, 200, obj);
	}
	free(raw);
}

static void get_events(struct control_api *api, struct evhttp_request *req)
{
	static const char *const allowed[] = {"since", NULL};
	struct evkeyvalq q;
	const char *since;
	unsigned long long n = 0;

	if (parse_query(req, &q, allowed) < 0)
		return;
	since = evhttp_find_header(&q, "since");
	if (since != NULL && parse_ulonglong(since, &n) < 0) {
		send_error(req, 400, "InvalidParameter",
		           "since: expected an event id (a non-negative integer)");
	} else {
		send_json(req, 200, json_pack("{s:o}", "events", events_since(api->env.events, n)));
	}
	evhttp_clear_headers(&q);
}

static void get_transcript(struct control_api *api, struct evhttp_request *req, const char *id)
{
	unsigned long long n;
	json_t *t = NULL;
	char msg[200];

	if (parse_ulonglong(id, &n) == 0)
		t = transcript_json(api->env.events, n);
	if (t == NULL) {
		snprintf(msg, sizeof msg, "no transcript for connection '%s'", id);
		send_error(req, 404, "NotFound", msg);
		return;
	}
	send_json(req, 200, t);
}

/* The scenario's expect, for the conformance runner; unset keys are null. */
static json_t *expect_json(const struct scenario_expect *e)
{
	json_t *obj = json_object();

	json_object_set_new(obj, "outcome", e->outcome ? json_string(e->outcome) : json_null());
	json_object_set_new(
	    obj, "attempts",
	    json_pack("{s:o, s:o}", "min",
	              e->attempts_min ? json_integer((json_int_t)e->attempts_min) : json_null(),
	              "max",
	              e->attempts_max ? json_integer((json_int_t)e->attempts_max) : json_null()));
	json_object_set_new(obj, "min_gap", e->min_gap > 0 ? json_real(e->min_gap) : json_null());
	json_object_set_new(obj, "backoff", e->backoff ? json_string(e->backoff) : json_null());
	json_object_set_new(obj, "gives_up",
	                    e->gives_up < 0 ? json_null() : json_boolean(e->gives_up));
	json_object_set_new(
	    obj, "report",
	    json_pack("{s:o, s:o}", "failure",
	              e->report_failure < 0 ? json_null() : json_boolean(e->report_failure), "code",
	              e->report_code ? json_integer(e->report_code) : json_null()));
	return obj;
}

static json_t *scenario_json(const struct scenario *sc)
{
	json_t *ids;

	if (sc == NULL)
		return json_pack("{s:b}", "active", 0);
	ids = json_array();
	for (size_t i = 0; i < sc->nexercises; i++)
		json_array_append_new(ids, json_string(sc->exercises[i]));
	return json_pack("{s:b, s:s, s:s?, s:s, s:I, s:o, s:o, s:s}", "active", 1, "name", sc->name,
	                 "title", sc->title, "file", sc->file, "rules", (json_int_t)sc->nrules,
	                 "exercises", ids, "expect", expect_json(&sc->expect), "text", sc->text);
}

static void put_scenario(struct control_api *api, struct evhttp_request *req)
{
	struct evbuffer *body = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(body);
	char *text = malloc(len + 1), *errors = NULL;
	struct scenario *sc;

	if (text == NULL) {
		send_error(req, 500, "InternalServerError", "out of memory");
		return;
	}
	evbuffer_remove(body, text, len);
	text[len] = '\0';
	sc = scenario_load("scenario", text, len, api->env.catalog, &errors);
	free(text);
	if (sc == NULL) {
		send_error(req, 400, "InvalidScenario",
		           errors ? errors : "the scenario is invalid");
		free(errors);
		return;
	}
	if (api->ops.use_scenario(api->ops.arg, sc, &errors) < 0) {
		send_error(req, 400, "InvalidScenario",
		           errors ? errors : "the settings do not apply");
		free(errors);
		scenario_free(sc);
		return;
	}
	send_json(req, 200, scenario_json(sc));
}

static void route_scenario(struct control_api *api, struct evhttp_request *req)
{
	char *errors = NULL;

	switch (evhttp_request_get_command(req)) {
	case EVHTTP_REQ_GET:
		send_json(req, 200, scenario_json(engine_scenario(api->env.engine)));
		break;
	case EVHTTP_REQ_PUT:
		put_scenario(api, req);
		break;
	case EVHTTP_REQ_DELETE:
		api->ops.use_scenario(api->ops.arg, NULL, &errors);
		free(errors);
		send_json(req, 200, scenario_json(NULL));
		break;
	default:
		send_error(req, 405, "MethodNotAllowed", "this method is not allowed on this path");
	}
}

static void post_reset(struct control_api *api, struct evhttp_request *req)
{
	long deleted = store_delete_all(api->env.store);

	mailflow_forget_all(api->env.flow);
	mailflow_unsuppress(api->env.flow, NULL);
	events_clear(api->env.events);
	policy_reset_counters(api->env.policy);
	if (api->env.account != NULL)
		api->env.profile->account_reset(api->env.account);
	api->ops.restart_scenario(api->ops.arg);
	send_json(req, 200, json_pack("{s:I}", "deleted", (json_int_t)(deleted < 0 ? 0 : deleted)));
}

static void get_suppressions(struct control_api *api, struct evhttp_request *req)
{
	static const char *const allowed[] = {"address", NULL};
	json_t *all = policy_suppressions(api->env.policy), *list = json_array(), *e;
	struct evkeyvalq q;
	const char *address;
	size_t i;

	if (parse_query(req, &q, allowed) < 0) {
		json_decref(all);
		json_decref(list);
		return;
	}
	address = evhttp_find_header(&q, "address");
	json_array_foreach(
	    all, i, e) if (address == NULL ||
	                   strcasecmp(address, json_string_value(json_object_get(e, "address"))) ==
	                       0) json_array_append(list, e);
	json_decref(all);
	evhttp_clear_headers(&q);
	send_json(req, 200, json_pack("{s:o}", "suppressions", list));
}

static int plausible_address(const char *a)
{
	const char *at = a ? strrchr(a, '@') : NULL;

	return at != NULL && at != a && at[1] != '\0' && strlen(a) < 320 &&
	       strpbrk(a, " \t\r\n<>") == NULL;
}

static void post_suppression(struct control_api *api, struct evhttp_request *req)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);
	char *text = malloc(len + 1);
	json_t *body;
	const char *address, *reason;

	if (text == NULL) {
		send_error(req, 500, "InternalServerError", "out of memory");
		return;
	}
	evbuffer_copyout(in, text, len);
	body = json_loadb(text, len, 0, NULL);
	free(text);
	address = json_string_value(json_object_get(body, "address"));
	reason = json_string_value(json_object_get(body, "reason"));
	if (!plausible_address(address)) {
		send_error(
		    req, 400, "InvalidParameter",
		    "expected a JSON body {\"address\": \"user@domain\", \"reason\": \"...\"}");
		json_decref(body);
		return;
	}
	if (reason == NULL)
		reason = "added through the control API";
	mailflow_suppress(api->env.flow, address, reason, "api");
	send_json(
	    req, 201,
	    json_pack("{s:s, s:s, s:s}", "address", address, "reason", reason, "source", "api"));
	json_decref(body);
}

static void delete_suppression(struct control_api *api, struct evhttp_request *req,
                               const char *address)
{
	char *decoded = address ? evhttp_uridecode(address, 0, NULL) : NULL;
	size_t n = mailflow_unsuppress(api->env.flow, decoded);

	if (address != NULL && n == 0)
		send_error(req, 404, "NotFound", "no such address on the suppression list");
	else
		send_json(req, 200, json_pack("{s:I}", "deleted", (json_int_t)n));
	free(decoded);
}

static void route_suppressions(struct control_api *api, struct evhttp_request *req)
{
	switch (evhttp_request_get_command(req)) {
	case EVHTTP_REQ_GET:
		get_suppressions(api, req);
		break;
	case EVHTTP_REQ_POST:
		post_suppression(api, req);
		break;
	case EVHTTP_REQ_DELETE:
		delete_suppression(api, req, NULL);
		break;
	default:
		send_error(req, 405, "MethodNotAllowed", "this method is not allowed on this path");
	}
}

static int method_is(struct evhttp_request *req, enum evhttp_cmd_type want)
{
	if (evhttp_request_get_command(req) == want)
		return 1;
	send_error(req, 405, "MethodNotAllowed", "this method is not allowed on this path");
	return 0;
}

/* Copies the path segment after prefix (up to the next '/') into out. */
static int path_segment(const char *path, const char *prefix, char *out, size_t outlen,
                        const char **rest)
{
	size_t plen = strlen(prefix), n;

	if (strncmp(path, prefix, plen) != 0)
		return 0;
	n = strcspn(path + plen, "/");
	if (n == 0 || n >= outlen)
		return 0;
	memcpy(out, path + plen, n);
	out[n] = '\0';
	*rest = path + plen + n;
	return 1;
}

static void route(struct evhttp_request *req, void *arg)
{
	struct control_api *api = arg;
	const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req)), *rest;
	char id[128];

	if (path == NULL)
		path = "/";
	if (strcmp(path, "/api/v1/health") == 0) {
		if (method_is(req, EVHTTP_REQ_GET))
			get_health(api, req);
	} else if (strcmp(path, "/api/v1/messages") == 0) {
		if (evhttp_request_get_command(req) == EVHTTP_REQ_DELETE)
			delete_messages(api, req);
		else if (method_is(req, EVHTTP_REQ_GET))
			get_messages(api, req, 0);
	} else if (strcmp(path, "/api/v1/mailbox") == 0) {
		if (method_is(req, EVHTTP_REQ_GET))
			get_messages(api, req, 1);
	} else if (strcmp(path, "/api/v1/queue") == 0) {
		if (method_is(req, EVHTTP_REQ_GET))
			send_json(req, 200, mailflow_queue_stats(api->env.flow));
	} else if (strcmp(path, "/api/v1/suppressions") == 0) {
		route_suppressions(api, req);
	} else if (path_segment(path, "/api/v1/suppressions/", id, sizeof id, &rest) &&
	           strcmp(rest, "") == 0) {
		if (method_is(req, EVHTTP_REQ_DELETE))
			delete_suppression(api, req, id);
	} else if (path_segment(path, "/api/v1/messages/", id, sizeof id, &rest) &&
	           (strcmp(rest, "") == 0 || strcmp(rest, "/raw") == 0)) {
		if (method_is(req, EVHTTP_REQ_GET))
			get_message(api, req, id, strcmp(rest, "/raw") == 0);
	} else if (strcmp(path, "/api/v1/events") == 0) {
		if (method_is(req, EVHTTP_REQ_GET))
			get_events(api, req);
	} else if (path_segment(path, "/api/v1/connections/", id, sizeof id, &rest) &&
	           strcmp(rest, "/transcript") == 0) {
		if (method_is(req, EVHTTP_REQ_GET))
			get_transcript(api, req, id);
	} else if (strcmp(path, "/api/v1/scenario") == 0) {
		route_scenario(api, req);
	} else if (strcmp(path, "/api/v1/reset") == 0) {
		if (method_is(req, EVHTTP_REQ_POST))
			post_reset(api, req);
	} else {
		send_error(req, 404, "NotFound", "no such path in the control API");
	}
}

struct control_api *control_api_new(const struct env *env, const struct control_ops *ops,
                                    const char *listen, int *port, char *err, size_t errlen)
{
	struct evhttp *http;
	struct control_api *api;
	evutil_socket_t fd;

	http =
	    http_listen(env->base, listen, "listen.control", "control API", port, &fd, err, errlen);
	if (http == NULL)
		return NULL;
	api = xcalloc(1, sizeof *api);
	api->env = *env;
	api->ops = *ops;
	api->http = http;
	evhttp_set_gencb(api->http, route, api);
	return api;
}

void control_api_free(struct control_api *api)
{
	if (api == NULL)
		return;
	evhttp_free(api->http);
	free(api);
}
