/*
 * ses_v2.c - the SES v2 API (rest-json, 2019-09-27): SendEmail, GetAccount,
 * PutAccountSendingAttributes and the email identities (create, get, list,
 * delete). Bodies are JSON, answers JSON; refusals are the catalog's
 * ses.v2.* rows (ses_reply.c).
 *
 * A request body's members are checked against the model's constraints
 * before anything else (a member of the wrong JSON type is a serialization
 * error, a missing required one a validation error naming its path); the
 * send itself is ses_send.c's.
 */
#include <sys/queue.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "env.h"
#include "https_front.h"
#include "ses_account.h"
#include "ses_https.h"
#include "ses_reply.h"
#include "ses_send.h"
#include "util.h"
#include "xmalloc.h"

#define PREFIX           "/v2/email/"
#define MAX_HEADERS      15  /* Simple.Headers: at most 15 items */
#define HEADER_NAME_MAX  126 /* MessageHeaderName: 1 to 126 characters */
#define HEADER_VALUE_MAX 995 /* MessageHeaderValue: 1 to 995 characters */
#define LIST_PAGE_MAX    1000
#define LIST_PAGE_LIMIT  100 /* ListEmailIdentities without PageSize */

/* A refusal being prepared: the row's name and its placeholders. */
struct problem {
	const char *name;
	struct provider_reply p;
};

static int fail(struct problem *pb, const char *name)
{
	pb->name = name;
	return -1;
}

static int fail_at(struct problem *pb, const char *name, const char *member, const char *value)
{
	provider_reply_var(&pb->p, "member", member);
	if (value != NULL)
		provider_reply_var(&pb->p, "value", value);
	return fail(pb, name);
}

static void reply_problem(struct ses_api *api, struct https_req *r, struct problem *pb)
{
	ses_refuse(api->env->catalog, SES_V2, pb->name, &pb->p);
	ses_reply_refusal(api, r, SES_V2, &pb->p);
}

/* A member that must be a string when present: 0 with *out (NULL when
 * absent or null), -1 when it has another type. */
static int get_string(const json_t *obj, const char *key, const char **out, struct problem *pb)
{
	const json_t *v = json_object_get(obj, key);

	*out = NULL;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return fail(pb, "serialization");
	*out = json_string_value(v);
	return 0;
}

/* A required string member: -1 (validation-null naming path) when absent. */
static int need_string(const json_t *obj, const char *key, const char *path, const char **out,
                       struct problem *pb)
{
	if (get_string(obj, key, out, pb) < 0)
		return -1;
	return *out == NULL ? fail_at(pb, "validation-null", path, NULL) : 0;
}

/* A member that must be an object when present. */
static int get_object(const json_t *obj, const char *key, const json_t **out, struct problem *pb)
{
	const json_t *v = json_object_get(obj, key);

	*out = NULL;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_object(v))
		return fail(pb, "serialization");
	*out = v;
	return 0;
}

/* A member that must be an array when present. */
static int get_array(const json_t *obj, const char *key, const json_t **out, struct problem *pb)
{
	const json_t *v = json_object_get(obj, key);

	*out = NULL;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_array(v))
		return fail(pb, "serialization");
	*out = v;
	return 0;
}

/* A list of strings (the array's strings are pointed at, not copied). */
static int get_list(const json_t *obj, const char *key, struct ses_list *out, struct problem *pb)
{
	const json_t *v, *item;
	size_t i;

	if (get_array(obj, key, &v, pb) < 0)
		return -1;
	if (v == NULL)
		return 0;
	if ((out->v = calloc(json_array_size(v) + 1, sizeof *out->v)) == NULL)
		return fail(pb, "internal-failure"); /* as long as the client made it */
	json_array_foreach(v, i, item)
	{
		if (!json_is_string(item))
			return fail(pb, "serialization");
		out->v[out->n++] = json_string_value(item);
	}
	return 0;
}

/* A Content object ({Data, Charset}): Data is required. */
static int get_content(const json_t *obj, const char *key, const char *path, int required,
                       const char **data, const char **charset, struct problem *pb)
{
	const json_t *c;
	char member[128];

	*data = *charset = NULL;
	if (get_object(obj, key, &c, pb) < 0)
		return -1;
	if (c == NULL)
		return required ? fail_at(pb, "validation-null", path, NULL) : 0;
	snprintf(member, sizeof member, "%s.data", path);
	if (need_string(c, "Data", member, data, pb) < 0 ||
	    get_string(c, "Charset", charset, pb) < 0)
		return -1;
	return 0;
}

static int header_name_ok(const char *s)
{
	for (; *s != '\0'; s++) /* ^[!-9;-@A-~]+$ */
		if (*s < '!' || *s > '~' || *s == ':')
			return 0;
	return 1;
}

static int header_value_ok(const char *s)
{
	for (; *s != '\0'; s++) /* [ -~]* */
		if (*s < ' ' || *s > '~')
			return 0;
	return 1;
}

/* Simple.Headers: at most 15, each name and value within the model's
 * length and pattern. */
static int get_headers(const json_t *simple, struct ses_send *s, struct problem *pb)
{
	const json_t *list, *h;
	struct ses_field *v;
	char member[96];
	size_t i;

	if (get_array(simple, "Headers", &list, pb) < 0)
		return -1;
	if (list == NULL)
		return 0;
	if (json_array_size(list) > MAX_HEADERS)
		return fail_at(pb, "too-many-headers", "content.simple.headers", NULL);
	s->headers = v = xcalloc(json_array_size(list) + 1, sizeof *v);
	json_array_foreach(list, i, h)
	{
		const char *name, *value;
		if (!json_is_object(h))
			return fail(pb, "serialization");
		snprintf(member, sizeof member, "content.simple.headers.%zu.member.name", i + 1);
		if (need_string(h, "Name", member, &name, pb) < 0)
			return -1;
		if (strlen(name) > HEADER_NAME_MAX)
			return fail_at(pb, "header-name-length", member, name);
		if (!header_name_ok(name) || *name == '\0')
			return fail_at(pb, "header-name-pattern", member, name);
		snprintf(member, sizeof member, "content.simple.headers.%zu.member.value", i + 1);
		if (need_string(h, "Value", member, &value, pb) < 0)
			return -1;
		if (*value == '\0' || strlen(value) > HEADER_VALUE_MAX)
			return fail_at(pb, *value ? "header-value-length" : "header-value-empty",
			               member, value);
		if (!header_value_ok(value))
			return fail_at(pb, "header-value-pattern", member, value);
		v[s->nheaders++] = (struct ses_field){name, value};
	}
	return 0;
}

static int get_attachments(const json_t *simple, struct ses_send *s, struct problem *pb)
{
	const json_t *list, *a;
	struct ses_attachment *v;
	char member[96];
	size_t i;

	if (get_array(simple, "Attachments", &list, pb) < 0)
		return -1;
	if (list == NULL)
		return 0;
	s->attachments = v = calloc(json_array_size(list) + 1, sizeof *v);
	if (v == NULL)
		return fail(pb, "internal-failure"); /* as long as the client made it */
	json_array_foreach(list, i, a)
	{
		struct ses_attachment *at = &v[s->nattachments++];
		if (!json_is_object(a))
			return fail(pb, "serialization");
		snprintf(member, sizeof member, "content.simple.attachments.%zu.member.rawContent",
		         i + 1);
		if (need_string(a, "RawContent", member, &at->content_b64, pb) < 0)
			return -1;
		snprintf(member, sizeof member, "content.simple.attachments.%zu.member.fileName",
		         i + 1);
		if (need_string(a, "FileName", member, &at->filename, pb) < 0 ||
		    get_string(a, "ContentType", &at->content_type, pb) < 0 ||
		    get_string(a, "ContentDisposition", &at->disposition, pb) < 0 ||
		    get_string(a, "ContentDescription", &at->description, pb) < 0 ||
		    get_string(a, "ContentId", &at->content_id, pb) < 0)
			return -1;
	}
	return 0;
}

static int get_simple(const json_t *simple, struct ses_send *s, struct problem *pb)
{
	const json_t *body;

	s->content = SES_CONTENT_SIMPLE;
	if (get_content(simple, "Subject", "content.simple.subject", 1, &s->subject,
	                &s->subject_charset, pb) < 0 ||
	    get_object(simple, "Body", &body, pb) < 0)
		return -1;
	if (body == NULL)
		return fail_at(pb, "validation-null", "content.simple.body", NULL);
	if (get_content(body, "Text", "content.simple.body.text", 0, &s->text, &s->text_charset,
	                pb) < 0 ||
	    get_content(body, "Html", "content.simple.body.html", 0, &s->html, &s->html_charset,
	                pb) < 0)
		return -1;
	return get_headers(simple, s, pb) < 0 ? -1 : get_attachments(simple, s, pb);
}

/* Content: exactly one of Simple, Raw and Template. */
static int get_content_kind(const json_t *body, struct ses_send *s, struct problem *pb)
{
	const json_t *content, *simple, *raw, *tmpl;
	const char *data;

	if (get_object(body, "Content", &content, pb) < 0)
		return -1;
	if (content == NULL)
		return fail_at(pb, "validation-null", "content", NULL);
	if (get_object(content, "Simple", &simple, pb) < 0 ||
	    get_object(content, "Raw", &raw, pb) < 0 ||
	    get_object(content, "Template", &tmpl, pb) < 0)
		return -1;
	if ((simple != NULL) + (raw != NULL) + (tmpl != NULL) != 1)
		return fail(pb, "content-kinds");
	if (simple != NULL)
		return get_simple(simple, s, pb);
	if (tmpl != NULL) {
		s->content = SES_CONTENT_TEMPLATE;
		if (get_string(tmpl, "TemplateName", &s->template_name, pb) < 0)
			return -1;
		if (s->template_name == NULL &&
		    get_string(tmpl, "TemplateArn", &s->template_name, pb) < 0)
			return -1;
		if (s->template_name == NULL)
			s->template_name = "";
		return 0;
	}
	s->content = SES_CONTENT_RAW;
	if (need_string(raw, "Data", "content.raw.data", &data, pb) < 0)
		return -1;
	s->raw_b64 = data;
	s->raw_b64_len = strlen(data);
	return 0;
}

/* EmailTags: names and values of ASCII letters, digits, '_' and '-'. */
static int check_tags(const json_t *body, struct problem *pb)
{
	const json_t *list, *t;
	size_t i;

	if (get_array(body, "EmailTags", &list, pb) < 0)
		return -1;
	if (list == NULL)
		return 0;
	json_array_foreach(list, i, t)
	{
		const char *name, *value;
		if (!json_is_object(t))
			return fail(pb, "serialization");
		if (need_string(t, "Name", "emailTags.member.name", &name, pb) < 0 ||
		    need_string(t, "Value", "emailTags.member.value", &value, pb) < 0)
			return -1;
		if (!ses_tag_ok(name)) {
			provider_reply_var(&pb->p, "name", name);
			return fail(pb, "tag-name");
		}
		if (!ses_tag_ok(value)) {
			provider_reply_var(&pb->p, "value", value);
			return fail(pb, "tag-value");
		}
	}
	return 0;
}

static int parse_send(const json_t *body, struct ses_send *s, struct problem *pb)
{
	const json_t *dest;

	s->proto = SES_V2;
	if (get_content_kind(body, s, pb) < 0 ||
	    get_string(body, "FromEmailAddress", &s->from, pb) < 0 ||
	    get_string(body, "FeedbackForwardingEmailAddress", &s->return_path, pb) < 0 ||
	    get_string(body, "ConfigurationSetName", &s->config_set, pb) < 0 ||
	    get_list(body, "ReplyToAddresses", &s->reply_to, pb) < 0 ||
	    get_object(body, "Destination", &dest, pb) < 0)
		return -1;
	if (dest != NULL && (get_list(dest, "ToAddresses", &s->to, pb) < 0 ||
	                     get_list(dest, "CcAddresses", &s->cc, pb) < 0 ||
	                     get_list(dest, "BccAddresses", &s->bcc, pb) < 0))
		return -1;
	if (s->config_set != NULL && *s->config_set == '\0')
		s->config_set = NULL;
	return check_tags(body, pb);
}

static void send_free(struct ses_send *s)
{
	free(s->to.v);
	free(s->cc.v);
	free(s->bcc.v);
	free(s->reply_to.v);
	free((void *)s->headers);
	free((void *)s->attachments);
}

/* The request's JSON body: an object, or NULL with the refusal answered. */
static json_t *body_of(struct ses_api *api, struct https_req *r)
{
	struct problem pb = {0};
	size_t len = 0;
	char *text = https_front_body(r->req, &len);
	json_t *body;

	if (text == NULL) {
		ses_reply_error(api, r, SES_V2, "internal-failure", NULL, NULL);
		return NULL;
	}
	body = len == 0 ? json_object() : json_loadb(text, len, 0, NULL);
	free(text);
	if (json_is_object(body))
		return body;
	json_decref(body);
	fail(&pb, "serialization");
	reply_problem(api, r, &pb);
	return NULL;
}

static void send_email(struct ses_api *api, struct https_req *r, const char *user, int h)
{
	struct ses_send s = {0};
	struct problem pb = {0};
	json_t *body = body_of(api, r);

	if (body == NULL)
		return;
	if (parse_send(body, &s, &pb) < 0)
		reply_problem(api, r, &pb);
	else
		ses_send_run(api, r, &s, user, h);
	send_free(&s);
	json_decref(body);
}

/* ---- the account -------------------------------------------------------------------- */

static void get_account(struct ses_api *api, struct https_req *r)
{
	struct ses_quota q;

	ses_account_quota(api->account, &q);
	ses_reply_json(r,
	               json_pack("{s:b, s:s, s:b, s:{s:f, s:f, s:f}, s:b, s:{s:[s,s]}}",
	                         "DedicatedIpAutoWarmupEnabled", 0, "EnforcementStatus",
	                         ses_account_enforcement(api->account), "ProductionAccessEnabled",
	                         !ses_account_sandbox(api->account), "SendQuota", "Max24HourSend",
	                         q.max_24h_send, "MaxSendRate", q.max_send_rate, "SentLast24Hours",
	                         q.sent_last_24h, "SendingEnabled",
	                         ses_account_sending_enabled(api->account), "SuppressionAttributes",
	                         "SuppressedReasons", "BOUNCE", "COMPLAINT"));
}

static void put_sending(struct ses_api *api, struct https_req *r)
{
	const json_t *v;
	json_t *body = body_of(api, r);

	if (body == NULL)
		return;
	v = json_object_get(body, "SendingEnabled");
	if (v != NULL && !json_is_null(v) && !json_is_boolean(v))
		ses_reply_error(api, r, SES_V2, "serialization", NULL, NULL);
	else if (ses_account_set_sending(api->account, json_is_true(v)) < 0)
		ses_reply_error(api, r, SES_V2, "sending-suspended", NULL, NULL);
	else
		ses_reply_json(r, json_object());
	json_decref(body);
}

/* ---- identities ------------------------------------------------------------------- */

static const char *identity_type(const struct ses_identity_info *info)
{
	return info->is_domain ? "DOMAIN" : "EMAIL_ADDRESS";
}

static json_t *dkim_of(const struct ses_identity_info *info)
{
	if (!info->is_domain)
		return NULL;
	return json_pack("{s:b, s:s, s:s}", "SigningEnabled", 0, "Status", "NOT_STARTED",
	                 "SigningAttributesOrigin", "AWS_SES");
}

static void create_identity(struct ses_api *api, struct https_req *r)
{
	struct problem pb = {0};
	struct ses_identity_info info;
	const char *name, *problem;
	char bare[256];
	json_t *answer, *body = body_of(api, r), *dkim;

	if (body == NULL)
		return;
	if (need_string(body, "EmailIdentity", "emailIdentity", &name, &pb) == 0) {
		if (strchr(name, '@') != NULL &&
		    (problem = ses_address_problem(name, bare, sizeof bare)) != NULL)
			fail_at(&pb, problem, "emailIdentity", name);
		else if (strchr(name, '@') == NULL && !ses_domain_ok(name))
			fail_at(&pb, "invalid-identity", "emailIdentity", name);
		else if (ses_identity_create(api->account, name) < 0)
			fail_at(&pb, "already-exists", "emailIdentity", name);
	}
	if (pb.name != NULL) {
		provider_reply_var(&pb.p, "name", name);
		reply_problem(api, r, &pb);
		json_decref(body);
		return;
	}
	ses_identity_get(api->account, name, &info);
	answer = json_pack("{s:s, s:b}", "IdentityType", identity_type(&info),
	                   "VerifiedForSendingStatus", info.status == SES_ID_SUCCESS);
	if ((dkim = dkim_of(&info)) != NULL)
		json_object_set_new(answer, "DkimAttributes", dkim);
	ses_reply_json(r, answer);
	json_decref(body);
}

static void get_identity(struct ses_api *api, struct https_req *r, const char *name)
{
	struct ses_identity_info info;
	json_t *answer, *dkim;

	if (ses_identity_get(api->account, name, &info) < 0) {
		ses_reply_error(api, r, SES_V2, "identity-not-found", "name", name);
		return;
	}
	answer = json_pack("{s:s, s:b, s:b}", "IdentityType", identity_type(&info),
	                   "FeedbackForwardingStatus", 1, "VerifiedForSendingStatus",
	                   info.status == SES_ID_SUCCESS);
	if ((dkim = dkim_of(&info)) != NULL)
		json_object_set_new(answer, "DkimAttributes", dkim);
	json_object_set_new(answer, "Policies", json_object());
	json_object_set_new(answer, "Tags", json_array());
	json_object_set_new(answer, "VerificationStatus", json_string(ses_status_v2(info.status)));
	ses_reply_json(r, answer);
}

static void delete_identity(struct ses_api *api, struct https_req *r, const char *name)
{
	if (ses_identity_delete(api->account, name) < 0)
		ses_reply_error(api, r, SES_V2, "identity-not-found", "name", name);
	else
		ses_reply_json(r, json_object());
}

/* A query parameter that must be a whole number within max: 0 with *out
 * (def when absent), -1 when it is something else. */
static int query_number(struct evkeyvalq *q, const char *key, unsigned long long def,
                        unsigned long long max, unsigned long long *out)
{
	const char *v = evhttp_find_header(q, key);

	*out = def;
	if (v == NULL)
		return 0;
	return parse_ulonglong(v, out) < 0 || *out > max ? -1 : 0;
}

/* One page of ListEmailIdentities: size identities from position from. */
static void list_page(struct https_req *r, const struct ses_identity_info *all, size_t n,
                      size_t from, size_t size)
{
	json_t *list = json_array(), *answer;
	char next[32];
	size_t i;

	for (i = from; i < n && i < from + size; i++)
		json_array_append_new(
		    list, json_pack("{s:s, s:s, s:b, s:s}", "IdentityType", identity_type(&all[i]),
		                    "IdentityName", all[i].name, "SendingEnabled", 1,
		                    "VerificationStatus", ses_status_v2(all[i].status)));
	answer = json_pack("{s:o}", "EmailIdentities", list);
	if (i < n) {
		snprintf(next, sizeof next, "%zu", i);
		json_object_set_new(answer, "NextToken", json_string(next));
	}
	ses_reply_json(r, answer);
}

static void list_identities(struct ses_api *api, struct https_req *r)
{
	struct evkeyvalq q;
	const char *query = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(r->req));
	unsigned long long size, from;
	size_t n;
	struct ses_identity_info *all = ses_identities(api->account, &n);

	TAILQ_INIT(&q);
	if (query != NULL)
		evhttp_parse_query_str(query, &q);
	if (query_number(&q, "PageSize", LIST_PAGE_LIMIT, LIST_PAGE_MAX, &size) < 0)
		ses_reply_error(api, r, SES_V2, "page-size", "value",
		                evhttp_find_header(&q, "PageSize"));
	else if (query_number(&q, "NextToken", 0, n, &from) < 0)
		ses_reply_error(api, r, SES_V2, "invalid-next-token", NULL, NULL);
	else
		list_page(r, all, n, (size_t)from, size ? (size_t)size : LIST_PAGE_LIMIT);
	free(all);
	evhttp_clear_headers(&q);
}

/* ---- routing ------------------------------------------------------------------------ */

/* The identity named by a path's last segment, %-decoded (malloc'ed). */
static char *identity_of(const char *rest)
{
	return evhttp_uridecode(rest, 0, NULL);
}

void ses_v2_handle(struct ses_api *api, struct https_req *r, const char *user, int h)
{
	const char *path = https_front_path(r->req), *rest;
	enum evhttp_cmd_type cmd = evhttp_request_get_command(r->req);
	char *name;

	rest =
	    path != NULL && strncmp(path, PREFIX, strlen(PREFIX)) == 0 ? path + strlen(PREFIX) : "";
	if (cmd == EVHTTP_REQ_POST && strcmp(rest, "outbound-emails") == 0)
		send_email(api, r, user, h);
	else if (cmd == EVHTTP_REQ_GET && strcmp(rest, "account") == 0)
		get_account(api, r);
	else if (cmd == EVHTTP_REQ_PUT && strcmp(rest, "account/sending") == 0)
		put_sending(api, r);
	else if (cmd == EVHTTP_REQ_POST && strcmp(rest, "identities") == 0)
		create_identity(api, r);
	else if (cmd == EVHTTP_REQ_GET && strcmp(rest, "identities") == 0)
		list_identities(api, r);
	else if ((cmd == EVHTTP_REQ_GET || cmd == EVHTTP_REQ_DELETE) &&
	         strncmp(rest, "identities/", 11) == 0 && rest[11] != '\0' &&
	         strchr(rest + 11, '/') == NULL && (name = identity_of(rest + 11)) != NULL) {
		if (cmd == EVHTTP_REQ_GET)
			get_identity(api, r, name);
		else
			delete_identity(api, r, name);
		free(name);
	} else {
		ses_reply_error(api, r, SES_V2, "unknown-operation", NULL, NULL);
	}
}
