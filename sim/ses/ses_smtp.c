/*
 * ses_smtp.c - SES at the end of DATA (see ses_smtp.h); the header section is
 * read and stripped by ses_message.c, as for the APIs' raw content.
 */
#include "ses_smtp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "catalog.h"
#include "message.h"
#include "ses_account.h"
#include "ses_message.h"
#include "util.h"
#include "xmalloc.h"

#define MAX_SENDERS 12

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

/* reply = the catalog's entry ses.smtp.<name>; 1 (refused) when it exists. */
static int refuse(const struct catalog *c, const char *name, struct provider_reply *r)
{
	char id[96];

	snprintf(id, sizeof id, "ses.smtp.%s", name);
	r->entry = catalog_find(c, id);
	return r->entry != NULL;
}

static int account_refused(struct ses_account *a, const struct catalog *c,
                           const struct smtp_submission *m, const struct ses_header_scan *sc,
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
	ses_region_upper(a, region, sizeof region);
	provider_reply_var(r, "region", region);
	provider_reply_var(r, "identities", failed);
	return refuse(c, names[v], r);
}

int ses_smtp_login(void *account, const char *user, const char *password)
{
	return ses_account_smtp_login(account, user, password);
}

int ses_smtp_data_end(void *account, const struct catalog *c, struct smtp_submission *m,
                      struct provider_reply *r)
{
	struct ses_header_scan sc;

	ses_message_scan(m->raw, m->header_bytes, &sc);
	if (account_refused(account, c, m, &sc, r))
		return 1;
	if (sc.config_set[0] && !ses_account_has_configuration_set(account, sc.config_set)) {
		provider_reply_var(r, "name", sc.config_set);
		return refuse(c, "configuration-set-does-not-exist", r);
	}
	if (sc.duplicate[0]) {
		provider_reply_var(r, "header", sc.duplicate);
		return refuse(c, "duplicate-header", r);
	}
	m->header_bytes = ses_message_strip(m->raw, m->raw_len, m->header_bytes);
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
