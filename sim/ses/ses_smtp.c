/*
 * ses_smtp.c - SES at the end of DATA (see ses_smtp.h).
 */
#include "ses_smtp.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "catalog.h"
#include "message.h"
#include "ses_account.h"
#include "util.h"
#include "xmalloc.h"

#define MAX_SENDERS 12

/* Header fields a message may hold once (RFC 5322 section 3.6 and the MIME
 * fields); SES refuses a second one. */
static const char *const single_fields[] = {"Date",
                                            "From",
                                            "Sender",
                                            "Reply-To",
                                            "To",
                                            "Cc",
                                            "Bcc",
                                            "Message-ID",
                                            "In-Reply-To",
                                            "References",
                                            "Subject",
                                            "MIME-Version",
                                            "Content-Type",
                                            "Content-Transfer-Encoding",
                                            NULL};

struct scan {
	char config_set[HDR_VALUE_MAX + 1];
	char duplicate[128];
	char sender[256]; /* the Sender field's address */
};

static int name_is(const struct header_field *f, const char *name)
{
	return f->name_len == strlen(name) && strncasecmp(f->name, name, f->name_len) == 0;
}

static int is_ses_field(const struct header_field *f)
{
	return f->name_len > 6 && strncasecmp(f->name, "X-SES-", 6) == 0;
}

static void note_duplicates(const struct header_field *f, unsigned *seen, struct scan *sc)
{
	for (size_t i = 0; single_fields[i] != NULL; i++)
		if (name_is(f, single_fields[i])) {
			if ((*seen & (1u << i)) && sc->duplicate[0] == '\0')
				snprintf(sc->duplicate, sizeof sc->duplicate, "%.*s",
				         (int)f->name_len, f->name);
			*seen |= 1u << i;
		}
}

static void scan_header(const struct smtp_submission *m, struct scan *sc)
{
	struct header_field f;
	size_t pos = 0;
	unsigned seen = 0;
	char list[1][256];

	memset(sc, 0, sizeof *sc);
	while (message_next_field(m->raw, m->header_bytes, &pos, &f)) {
		note_duplicates(&f, &seen, sc);
		if (name_is(&f, "X-SES-CONFIGURATION-SET"))
			snprintf(sc->config_set, sizeof sc->config_set, "%s", f.value);
		else if (name_is(&f, "Sender") && message_parse_address_list(f.value, list, 1) == 1)
			snprintf(sc->sender, sizeof sc->sender, "%s", list[0]);
	}
}

/* Removes every X-SES-* field: SES does before it sends. */
static void remove_ses_fields(struct smtp_submission *m)
{
	struct header_field f;
	size_t pos = 0, out = 0;

	while (message_next_field(m->raw, m->header_bytes, &pos, &f)) {
		if (is_ses_field(&f))
			continue;
		memmove(m->raw + out, m->raw + f.offset, f.len);
		out += f.len;
	}
	if (out == pos)
		return;
	memmove(m->raw + out, m->raw + pos, *m->raw_len - pos);
	*m->raw_len -= pos - out;
	m->header_bytes = out;
}

static void add_sender(struct ses_party *v, size_t *n, const char *address)
{
	if (address == NULL || address[0] == '\0' || *n >= MAX_SENDERS)
		return;
	for (size_t i = 0; i < *n; i++)
		if (strcasecmp(v[i].address, address) == 0)
			return;
	v[*n].address = address;
	v[*n].shown = address;
	(*n)++;
}

static void reply_var(struct provider_reply *r, const char *name, const char *value)
{
	size_t room = sizeof r->buf - r->used;
	int n = snprintf(r->buf + r->used, room, "%s", value);

	r->vars[r->nvars].name = name;
	r->vars[r->nvars].value = r->buf + r->used;
	r->nvars++;
	r->used += (size_t)n < room ? (size_t)n + 1 : room;
}

/* reply = the catalog's entry ses.smtp.<name>; 1 (refused) when it exists. */
static int refuse(const struct catalog *c, const char *name, struct provider_reply *r)
{
	char id[96];

	snprintf(id, sizeof id, "ses.smtp.%s", name);
	r->entry = catalog_find(c, id);
	return r->entry != NULL;
}

/* The region as SES prints it in a refusal: upper case. */
static void upper_region(const struct ses_account *a, char *out, size_t len)
{
	size_t i;

	for (i = 0; i + 1 < len && ses_account_region(a)[i]; i++)
		out[i] = (char)toupper((unsigned char)ses_account_region(a)[i]);
	out[i] = '\0';
}

static int account_refused(struct ses_account *a, const struct catalog *c,
                           const struct smtp_submission *m, const struct scan *sc,
                           struct provider_reply *r)
{
	static const char *const names[] = {[SES_SUSPENDED] = "sending-suspended",
	                                    [SES_PAUSED] = "sending-paused",
	                                    [SES_UNVERIFIED] = "not-verified",
	                                    [SES_RATE] = "max-send-rate",
	                                    [SES_DAILY] = "daily-quota"};
	struct ses_party senders[MAX_SENDERS], *rcpts = xcalloc(m->nrcpt + 1, sizeof *rcpts);
	struct ses_envelope s = {.senders = senders, .rcpts = rcpts, .nrcpt = m->nrcpt};
	char failed[512], region[64];
	enum ses_verdict v;

	add_sender(senders, &s.nsenders, m->mail_from);
	for (size_t i = 0; i < m->nfrom; i++)
		add_sender(senders, &s.nsenders, m->from[i]);
	add_sender(senders, &s.nsenders, sc->sender);
	for (size_t i = 0; i < m->nrcpt; i++)
		rcpts[i] = (struct ses_party){m->rcpts[i], m->rcpts[i]};
	v = ses_account_check(a, &s, failed, sizeof failed);
	free(rcpts);
	if (v == SES_OK)
		return 0;
	upper_region(a, region, sizeof region);
	reply_var(r, "region", region);
	reply_var(r, "identities", failed);
	return refuse(c, names[v], r);
}

int ses_smtp_login(void *account, const char *user, const char *password)
{
	return ses_account_smtp_login(account, user, password);
}

int ses_smtp_data_end(void *account, const struct catalog *c, struct smtp_submission *m,
                      struct provider_reply *r)
{
	struct scan sc;

	scan_header(m, &sc);
	if (account_refused(account, c, m, &sc, r))
		return 1;
	if (sc.config_set[0] && !ses_account_has_configuration_set(account, sc.config_set)) {
		reply_var(r, "name", sc.config_set);
		return refuse(c, "configuration-set-does-not-exist", r);
	}
	if (sc.duplicate[0]) {
		reply_var(r, "header", sc.duplicate);
		return refuse(c, "duplicate-header", r);
	}
	remove_ses_fields(m);
	return 0;
}

void ses_smtp_accepted(void *account, const struct smtp_submission *m)
{
	struct ses_party *rcpts = xcalloc(m->nrcpt + 1, sizeof *rcpts);
	struct ses_envelope s = {.rcpts = rcpts, .nrcpt = m->nrcpt};

	for (size_t i = 0; i < m->nrcpt; i++)
		rcpts[i] = (struct ses_party){m->rcpts[i], m->rcpts[i]};
	ses_account_charge(account, &s);
	free(rcpts);
}
