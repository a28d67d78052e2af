/*
 * ses_v1.c - the SES v1 API (Query, 2010-12-01): POST / with a form body
 * (or the same parameters in the query string), Action naming the
 * operation: SendEmail, SendRawEmail, GetSendQuota, GetSendStatistics,
 * VerifyEmailIdentity, VerifyDomainIdentity, ListIdentities,
 * GetIdentityVerificationAttributes, DeleteIdentity. Answers are XML
 * (ses_reply.c); refusals the catalog's ses.v1.* rows. An unknown Action
 * is AWS's InvalidAction.
 *
 * Lists are Query members: Name.member.1, Name.member.2, ... read until the
 * first missing index (at most 1000). The form is decoded into one array of
 * parameters owned by the call (values may hold any byte, CR and LF
 * included); its size is the client's, so it is a checked allocation, a
 * failure answering internal-failure.
 */
#include <event2/buffer.h>
#include <event2/http.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "env.h"
#include "https_front.h"
#include "ses_account.h"
#include "ses_https.h"
#include "ses_reply.h"
#include "ses_send.h"
#include "util.h"
#include "xmalloc.h"

#define LIST_MAX_ITEMS   1000 /* ListIdentities' MaxItems */
#define VERIFY_ATTRS_MAX 100  /* GetIdentityVerificationAttributes' Identities */
#define MEMBERS_MAX      1000 /* a list's members read at the most */
#define STATS_POINTS_MAX 1344 /* two weeks of 15-minute periods */

struct param {
	char *key, *value;
};

struct form {
	struct param *v;
	size_t n, cap;
};

/* Adds one pair, decoded ('+' is a space); -1 when memory runs out (the
 * number of pairs is the client's choice: checked, not xmalloc'ed). */
static int form_add(struct form *f, const char *text, size_t klen, size_t len)
{
	char *key = strndup(text, klen);
	char *value = klen < len ? strndup(text + klen + 1, len - klen - 1) : strdup("");
	struct param p = {NULL, NULL};
	int rc = -1;

	if (key != NULL && value != NULL) {
		p.key = evhttp_uridecode(key, 1, NULL);
		p.value = evhttp_uridecode(value, 1, NULL);
	}
	if (p.key != NULL && p.value != NULL && f->n == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 32;
		struct param *grown = realloc(f->v, cap * sizeof *grown);
		if (grown != NULL) {
			f->v = grown;
			f->cap = cap;
		}
	}
	if (p.key != NULL && p.value != NULL && f->n < f->cap) {
		f->v[f->n++] = p;
		rc = 0;
	} else {
		free(p.key);
		free(p.value);
	}
	free(key);
	free(value);
	return rc;
}

/* Adds the pairs of an x-www-form-urlencoded text; -1 when memory runs out. */
static int form_parse(struct form *f, const char *text)
{
	while (text != NULL && *text != '\0') {
		size_t len = strcspn(text, "&"), klen = strcspn(text, "=");
		if (len > 0 && form_add(f, text, klen < len ? klen : len, len) < 0)
			return -1;
		text += len + (text[len] == '&');
	}
	return 0;
}

static void form_free(struct form *f)
{
	for (size_t i = 0; i < f->n; i++) {
		free(f->v[i].key);
		free(f->v[i].value);
	}
	free(f->v);
}

/* The parameter's value (the last one given), or NULL. */
static const char *form_get(const struct form *f, const char *key)
{
	for (size_t i = f->n; i > 0; i--)
		if (strcmp(f->v[i - 1].key, key) == 0)
			return f->v[i - 1].value;
	return NULL;
}

/* prefix.member.1, prefix.member.2, ... into out (pointers into f). */
static void form_list(const struct form *f, const char *prefix, struct ses_list *out)
{
	char key[160];
	const char *v;

	for (size_t i = 1; i <= MEMBERS_MAX; i++) {
		snprintf(key, sizeof key, "%s.member.%zu", prefix, i);
		if ((v = form_get(f, key)) == NULL)
			break;
		out->v = xrealloc(out->v, (out->n + 1) * sizeof *out->v);
		out->v[out->n++] = v;
	}
}

/* The request's parameters: the query string's, then the body's. */
static int form_read(struct https_req *r, struct form *f)
{
	const char *query = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(r->req));
	size_t len;
	char *body = https_front_body(r->req, &len);

	int rc;

	if (body == NULL)
		return -1;
	rc = form_parse(f, query) < 0 || form_parse(f, body) < 0 ? -1 : 0;
	free(body);
	return rc;
}

/* ---- answers --------------------------------------------------------------------- */

/* A refusal with one placeholder (name NULL: none). */
static void refuse(struct ses_api *api, struct https_req *r, const char *name, const char *var,
                   const char *value)
{
	ses_reply_error(api, r, SES_V1, name, var, value);
}

static void reply_result(struct https_req *r, const char *action, struct jsonw *w)
{
	char *result = jsonw_take(w);

	ses_reply_xml(r, action, result ? result : "");
	free(result);
}

static void put_double(struct jsonw *w, const char *name, double v)
{
	char text[64];

	snprintf(text, sizeof text, "%.1f", v);
	jsonw_lit(w, "    ");
	ses_xml_elem(w, name, text);
	jsonw_lit(w, "\n");
}

/* ---- sending ------------------------------------------------------------------------ */

/* Tags.member.N.Name / .Value: NULL when good, else the refusal's name,
 * *var its placeholder and *bad the offending text. */
static const char *tags_problem(const struct form *f, const char **var, const char **bad)
{
	char key[64];
	const char *name, *value;

	for (size_t i = 1; i <= MEMBERS_MAX; i++) {
		snprintf(key, sizeof key, "Tags.member.%zu.Name", i);
		if ((name = form_get(f, key)) == NULL)
			return NULL;
		snprintf(key, sizeof key, "Tags.member.%zu.Value", i);
		value = form_get(f, key);
		*var = "name";
		*bad = name;
		if (!ses_tag_ok(name))
			return "tag-name";
		*var = "value";
		*bad = value ? value : "";
		if (value == NULL || !ses_tag_ok(value))
			return "tag-value";
	}
	return NULL;
}

static void send_common(const struct form *f, struct ses_send *s, const char *action)
{
	s->proto = SES_V1;
	s->action = action;
	s->from = form_get(f, "Source");
	s->config_set = form_get(f, "ConfigurationSetName");
	if (s->config_set != NULL && *s->config_set == '\0')
		s->config_set = NULL;
}

static void send_run(struct ses_api *api, struct https_req *r, const struct form *f,
                     struct ses_send *s, const char *user, int h)
{
	const char *var = NULL, *bad = NULL, *problem = tags_problem(f, &var, &bad);

	if (problem != NULL)
		refuse(api, r, problem, var, bad);
	else
		ses_send_run(api, r, s, user, h);
	free(s->to.v);
	free(s->cc.v);
	free(s->bcc.v);
	free(s->reply_to.v);
}

static void send_email(struct ses_api *api, struct https_req *r, const struct form *f,
                       const char *user, int h)
{
	struct ses_send s = {0};
	const char *missing = NULL;

	send_common(f, &s, "SendEmail");
	s.content = SES_CONTENT_SIMPLE;
	s.return_path = form_get(f, "ReturnPath");
	s.subject = form_get(f, "Message.Subject.Data");
	s.subject_charset = form_get(f, "Message.Subject.Charset");
	s.text = form_get(f, "Message.Body.Text.Data");
	s.text_charset = form_get(f, "Message.Body.Text.Charset");
	s.html = form_get(f, "Message.Body.Html.Data");
	s.html_charset = form_get(f, "Message.Body.Html.Charset");
	if (s.from == NULL)
		missing = "source";
	else if (s.subject == NULL)
		missing = "message.subject.data";
	else if (s.text == NULL && s.html == NULL)
		missing = "message.body";
	if (missing != NULL) {
		refuse(api, r, "validation-null", "member", missing);
		return;
	}
	form_list(f, "Destination.ToAddresses", &s.to);
	form_list(f, "Destination.CcAddresses", &s.cc);
	form_list(f, "Destination.BccAddresses", &s.bcc);
	form_list(f, "ReplyToAddresses", &s.reply_to);
	send_run(api, r, f, &s, user, h);
}

static void send_raw_email(struct ses_api *api, struct https_req *r, const struct form *f,
                           const char *user, int h)
{
	struct ses_send s = {0};

	send_common(f, &s, "SendRawEmail");
	s.content = SES_CONTENT_RAW;
	if ((s.raw_b64 = form_get(f, "RawMessage.Data")) == NULL) {
		refuse(api, r, "validation-null", "member", "rawMessage.data");
		return;
	}
	s.raw_b64_len = strlen(s.raw_b64);
	form_list(f, "Destinations", &s.to);
	send_run(api, r, f, &s, user, h);
}

/* ---- the account -------------------------------------------------------------------- */

static void get_send_quota(struct ses_api *api, struct https_req *r)
{
	struct ses_quota q;
	struct jsonw w = {0};

	ses_account_quota(api->account, &q);
	put_double(&w, "SentLast24Hours", q.sent_last_24h);
	put_double(&w, "Max24HourSend", q.max_24h_send);
	put_double(&w, "MaxSendRate", q.max_send_rate);
	reply_result(r, "GetSendQuota", &w);
}

static void put_count(struct jsonw *w, const char *name, unsigned long long n)
{
	char text[32];

	snprintf(text, sizeof text, "%llu", n);
	ses_xml_elem(w, name, text);
}

static void get_send_statistics(struct ses_api *api, struct https_req *r)
{
	struct ses_stats_point *points = xcalloc(STATS_POINTS_MAX, sizeof *points);
	size_t n = ses_account_stats(api->account, points, STATS_POINTS_MAX);
	struct jsonw w = {0};
	char when[32];

	jsonw_lit(&w, "    <SendDataPoints>\n");
	for (size_t i = 0; i < n; i++) {
		/* the account keeps the virtual clock's monotonic time: shown as Unix
		 * time, to the minute, as SES's data points are */
		time_t t = (time_t)(vclock_wall(api->env->clock) -
		                    (vclock_now(api->env->clock) - points[i].time));
		t -= t % 60;
		struct tm tm;
		gmtime_r(&t, &tm);
		strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
		jsonw_lit(&w, "      <member>");
		put_count(&w, "DeliveryAttempts", points[i].attempts);
		ses_xml_elem(&w, "Timestamp", when);
		put_count(&w, "Rejects", points[i].rejects);
		put_count(&w, "Bounces", points[i].bounces);
		put_count(&w, "Complaints", points[i].complaints);
		jsonw_lit(&w, "</member>\n");
	}
	jsonw_lit(&w, "    </SendDataPoints>\n");
	free(points);
	reply_result(r, "GetSendStatistics", &w);
}

/* ---- identities ------------------------------------------------------------------- */

/* A domain's verification token: base64 of SHA-256 over the account and
 * the domain, 44 characters as SES's are, the same on every call. */
static void domain_token(struct ses_api *api, const char *domain, char out[64])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	const char *account = ses_account_id(api->account);

	out[0] = '\0';
	if (ctx == NULL)
		return;
	if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
	    EVP_DigestUpdate(ctx, account, strlen(account)) == 1 &&
	    EVP_DigestUpdate(ctx, domain, strlen(domain)) == 1 &&
	    EVP_DigestFinal_ex(ctx, md, &mdlen) == 1)
		EVP_EncodeBlock((unsigned char *)out, md, (int)mdlen);
	EVP_MD_CTX_free(ctx);
}

static void verify_email(struct ses_api *api, struct https_req *r, const struct form *f)
{
	const char *address = form_get(f, "EmailAddress"), *problem;
	char bare[256];

	if (address == NULL)
		refuse(api, r, "validation-null", "member", "emailAddress");
	else if ((problem = ses_address_problem(address, bare, sizeof bare)) != NULL)
		refuse(api, r, problem, "address", address);
	else {
		ses_identity_create(api->account, bare); /* again: SES sends the mail again */
		ses_reply_xml(r, "VerifyEmailIdentity", "");
	}
}

static void verify_domain(struct ses_api *api, struct https_req *r, const struct form *f)
{
	const char *domain = form_get(f, "Domain");
	char token[64];
	struct jsonw w = {0};

	if (domain == NULL) {
		refuse(api, r, "validation-null", "member", "domain");
		return;
	}
	if (!ses_domain_ok(domain)) {
		refuse(api, r, "invalid-identity", "name", domain);
		return;
	}
	ses_identity_create(api->account, domain);
	domain_token(api, domain, token);
	jsonw_lit(&w, "    ");
	ses_xml_elem(&w, "VerificationToken", token);
	jsonw_lit(&w, "\n");
	reply_result(r, "VerifyDomainIdentity", &w);
}

static void delete_identity(struct ses_api *api, struct https_req *r, const struct form *f)
{
	const char *name = form_get(f, "Identity");

	if (name == NULL) {
		refuse(api, r, "validation-null", "member", "identity");
		return;
	}
	ses_identity_delete(api->account, name); /* an unknown one: nothing to do */
	ses_reply_xml(r, "DeleteIdentity", "");
}

/* A whole number parameter within max (def when absent); -1 otherwise. */
static int number_param(const struct form *f, const char *key, unsigned long long def,
                        unsigned long long max, unsigned long long *out)
{
	const char *v = form_get(f, key);

	*out = def;
	return v != NULL && (parse_ulonglong(v, out) < 0 || *out > max) ? -1 : 0;
}

static void list_identities(struct ses_api *api, struct https_req *r, const struct form *f)
{
	const char *type = form_get(f, "IdentityType");
	unsigned long long max, from;
	size_t n, i, shown = 0;
	struct ses_identity_info *all = ses_identities(api->account, &n);
	struct jsonw w = {0};
	char next[32];

	if (type != NULL && strcmp(type, "EmailAddress") != 0 && strcmp(type, "Domain") != 0)
		refuse(api, r, "identity-type", "value", type);
	else if (number_param(f, "MaxItems", LIST_MAX_ITEMS, LIST_MAX_ITEMS, &max) < 0)
		refuse(api, r, "max-items", "value", form_get(f, "MaxItems"));
	else if (number_param(f, "NextToken", 0, n, &from) < 0)
		refuse(api, r, "invalid-next-token", NULL, NULL);
	else {
		jsonw_lit(&w, "    <Identities>\n");
		for (i = (size_t)from; i < n && shown < max; i++) {
			if (type != NULL && (type[0] == 'D') != all[i].is_domain)
				continue;
			jsonw_lit(&w, "      ");
			ses_xml_elem(&w, "member", all[i].name);
			jsonw_lit(&w, "\n");
			shown++;
		}
		jsonw_lit(&w, "    </Identities>\n");
		if (i < n) {
			snprintf(next, sizeof next, "%zu", i);
			jsonw_lit(&w, "    ");
			ses_xml_elem(&w, "NextToken", next);
			jsonw_lit(&w, "\n");
		}
		reply_result(r, "ListIdentities", &w);
	}
	free(all);
}

static void get_verification(struct ses_api *api, struct https_req *r, const struct form *f)
{
	struct ses_list names = {0};
	struct ses_identity_info info;
	struct jsonw w = {0};
	char token[64];

	form_list(f, "Identities", &names);
	if (names.n > VERIFY_ATTRS_MAX) {
		refuse(api, r, "too-many-identities", NULL, NULL);
		free(names.v);
		return;
	}
	jsonw_lit(&w, "    <VerificationAttributes>\n");
	for (size_t i = 0; i < names.n; i++) {
		if (ses_identity_get(api->account, names.v[i], &info) < 0)
			continue; /* SES leaves out what it does not know */
		jsonw_lit(&w, "      <entry>\n        ");
		ses_xml_elem(&w, "key", names.v[i]);
		jsonw_lit(&w, "\n        <value>\n          ");
		ses_xml_elem(&w, "VerificationStatus", ses_status_v1(info.status));
		if (info.is_domain) {
			domain_token(api, names.v[i], token);
			jsonw_lit(&w, "\n          ");
			ses_xml_elem(&w, "VerificationToken", token);
		}
		jsonw_lit(&w, "\n        </value>\n      </entry>\n");
	}
	jsonw_lit(&w, "    </VerificationAttributes>\n");
	free(names.v);
	reply_result(r, "GetIdentityVerificationAttributes", &w);
}

/* ---- routing ------------------------------------------------------------------------ */

void ses_v1_handle(struct ses_api *api, struct https_req *r, const char *user, int h)
{
	struct form f = {0};
	const char *action;

	if (form_read(r, &f) < 0) {
		form_free(&f);
		refuse(api, r, "internal-failure", NULL, NULL);
		return;
	}
	action = form_get(&f, "Action");
	if (action == NULL || *action == '\0')
		refuse(api, r, "missing-action", NULL, NULL);
	else if (strcmp(action, "SendEmail") == 0)
		send_email(api, r, &f, user, h);
	else if (strcmp(action, "SendRawEmail") == 0)
		send_raw_email(api, r, &f, user, h);
	else if (strcmp(action, "GetSendQuota") == 0)
		get_send_quota(api, r);
	else if (strcmp(action, "GetSendStatistics") == 0)
		get_send_statistics(api, r);
	else if (strcmp(action, "VerifyEmailIdentity") == 0)
		verify_email(api, r, &f);
	else if (strcmp(action, "VerifyDomainIdentity") == 0)
		verify_domain(api, r, &f);
	else if (strcmp(action, "ListIdentities") == 0)
		list_identities(api, r, &f);
	else if (strcmp(action, "GetIdentityVerificationAttributes") == 0)
		get_verification(api, r, &f);
	else if (strcmp(action, "DeleteIdentity") == 0)
		delete_identity(api, r, &f);
	else
		refuse(api, r, "invalid-action", "action", action);
	form_free(&f);
}
