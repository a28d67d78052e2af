/*
 * ses_send.c - the send path both SES APIs share (see ses_send.h).
 *
 * One struct job carries a request through: the raw message decoded, its
 * header section read, the sender and the envelope recipients (bare and
 * as written), the store record once the checks on the envelope pass, and
 * the refusal when one answers.
 */
#include "ses_send.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base64.h"
#include "catalog.h"
#include "clock.h"
#include "env.h"
#include "https_front.h"
#include "jsonw.h"
#include "message.h"
#include "scenario_engine.h"
#include "ses_account.h"
#include "ses_https.h"
#include "ses_message.h"
#include "ses_mime.h"
#include "store.h"
#include "xmalloc.h"

/* More recipients than this (in Destination or a raw message's header) are
 * counted, not kept: the request is refused for having more than
 * SES_MAX_RECIPIENTS anyway, so what is kept is bounded. */
#define HEADER_RCPTS_MAX (SES_MAX_RECIPIENTS + 1)

struct job {
	struct ses_api *api;
	struct https_req *r;
	const struct ses_send *s;
	struct provider_reply p; /* the refusal */
	char *raw;               /* the raw message, decoded */
	size_t raw_len;
	struct header_info hi;
	struct ses_header_scan scan;
	const char *from; /* as written */
	char from_bare[256];
	const char **rcpts; /* as written; at most HEADER_RCPTS_MAX kept */
	char (*bare)[256];  /* as many as rcpts */
	size_t nrcpt;       /* how many there are (more than kept: refused) */
	char (*header_rcpts)[256];
	struct store_message *m;
};

static int refuse(struct job *j, const char *name)
{
	ses_refuse(j->api->env->catalog, j->s->proto, name, &j->p);
	return -1;
}

static int refuse_with(struct job *j, const char *name, const char *var, const char *value)
{
	provider_reply_var(&j->p, var, value);
	return refuse(j, name);
}

const char *ses_address_problem(const char *written, char *bare, size_t len)
{
	const char *start = written, *end = written + strlen(written), *lt = strrchr(written, '<');
	const unsigned char *p;
	int quoted = 0;

	while (end > start && end[-1] == ' ')
		end--;
	if (lt != NULL && end > lt + 1 && end[-1] == '>') {
		start = lt + 1;
		end--;
	}
	snprintf(bare, len, "%.*s", (int)(end - start), start);
	for (p = (const unsigned char *)bare; *p != '\0'; p++) {
		if (*p == '\\' && p[1] != '\0')
			p++;
		else if (*p == '"')
			quoted = !quoted;
		else if (!quoted && *p == '@')
			break;
		else if (!quoted && (*p <= ' ' || *p >= 0x7F))
			return "invalid-address-local";
	}
	if (*p != '@')
		return "invalid-address-no-domain";
	if (p[1] == '\0')
		return "invalid-address-empty-domain";
	for (p++; *p != '\0'; p++)
		if (*p <= ' ' || *p >= 0x7F)
			return "invalid-address-domain";
	return NULL;
}

int ses_tag_ok(const char *s)
{
	if (*s == '\0' || strlen(s) > 256)
		return 0;
	for (; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_' || *s == '-'))
			return 0;
	return 1;
}

int ses_domain_ok(const char *s)
{
	size_t label = 0;

	if (*s == '\0' || strlen(s) > 253)
		return 0;
	for (; *s != '\0'; s++) {
		if (*s == '.') {
			if (label == 0)
				return 0;
			label = 0;
		} else if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		           (*s >= '0' && *s <= '9') || *s == '-' || *s == '_') {
			if (++label > 63)
				return 0;
		} else {
			return 0;
		}
	}
	return label > 0;
}

/* Raw content: the message decoded and its header section read. */
static int decode_raw(struct job *j)
{
	int bad = 0;
	size_t len = 0;

	j->raw = (char *)base64_decode_alloc(j->s->raw_b64, j->s->raw_b64_len, &len, &bad);
	if (j->raw == NULL)
		return refuse(j, bad ? "invalid-base64" : "internal-failure");
	j->raw_len = len;
	if (message_parse_headers(j->raw, len, len + 1, &j->hi) != HDR_OK)
		j->hi.header_bytes = 0;
	ses_message_scan(j->raw, j->hi.header_bytes, &j->scan);
	return 0;
}

static size_t list_total(const struct ses_send *s)
{
	return s->to.n + s->cc.n + s->bcc.n;
}

/* The sender and the envelope: Destination, else the raw header's To, Cc
 * and Bcc. */
static void read_envelope(struct job *j)
{
	const struct ses_send *s = j->s;
	const struct ses_list *lists[] = {&s->to, &s->cc, &s->bcc};
	size_t n = list_total(s);

	j->from = s->from != NULL ? s->from : j->raw && j->hi.nfrom > 0 ? j->hi.from[0] : NULL;
	if (n == 0 && j->raw != NULL) {
		j->header_rcpts = xcalloc(HEADER_RCPTS_MAX, sizeof *j->header_rcpts);
		n = ses_message_recipients(j->raw, j->hi.header_bytes, j->header_rcpts,
		                           HEADER_RCPTS_MAX);
		j->nrcpt = n < HEADER_RCPTS_MAX ? n : HEADER_RCPTS_MAX;
		j->rcpts = xcalloc(j->nrcpt + 1, sizeof *j->rcpts);
		for (size_t i = 0; i < j->nrcpt; i++)
			j->rcpts[i] = j->header_rcpts[i];
	} else {
		j->rcpts = xcalloc(HEADER_RCPTS_MAX + 1, sizeof *j->rcpts);
		for (size_t k = 0; k < 3; k++)
			for (size_t i = 0; i < lists[k]->n && j->nrcpt < HEADER_RCPTS_MAX; i++)
				j->rcpts[j->nrcpt++] = lists[k]->v[i];
	}
	j->bare = xcalloc(j->nrcpt + 1, sizeof *j->bare); /* as many as are kept */
	if (n > j->nrcpt)
		j->nrcpt = n; /* counted, not kept: refused as too many */
}

static int check_address(struct job *j, const char *written, char *bare, size_t len)
{
	char scratch[256];
	const char *problem =
	    ses_address_problem(written, bare ? bare : scratch, bare ? len : sizeof scratch);

	return problem ? refuse_with(j, problem, "address", written) : 0;
}

static int check_envelope(struct job *j)
{
	const struct ses_send *s = j->s;

	if (s->content == SES_CONTENT_TEMPLATE)
		return refuse_with(j, "template-does-not-exist", "name", s->template_name);
	if (j->from == NULL || *j->from == '\0')
		return refuse(j, "missing-from");
	if (j->nrcpt == 0)
		return refuse(j, "no-recipients");
	if (j->nrcpt > SES_MAX_RECIPIENTS)
		return refuse(j, "too-many-recipients");
	if (check_address(j, j->from, j->from_bare, sizeof j->from_bare) < 0)
		return -1;
	for (size_t i = 0; i < j->nrcpt; i++)
		if (check_address(j, j->rcpts[i], j->bare[i], sizeof j->bare[i]) < 0)
			return -1;
	for (size_t i = 0; i < s->reply_to.n; i++)
		if (check_address(j, s->reply_to.v[i], NULL, 0) < 0)
			return -1;
	if (s->return_path != NULL && check_address(j, s->return_path, NULL, 0) < 0)
		return -1;
	return 0;
}

/* "<id@email.amazonses.com>", as SES names its messages (us-east-1's host;
 * the other regions' carry the region). */
static void ses_msg_id(struct job *j, const char *id, char *out, size_t len)
{
	const char *region = ses_account_region(j->api->account);

	if (strcmp(region, "us-east-1") == 0)
		snprintf(out, len, "<%s@email.amazonses.com>", id);
	else
		snprintf(out, len, "<%s@%s.amazonses.com>", id, region);
}

/* The store record and its message; the size checked against the API's
 * limit. */
static int make_message(struct job *j)
{
	const struct ses_send *s = j->s;
	const char **bare = xcalloc(j->nrcpt + 1, sizeof *bare);
	struct store_message *m;
	size_t limit = s->proto == SES_V1 ? SES_V1_MAX_BYTES : SES_V2_MAX_BYTES;
	char message_id[160], size[32], max[32];
	int bad = 0;

	for (size_t i = 0; i < j->nrcpt; i++)
		bare[i] = j->bare[i];
	m = j->m = https_front_message(j->api->front, j->r->req, j->from_bare, bare, j->nrcpt);
	free(bare);
	ses_msg_id(j, m->id, message_id, sizeof message_id);
	if (j->raw != NULL) {
		m->raw = j->raw;
		m->raw_len = j->raw_len;
		j->raw = NULL;
		m->message_id = xstrdup(j->hi.message_id[0] ? j->hi.message_id : message_id);
		m->subject = j->hi.subject[0] ? xstrdup(j->hi.subject) : NULL;
	} else {
		m->raw = ses_mime_simple(s, message_id, m->received, &m->raw_len, &bad);
		m->message_id = xstrdup(message_id);
		m->subject = s->subject ? xstrdup(s->subject) : NULL;
		if (m->raw == NULL)
			return refuse(j, bad ? "invalid-base64" : "internal-failure");
	}
	if (m->raw_len > limit) {
		snprintf(size, sizeof size, "%zu", m->raw_len);
		snprintf(max, sizeof max, "%zu", limit);
		provider_reply_var(&j->p, "limit", max);
		return refuse_with(j, "message-too-long", "size", size);
	}
	return 0;
}

static int check_message(struct job *j)
{
	const char *set = j->s->config_set ? j->s->config_set : j->scan.config_set;

	if (set[0] != '\0' && !ses_account_has_configuration_set(j->api->account, set))
		return refuse_with(j, "configuration-set-does-not-exist", "name", set);
	if (j->scan.duplicate[0] != '\0')
		return refuse_with(j, "duplicate-header", "header", j->scan.duplicate);
	return 0;
}

static void add_sender(struct ses_party *v, size_t *n, const char *address, const char *shown)
{
	if (address == NULL || address[0] == '\0')
		return;
	for (size_t i = 0; i < *n; i++)
		if (strcasecmp(v[i].address, address) == 0)
			return;
	v[(*n)++] = (struct ses_party){address, shown};
}

/* The account's envelope of this message (parties point into j). */
static void envelope_of(struct job *j, struct ses_envelope *e, struct ses_party *senders,
                        struct ses_party *rcpts, char *return_path, size_t len)
{
	e->senders = senders;
	e->nsenders = 0;
	add_sender(senders, &e->nsenders, j->from_bare, j->from);
	if (j->s->return_path != NULL) {
		ses_address_problem(j->s->return_path, return_path, len);
		add_sender(senders, &e->nsenders, return_path, j->s->return_path);
	}
	add_sender(senders, &e->nsenders, j->scan.sender, j->scan.sender);
	for (size_t i = 0; i < j->nrcpt; i++)
		rcpts[i] = (struct ses_party){j->bare[i], j->rcpts[i]};
	e->rcpts = rcpts;
	e->nrcpt = j->nrcpt;
}

/* The account's verdict: 0, or -1 with the refusal; charged when it is 0. */
static int check_account(struct job *j, int h)
{
	static const char *const names[] = {[SES_SUSPENDED] = "sending-suspended",
	                                    [SES_PAUSED] = "sending-paused",
	                                    [SES_UNVERIFIED] = "not-verified",
	                                    [SES_RATE] = "max-send-rate",
	                                    [SES_DAILY] = "daily-quota"};
	struct ses_party senders[3], *rcpts = xcalloc(j->nrcpt + 1, sizeof *rcpts);
	struct ses_envelope e;
	char failed[512], region[64], return_path[256];
	enum ses_verdict v = SES_OK;

	envelope_of(j, &e, senders, rcpts, return_path, sizeof return_path);
	if (h != 2)
		v = ses_account_check(j->api->account, &e, failed, sizeof failed);
	if (v == SES_OK)
		ses_account_charge(j->api->account, &e);
	free(rcpts);
	if (v == SES_OK)
		return 0;
	ses_region_upper(j->api->account, region, sizeof region);
	provider_reply_var(&j->p, "region", region);
	provider_reply_var(&j->p, "identities", failed);
	return refuse(j, names[v]);
}

/* The scenario at the submit stage: 1 when a rule answered. */
static int hook(struct job *j, int *h)
{
	const char **bare = xcalloc(HEADER_RCPTS_MAX + 1, sizeof *bare);
	struct hook_ctx ctx = {.stage = j->s->content == SES_CONTENT_RAW ? STAGE_SUBMIT_RAW
	                                                                 : STAGE_SUBMIT};
	char from[256] = "";
	int got;

	if (j->from != NULL)
		ses_address_problem(j->from, from, sizeof from);
	for (size_t i = 0; i < j->nrcpt && i < HEADER_RCPTS_MAX && j->rcpts[i]; i++) {
		ses_address_problem(j->rcpts[i], j->bare[i], sizeof j->bare[i]);
		bare[ctx.nrecipients++] = j->bare[i];
	}
	ctx.sender = j->from ? from : NULL;
	ctx.recipients = bare;
	got = https_front_hook(j->r, &ctx);
	free(bare);
	if (got == 2)
		*h = 2;
	return got == 1;
}

/* The answer once the message is committed (malloc'ed), or NULL. */
static char *answer_of(struct job *j)
{
	struct jsonw w = {0};
	json_t *body;
	char *text, *doc;

	if (j->s->proto == SES_V2) {
		body = json_pack("{s:s}", "MessageId", j->m->id);
		text = json_dumps(body, JSON_COMPACT);
		json_decref(body);
		return text;
	}
	jsonw_lit(&w, "    ");
	ses_xml_elem(&w, "MessageId", j->m->id);
	jsonw_lit(&w, "\n");
	text = jsonw_take(&w);
	doc = text ? ses_xml_document(j->s->action, text, j->r->request_id) : NULL;
	free(text);
	return doc;
}

static void accept_message(struct job *j, const char *user)
{
	struct store_message *m = j->m;
	char *answer = answer_of(j);

	j->m = NULL;
	if (j->s->content == SES_CONTENT_RAW) {
		ses_message_strip(m->raw, &m->raw_len, j->hi.header_bytes);
		m->raw[m->raw_len] = '\0'; /* it was NUL-terminated: still is */
	}
	if (answer == NULL) {
		store_message_free(m);
		refuse(j, "internal-failure");
		ses_reply_refusal(j->api, j->r, j->s->proto, &j->p);
		return;
	}
	if (https_front_commit(j->r, m, user, answer,
	                       j->s->proto == SES_V2 ? "application/json" : "text/xml") < 0) {
		refuse(j, "internal-failure");
		ses_reply_refusal(j->api, j->r, j->s->proto, &j->p);
	}
}

static void job_free(struct job *j)
{
	free(j->raw);
	free(j->rcpts);
	free(j->bare);
	free(j->header_rcpts);
	store_message_free(j->m);
}

void ses_send_run(struct ses_api *api, struct https_req *r, const struct ses_send *s,
                  const char *user, int h)
{
	struct job j = {.api = api, .r = r, .s = s};

	if (s->content == SES_CONTENT_RAW && decode_raw(&j) < 0) {
		ses_reply_refusal(api, r, s->proto, &j.p);
		job_free(&j);
		return;
	}
	read_envelope(&j);
	if (hook(&j, &h)) {
		job_free(&j);
		return;
	}
	if (check_envelope(&j) < 0 || make_message(&j) < 0 || check_message(&j) < 0 ||
	    check_account(&j, h) < 0)
		ses_reply_refusal(api, r, s->proto, &j.p);
	else
		accept_message(&j, user);
	job_free(&j);
}
