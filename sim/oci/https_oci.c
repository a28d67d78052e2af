/*
 * https_oci.c - POST /20220926/actions/submitEmail and submitRawEmail,
 * answered as the service answers them, on the shared HTTPS front end
 * (sim/https/https_front.c: listener, scenario verdicts, waits, commits).
 *
 * Every response carries opc-request-id (the client's, else a new one) and
 * every error is {"code", "message"} from the catalog. An accepted request
 * becomes a real message in the same store as SMTP mail, with the same
 * quotas, approvals and suppressions; the 200 is sent after the commit.
 *
 * The request body and the message made from it are as large as the client
 * made them: a failure to allocate them answers oci.https.internal-error.
 * Everything else (the records, the envelope's copies) comes from xmalloc.h.
 */
#include "https_oci.h"

#include <event2/buffer.h>
#include <event2/http.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "address.h"
#include "catalog.h"
#include "clock.h"
#include "config.h"
#include "env.h"
#include "https_front.h"
#include "message.h"
#include "oci_signature.h"
#include "oci_submit.h"
#include "policy.h"
#include "scenario_engine.h"
#include "store.h"
#include "xmalloc.h"

#define SUBMIT_PATH     "/20220926/actions/submitEmail"
#define SUBMIT_RAW_PATH "/20220926/actions/submitRawEmail"

struct oci_api {
	struct https_front *front;
	const struct env *env;
};

#define header_of https_front_header

static void send_json(struct https_req *r, int status, json_t *body)
{
	char *text = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);
	const char *answer = text != NULL ? text : "{}";

	https_front_send(r, status, NULL, "application/json", answer, strlen(answer));
	free(text);
	json_decref(body);
}

/* The catalog entry's status, code and message, its placeholders filled. */
static void send_entry(struct https_req *r, int status, const char *code, const char *tmpl,
                       const struct cat_var *vars, size_t nvars)
{
	char message[1024];

	catalog_fill(tmpl ? tmpl : "", vars, nvars, message, sizeof message);
	send_json(r, status, json_pack("{s:s, s:s}", "code", code ? code : "", "message", message));
}

static void send_error(struct oci_api *api, struct https_req *r, const char *id, const char *name,
                       const char *value)
{
	const struct cat_entry *e = catalog_find(api->env->catalog, id);
	struct cat_var var = {name, value};

	if (e == NULL) {
		send_json(r, 500,
		          json_pack("{s:s, s:s}", "code", "InternalServerError", "message",
		                    "Internal Server Error"));
		return;
	}
	https_front_record(api->front, r->req, NULL, "rejected", e->status, e->error_code, NULL);
	send_entry(r, e->status, e->error_code, e->message, &var, name ? 1 : 0);
}

static void request_id_for(void *arg, struct evhttp_request *req, uint64_t seq, char *out,
                           size_t len)
{
	const char *given = header_of(req, "opc-request-id");

	(void)arg;
	if (given != NULL && *given != '\0' && strlen(given) < len)
		snprintf(out, len, "%s", given);
	else
		snprintf(out, len, "EDSIM%016llX%08llX",
		         (unsigned long long)(clock_wall() * 1000.0), (unsigned long long)seq);
}

/* https.auth verify: the signature over the listed headers checks out with
 * the public key of the user named in keyId, and a body is covered by a
 * matching x-content-sha256. */
static int signature_verified(struct oci_api *api, struct evhttp_request *req,
                              const struct oci_sig *sig, char *user, size_t len)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	const struct config_user *u;
	char text[4096], hash[64];
	size_t body_len = evbuffer_get_length(in);

	if (oci_sig_user(sig, user, len) < 0 ||
	    (u = policy_find_user(api->env->policy, user)) == NULL || u->public_key == NULL)
		return 0;
	if (oci_sig_signing_string(sig, https_front_method(req), evhttp_request_get_uri(req),
	                           header_of, req, text, sizeof text) < 0 ||
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
static int authenticate(struct oci_api *api, struct evhttp_request *req, char *user, size_t len)
{
	struct oci_sig sig;

	user[0] = '\0';
	if (api->env->cfg->https_auth == HTTPS_AUTH_OFF)
		return 0;
	if (oci_sig_parse(header_of(req, "Authorization"), &sig) < 0)
		return -1;
	if (api->env->cfg->https_auth == HTTPS_AUTH_PRESENT)
		return 0;
	return signature_verified(api, req, &sig, user, len) ? 0 : -1;
}

/* Quotas and approval: the refusal's catalog id, or NULL. */
static const char *policy_refusal(struct oci_api *api, const char *user, const char *sender,
                                  char *limit, size_t len)
{
	struct policy *pol = api->env->policy;
	unsigned long long n = 0;

	if (!policy_sender_approved(pol, user, sender))
		return "oci.https.sender-not-authorized";
	switch (policy_quota_check(pol, user, vclock_now(api->env->clock), &n)) {
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

/* The recipients the store marked suppressed, for suppressedRecipients. */
static json_t *suppressed_of(const struct store_message *m)
{
	json_t *list = json_array();

	for (size_t i = 0; i < m->nrcpt; i++)
		if (m->rcpts[i].suppressed)
			json_array_append_new(list, json_string(m->rcpts[i].address));
	return list;
}

static struct store_message *make_message(struct oci_api *api, struct evhttp_request *req,
                                          const json_t *body)
{
	const char **rcpts = NULL;
	const json_t *subject = json_object_get(body, "subject");
	size_t n = oci_submit_recipients(body, &rcpts);
	const char *sender = json_string_value(json_object_get(
	    json_object_get(json_object_get(body, "sender"), "senderAddress"), "email"));
	struct store_message *m = https_front_message(api->front, req, sender, rcpts, n);
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

/* Stores m (owned) and answers 200 once it is committed. m->raw NULL (the
 * message could not be made): internal-error. */
static void accept_message(struct oci_api *api, struct https_req *r, const char *user,
                           struct store_message *m)
{
	json_t *answer;
	char *text;

	if (m->raw == NULL) {
		store_message_free(m);
		send_error(api, r, "oci.https.internal-error", NULL, NULL);
		return;
	}
	answer = json_pack("{s:s, s:s, s:o}", "messageId", m->message_id ? m->message_id : "",
	                   "envelopeId", m->id, "suppressedRecipients", suppressed_of(m));
	text = json_dumps(answer, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(answer);
	policy_quota_charge(api->env->policy, user, 1, vclock_now(api->env->clock));
	if (text == NULL || https_front_commit(r, m, user, text, "application/json") < 0) {
		if (text == NULL)
			store_message_free(m);
		send_error(api, r, "oci.https.internal-error", NULL, NULL);
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

static void submit_email(struct oci_api *api, struct https_req *r, const char *user)
{
	const char **rcpts = NULL;
	struct hook_ctx ctx = {.stage = STAGE_SUBMIT};
	int h;
	struct evbuffer *in = evhttp_request_get_input_buffer(r->req);
	size_t len = evbuffer_get_length(in);
	unsigned long long max = api->env->cfg->limits.message_bytes;
	struct oci_error err = {0};
	json_t *body;
	char limit[32], *text;
	const char *refusal, *sender;

	if (len > max) {
		snprintf(limit, sizeof limit, "%llu", max);
		send_error(api, r, "oci.https.entity-too-large", "limit", limit);
		return;
	}
	if (!json_content_type(header_of(r->req, "Content-Type"))) {
		send_error(api, r, "oci.https.unsupported-content-type", NULL, NULL);
		return;
	}
	if ((text = malloc(len + 1)) == NULL) { /* as long as the client sent */
		send_error(api, r, "oci.https.internal-error", NULL, NULL);
		return;
	}
	evbuffer_copyout(in, text, len);
	text[len] = '\0';
	body = json_loadb(text, len, 0, NULL);
	free(text);
	if (!json_is_object(body)) {
		json_decref(body);
		send_error(api, r, "oci.https.invalid-json", NULL, NULL);
		return;
	}
	ctx.sender = json_string_value(json_object_get(
	    json_object_get(json_object_get(body, "sender"), "senderAddress"), "email"));
	ctx.nrecipients = oci_submit_recipients(body, &rcpts);
	ctx.recipients = rcpts;
	ctx.user = user;
	h = https_front_hook(r, &ctx);
	free(rcpts);
	if (h == 1) {
		json_decref(body);
		return;
	}
	if (oci_submit_check(body, &err) < 0) {
		send_error(api, r, err.id, strstr(err.id, "address") ? "address" : "header",
		           err.value);
		json_decref(body);
		return;
	}
	sender = json_string_value(json_object_get(
	    json_object_get(json_object_get(body, "sender"), "senderAddress"), "email"));
	if (h != 2 && (refusal = policy_refusal(api, user, sender, limit, sizeof limit)) != NULL)
		send_error(api, r, refusal, strstr(refusal, "rate") ? "limit" : "sender",
		           strstr(refusal, "rate") ? limit : sender);
	else
		accept_message(api, r, user, make_message(api, r->req, body));
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

static void submit_raw(struct oci_api *api, struct https_req *r, const char *user)
{
	struct hook_ctx ctx = {.stage = STAGE_SUBMIT_RAW};
	int h;
	struct evbuffer *in = evhttp_request_get_input_buffer(r->req);
	size_t len = evbuffer_get_length(in), n = 0;
	unsigned long long max = api->env->cfg->limits.message_bytes;
	char list[OCI_MAX_RECIPIENTS + 1][256], limit[32], generated[80];
	const char *rcpts[OCI_MAX_RECIPIENTS + 1], *problem, *sender;
	struct oci_error err;
	struct header_info hi;
	struct store_message *m;

	if (len > max) {
		snprintf(limit, sizeof limit, "%llu", max);
		send_error(api, r, "oci.https.entity-too-large", "limit", limit);
		return;
	}
	ctx.sender = header_of(r->req, "sender");
	ctx.nrecipients =
	    split_recipients(header_of(r->req, "recipients"), list, OCI_MAX_RECIPIENTS + 1);
	for (size_t i = 0; i < ctx.nrecipients && i <= OCI_MAX_RECIPIENTS; i++)
		rcpts[i] = list[i];
	ctx.recipients = rcpts;
	if (ctx.nrecipients > OCI_MAX_RECIPIENTS + 1)
		ctx.nrecipients = OCI_MAX_RECIPIENTS + 1;
	ctx.user = user;
	if ((h = https_front_hook(r, &ctx)) == 1)
		return;
	if ((problem = raw_envelope_problem(r->req, list, &n, &err)) != NULL) {
		send_error(api, r, problem, "address", err.value);
		return;
	}
	sender = header_of(r->req, "sender");
	if (h != 2 && (problem = policy_refusal(api, user, sender, limit, sizeof limit)) != NULL) {
		send_error(api, r, problem, strstr(problem, "rate") ? "limit" : "sender",
		           strstr(problem, "rate") ? limit : sender);
		return;
	}
	for (size_t i = 0; i < n; i++)
		rcpts[i] = list[i];
	m = https_front_message(api->front, r->req, sender, rcpts, n);
	if ((m->raw = malloc(len + 1)) != NULL) { /* as long as the client sent */
		evbuffer_copyout(in, m->raw, len);
		m->raw[len] = '\0';
		m->raw_len = len;
		message_parse_headers(m->raw, len, len + 1, &hi);
		snprintf(generated, sizeof generated, "<%s@edsim.invalid>", m->id);
		m->message_id = xstrdup(hi.message_id[0] ? hi.message_id : generated);
		m->subject = hi.subject[0] ? xstrdup(hi.subject) : NULL;
	}
	accept_message(api, r, user, m);
}

/* A rule's reply, its placeholders filled from what the request says. */
static void send_forced(void *arg, struct https_req *r, const struct cat_entry *entry, int status,
                        const char *code, const char *message, const struct hook_ctx *ctx)
{
	struct oci_api *api = arg;
	const char *rcpt = ctx->nrecipients ? ctx->recipients[0] : "";
	char limit[32];
	struct cat_var vars[] = {{"limit", limit},
	                         {"sender", ctx->sender ? ctx->sender : ""},
	                         {"address", ctx->sender ? ctx->sender : rcpt},
	                         {"header", "X-Header"}};

	if (entry == NULL) {
		send_json(r, status, json_pack("{s:s, s:s}", "code", code, "message", message));
		return;
	}
	snprintf(limit, sizeof limit, "%llu", policy_limit_for(api->env->policy, entry->id));
	send_entry(r, status, code, message, vars, 4);
}

static void commit_failed(void *arg, struct https_req *r)
{
	struct oci_api *api = arg;
	const struct cat_entry *e = catalog_find(api->env->catalog, "oci.https.internal-error");

	if (e != NULL)
		send_entry(r, e->status, e->error_code, e->message, NULL, 0);
	else
		send_json(r, 500,
		          json_pack("{s:s, s:s}", "code", "InternalServerError", "message",
		                    "Internal Server Error"));
}

static void handle(void *arg, struct https_req *r, int h)
{
	struct oci_api *api = arg;
	const char *path = https_front_path(r->req);
	char user[512];

	if (h != 2 && https_front_rate_limited(api->front))
		send_error(api, r, "oci.https.too-many-requests", NULL, NULL);
	else if (path == NULL ||
	         (strcmp(path, SUBMIT_PATH) != 0 && strcmp(path, SUBMIT_RAW_PATH) != 0))
		send_error(api, r, "oci.https.not-found", NULL, NULL);
	else if (evhttp_request_get_command(r->req) != EVHTTP_REQ_POST)
		send_error(api, r, "oci.https.method-not-allowed", NULL, NULL);
	else if (h != 2 && authenticate(api, r->req, user, sizeof user) < 0)
		send_error(api, r, "oci.https.not-authenticated", NULL, NULL);
	else if (strcmp(path, SUBMIT_RAW_PATH) == 0)
		submit_raw(api, r, h == 2 ? NULL : (user[0] ? user : NULL));
	else
		submit_email(api, r, h == 2 ? NULL : (user[0] ? user : NULL));
}

static const struct https_front_ops oci_ops = {
    .request_id_header = "opc-request-id",
    .attempt_header = "opc-request-id",
    .request_id = request_id_for,
    .handle = handle,
    .send_forced = send_forced,
    .commit_failed = commit_failed,
};

struct https_front *https_oci_new(const struct env *env, const char *listen, int *port, char *err,
                                  size_t errlen)
{
	struct oci_api *api = xcalloc(1, sizeof *api);
	struct https_front *f =
	    https_front_new(env, listen, port, env->cfg->limits.message_bytes * 2 + 65536, &oci_ops,
	                    api, err, errlen);

	if (f != NULL) {
		api->front = f;
		api->env = https_front_env(f);
	}
	return f;
}
