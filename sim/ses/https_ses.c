/*
 * https_ses.c - the SES APIs on the shared HTTPS front end: request ids in
 * AWS's shape (x-amzn-RequestId, a UUID), retries of one call counted by
 * the SDKs' amz-sdk-invocation-id, SigV4 (https.auth), the request rate,
 * and the choice of API: POST / is the v1 Query API, anything else the v2
 * rest-json API (whose own router answers unknown paths).
 *
 * Order, the first failure answering: the scenario's request stage, the
 * signature (off: nothing; present: a well-formed AWS4 Authorization
 * header; verify: the signature checks out with a configured access key,
 * region and service "ses", at the virtual clock's time), the request rate
 * (limits.requests_per_second), then the operation.
 *
 * Invariants: nothing here holds a reply text (ses_reply.c renders the
 * catalog's rows); the access keys and region are read from the
 * configuration in force at each request, as a scenario may change them.
 */
#include "ses_https.h"

#include <sys/queue.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "clock.h"
#include "config.h"
#include "env.h"
#include "https_front.h"
#include "scenario_engine.h"
#include "ses_account.h"
#include "ses_message.h"
#include "ses_reply.h"
#include "sigv4.h"
#include "xmalloc.h"

/* v1 is POST / (and GET / with the query in the URL); the rest is v2. */
static enum ses_proto proto_of(struct evhttp_request *req)
{
	const char *path = https_front_path(req);

	return path == NULL || strcmp(path, "/") == 0 || *path == '\0' ? SES_V1 : SES_V2;
}

/* A request id in AWS's shape: a random (version 4) UUID. */
static void request_id_for(void *arg, struct evhttp_request *req, uint64_t seq, char *out,
                           size_t len)
{
	unsigned char b[16];

	(void)arg;
	(void)req;
	if (RAND_bytes(b, sizeof b) != 1) /* fall back to the count: unique all the same */
		for (size_t i = 0; i < sizeof b; i++)
			b[i] = (unsigned char)(seq >> (8 * (i % 8)));
	b[6] = (unsigned char)((b[6] & 0x0F) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3F) | 0x80);
	snprintf(out, len, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
	         b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
	         b[13], b[14], b[15]);
}

/* ---- SigV4 ----------------------------------------------------------------------- */

/* The catalog row of each failure; the statuses a well-formed header can
 * still fail with under https.auth present are marked. */
static const struct {
	const char *name;
	int form; /* a failure of the header's form: refused by present too */
} auth_rows[] = {
    [SIGV4_OK] = {NULL, 0},
    [SIGV4_MISSING] = {"missing-authentication-token", 1},
    [SIGV4_MALFORMED_PAIR] = {"incomplete-signature-pair", 1},
    [SIGV4_INCOMPLETE] = {"incomplete-signature", 1},
    [SIGV4_BAD_DATE] = {"incomplete-signature-date-format", 1},
    [SIGV4_EXPIRED] = {"signature-expired", 0},
    [SIGV4_NOT_YET_CURRENT] = {"signature-not-yet-current", 0},
    [SIGV4_HOST_NOT_SIGNED] = {"signature-host-not-signed", 1},
    [SIGV4_BAD_ALGORITHM] = {"incomplete-signature-algorithm", 1},
    [SIGV4_BAD_CREDENTIAL] = {"incomplete-signature-credential", 1},
    [SIGV4_BAD_SCOPE] = {"signature-scope", 0},
    [SIGV4_UNKNOWN_KEY] = {"invalid-client-token-id", 0},
    [SIGV4_MISMATCH] = {"signature-does-not-match", 0},
    [SIGV4_INTERNAL] = {"internal-failure", 0},
};

/* The first missing part, as AWS names it first. */
static void incomplete_vars(const struct sigv4_result *res, struct provider_reply *p,
                            const char **name)
{
	if (res->missing & SIGV4_NEED_CREDENTIAL)
		provider_reply_var(p, "parameter", "Credential");
	else if (res->missing & SIGV4_NEED_SIGNATURE)
		provider_reply_var(p, "parameter", "Signature");
	else if (res->missing & SIGV4_NEED_SIGNED_HEADERS)
		provider_reply_var(p, "parameter", "SignedHeaders");
	else
		*name = "incomplete-signature-date";
}

/* The first wrong part of the credential's scope. */
static const char *scope_row(const struct sigv4_result *res, struct provider_reply *p)
{
	if (res->scope_errors & SIGV4_SCOPE_REGION) {
		provider_reply_var(p, "region", res->scope_region);
		return "signature-scope-region";
	}
	if (res->scope_errors & SIGV4_SCOPE_SERVICE) {
		provider_reply_var(p, "service", res->service);
		return "signature-scope-service";
	}
	if (res->scope_errors & SIGV4_SCOPE_TERMINATOR) {
		provider_reply_var(p, "terminator", res->scope_terminator);
		return "signature-scope-terminator";
	}
	provider_reply_var(p, "scope_date", res->scope_date);
	provider_reply_var(p, "request_date", res->request_date);
	provider_reply_var(p, "signing_time", res->signing_time);
	return "signature-scope-date";
}

/* The refusal for a failed check, its placeholders filled. */
static void auth_refusal(const struct catalog *c, enum ses_proto proto,
                         const struct sigv4_result *res, struct provider_reply *p)
{
	const char *name = auth_rows[res->status].name;
	char minutes[16];

	switch (res->status) {
	case SIGV4_MALFORMED_PAIR:
		provider_reply_var(p, "authorization_hash", res->authorization_hash);
		provider_reply_var(p, "pair", res->pair);
		break;
	case SIGV4_INCOMPLETE:
		incomplete_vars(res, p, &name);
		provider_reply_var(p, "authorization", res->authorization);
		break;
	case SIGV4_BAD_DATE:
		provider_reply_var(p, "date", res->date);
		break;
	case SIGV4_EXPIRED:
	case SIGV4_NOT_YET_CURRENT:
		snprintf(minutes, sizeof minutes, "%d", res->skew_minutes);
		provider_reply_var(p, "signing_time", res->signing_time);
		provider_reply_var(p, "window_edge", res->window_edge);
		provider_reply_var(p, "server_time", res->server_time);
		provider_reply_var(p, "skew_minutes", minutes);
		break;
	case SIGV4_BAD_ALGORITHM:
		provider_reply_var(p, "algorithm", res->algorithm);
		break;
	case SIGV4_BAD_CREDENTIAL:
		provider_reply_var(p, "credential", res->credential);
		break;
	case SIGV4_BAD_SCOPE:
		name = scope_row(res, p);
		break;
	default:
		break;
	}
	ses_refuse(c, proto, name, p);
}

/* The request's headers as sigv4.c takes them (malloc'ed; *n set). */
static struct sigv4_header *headers_of(struct evhttp_request *req, size_t *n)
{
	struct evkeyvalq *in = evhttp_request_get_input_headers(req);
	struct evkeyval *h;
	struct sigv4_header *v;
	size_t i = 0;

	*n = 0;
	TAILQ_FOREACH(h, in, next)
	(*n)++;
	v = xcalloc(*n + 1, sizeof *v);
	TAILQ_FOREACH(h, in, next)
	v[i++] = (struct sigv4_header){h->key, h->value};
	return v;
}

/* The signature under https.auth: SIGV4_OK, or the failure (res filled). */
static enum sigv4_status check_signature(struct ses_api *api, struct evhttp_request *req,
                                         struct sigv4_result *res, char *user, size_t len)
{
	const struct config *cfg = api->env->cfg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	struct evbuffer *body = evhttp_request_get_input_buffer(req);
	struct sigv4_key *keys = xcalloc(cfg->ses.nkeys + 1, sizeof *keys);
	size_t body_len = evbuffer_get_length(body);
	char method[8];
	struct sigv4_request sr = {.method = method,
	                           .path = evhttp_uri_get_path(uri),
	                           .query = evhttp_uri_get_query(uri),
	                           .body = evbuffer_pullup(body, (ev_ssize_t)body_len),
	                           .body_len = body_len};
	enum sigv4_status st;

	snprintf(method, sizeof method, "%s", https_front_method(req));
	for (char *m = method; *m; m++)
		*m = (char)(*m - 'a' + 'A');
	for (size_t i = 0; i < cfg->ses.nkeys; i++)
		keys[i] = (struct sigv4_key){cfg->ses.keys[i].id, cfg->ses.keys[i].secret};
	sr.headers = headers_of(req, &sr.nheaders);
	st = sigv4_verify(&sr, keys, cfg->ses.nkeys, cfg->ses.region, "ses",
	                  vclock_wall(api->env->clock), res);
	if (st == SIGV4_OK)
		snprintf(user, len, "%s", res->key_id);
	free((void *)sr.headers);
	free(keys);
	return st;
}

/* https.auth: 0 when the request may go on (the signing key id in user
 * under verify, else ""), -1 when it was refused (answered). */
static int authenticate(struct ses_api *api, struct https_req *r, enum ses_proto proto, char *user,
                        size_t len)
{
	enum https_auth mode = api->env->cfg->https_auth;
	struct sigv4_result res;
	struct provider_reply p = {0};
	enum sigv4_status st;

	user[0] = '\0';
	if (mode == HTTPS_AUTH_OFF)
		return 0;
	st = check_signature(api, r->req, &res, user, len);
	if (st == SIGV4_OK || (mode == HTTPS_AUTH_PRESENT && !auth_rows[st].form)) {
		user[0] = '\0';
		if (mode == HTTPS_AUTH_VERIFY)
			snprintf(user, len, "%s", res.key_id);
		sigv4_result_free(&res);
		return 0;
	}
	auth_refusal(api->env->catalog, proto, &res, &p);
	sigv4_result_free(&res);
	ses_reply_refusal(api, r, proto, &p);
	return -1;
}

/* ---- the front end's callbacks ---------------------------------------------------- */

static void handle(void *arg, struct https_req *r, int h)
{
	struct ses_api *api = arg;
	enum ses_proto proto = proto_of(r->req);
	char user[128];

	user[0] = '\0';
	if (h != 2 && authenticate(api, r, proto, user, sizeof user) < 0)
		return;
	if (h != 2 && https_front_rate_limited(api->front)) {
		ses_reply_error(api, r, proto, "request-rate", NULL, NULL);
		return;
	}
	if (proto == SES_V1)
		ses_v1_handle(api, r, user[0] ? user : NULL, h);
	else
		ses_v2_handle(api, r, user[0] ? user : NULL, h);
}

/* A rule's reply, rendered in the API the request used; the placeholders
 * filled from what the request says and the account. */
static void send_forced(void *arg, struct https_req *r, const struct cat_entry *entry, int status,
                        const char *code, const char *message, const struct hook_ctx *ctx)
{
	struct ses_api *api = arg;
	const char *sender = ctx->sender ? ctx->sender : "";
	char region[64];
	const struct cat_var vars[] = {{"region", region},
	                               {"identities", sender},
	                               {"address", sender},
	                               {"name", ""},
	                               {"account", ses_account_id(api->account)},
	                               {"arn_region", ses_account_region(api->account)}};

	(void)entry;
	ses_region_upper(api->account, region, sizeof region);
	ses_reply_fields(r, proto_of(r->req), status, code, message, vars,
	                 sizeof vars / sizeof vars[0]);
}

static void commit_failed(void *arg, struct https_req *r)
{
	struct ses_api *api = arg;
	struct provider_reply p = {0};

	ses_refuse(api->env->catalog, proto_of(r->req), "internal-failure", &p);
	if (p.entry != NULL)
		ses_reply_fields(r, proto_of(r->req), p.entry->status, p.entry->error_code,
		                 p.entry->message, NULL, 0);
	else
		ses_reply_fields(r, proto_of(r->req), 500, "InternalFailure", "", NULL, 0);
}

static const struct https_front_ops ses_ops = {
    .request_id_header = "x-amzn-RequestId",
    .attempt_header = "amz-sdk-invocation-id",
    .request_id = request_id_for,
    .handle = handle,
    .send_forced = send_forced,
    .commit_failed = commit_failed,
};

/* The largest request body: a v2 message of 40 MB in base64 inside JSON,
 * or a v1 one form-encoded (base64 grows by 4/3, %-encoding its '+', '/'
 * and '=' by up to 3). */
#define SES_MAX_BODY (4ull * 41943040ull + 65536ull)

struct https_front *ses_https_new(const struct env *env, const char *listen, int *port, char *err,
                                  size_t errlen)
{
	struct ses_api *api = xcalloc(1, sizeof *api);
	struct https_front *f =
	    https_front_new(env, listen, port, SES_MAX_BODY, &ses_ops, api, err, errlen);

	if (f != NULL) {
		api->front = f;
		api->env = https_front_env(f);
		api->account = env->account;
	}
	return f;
}
