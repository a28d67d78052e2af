/*
 * config_ses.c - reads the `ses:` section (see config_ses.h).
 */
#include "config_ses.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "xmalloc.h"
#include "ydoc.h"

static const char *const sending_names[] = {"enabled", "paused", "suspended", NULL};
static const char *const verification_names[] = {"instant", "delayed", "never", NULL};

static void free_keys(struct config_ses *s)
{
	for (size_t i = 0; i < s->nkeys; i++) {
		free(s->keys[i].id);
		free(s->keys[i].secret);
	}
	free(s->keys);
	s->keys = NULL;
	s->nkeys = 0;
}

static int load_key(struct ydoc *d, yaml_node_t *n, struct config_ses_key *k)
{
	static const char *const keys[] = {"id", "secret", NULL};
	yaml_node_t *v;
	int rc = 0;

	if (ydoc_expect_map(d, n, "ses.access_keys[]") < 0)
		return -1;
	rc |= ydoc_check_keys(d, n, keys);
	v = ydoc_get(d, n, "id");
	rc |= ydoc_string(d, v ? v : n, "ses.access_keys[].id", &k->id);
	v = ydoc_get(d, n, "secret");
	rc |= ydoc_string(d, v ? v : n, "ses.access_keys[].secret", &k->secret);
	return rc;
}

static int load_keys(struct ydoc *d, yaml_node_t *n, struct config_ses *s)
{
	size_t len = ydoc_seq_len(n);
	int rc = 0;

	if (!ydoc_is_seq(n))
		return ydoc_error(d, n, "ses.access_keys: expected a list of {id, secret}");
	free_keys(s);
	s->keys = xcalloc(len, sizeof *s->keys);
	s->nkeys = len;
	for (size_t i = 0; i < len; i++)
		rc |= load_key(d, ydoc_seq_item(d, n, i), &s->keys[i]);
	return rc;
}

/* null: SES's documented value (*out = unset); else a number >= min. */
static int load_quota(struct ydoc *d, yaml_node_t *n, const char *what, double min, double unset,
                      double *out)
{
	if (ydoc_is_null(n)) {
		*out = unset;
		return 0;
	}
	return ydoc_number(d, n, what, min, 1e12, out);
}

static int check_account_id(struct ydoc *d, yaml_node_t *n, const char *id)
{
	size_t len = strlen(id);

	for (size_t i = 0; i < len; i++)
		if (!isdigit((unsigned char)id[i]))
			len = 0;
	return len == 12 ? 0 : ydoc_error(d, n, "ses.account_id: expected 12 digits");
}

static int load_enum(struct ydoc *d, yaml_node_t *n, const char *what, const char *const *names,
                     int *slot)
{
	int choice = *slot;
	int rc = ydoc_choice(d, n, what, names, &choice);

	*slot = choice;
	return rc;
}

static int load_verification(struct ydoc *d, yaml_node_t *n, struct config_ses *s)
{
	static const char *const keys[] = {"mode", "delay", NULL};
	yaml_node_t *v;
	int rc = 0, mode = (int)s->verification;

	if (ydoc_expect_map(d, n, "ses.verification") < 0)
		return -1;
	rc |= ydoc_check_keys(d, n, keys);
	if ((v = ydoc_get(d, n, "mode")) != NULL)
		rc |= load_enum(d, v, "ses.verification.mode", verification_names, &mode);
	s->verification = (enum ses_verification)mode;
	if ((v = ydoc_get(d, n, "delay")) != NULL)
		rc |= ydoc_duration(d, v, "ses.verification.delay", &s->verification_delay);
	return rc;
}

int config_ses_load(struct config_ses *s, struct ydoc *d, yaml_node_t *n)
{
	static const char *const keys[] = {"region",        "account_id",         "sandbox",
	                                   "max_send_rate", "max_24h_send",       "sending",
	                                   "access_keys",   "identities",         "pending",
	                                   "verification",  "configuration_sets", NULL};
	yaml_node_t *v;
	int rc = 0, sending = (int)s->sending;

	if (ydoc_expect_map(d, n, "ses") < 0)
		return -1;
	rc |= ydoc_check_keys(d, n, keys);
	if ((v = ydoc_get(d, n, "region")) != NULL)
		rc |= ydoc_string(d, v, "ses.region", &s->region);
	if ((v = ydoc_get(d, n, "account_id")) != NULL &&
	    (rc |= ydoc_string(d, v, "ses.account_id", &s->account_id)) == 0)
		rc |= check_account_id(d, v, s->account_id);
	if ((v = ydoc_get(d, n, "sandbox")) != NULL)
		rc |= ydoc_bool(d, v, "ses.sandbox", &s->sandbox);
	if ((v = ydoc_get(d, n, "max_send_rate")) != NULL)
		rc |= load_quota(d, v, "ses.max_send_rate", 0, -1, &s->max_send_rate);
	if ((v = ydoc_get(d, n, "max_24h_send")) != NULL)
		rc |= load_quota(d, v, "ses.max_24h_send", -1, -2, &s->max_24h_send);
	if ((v = ydoc_get(d, n, "sending")) != NULL)
		rc |= load_enum(d, v, "ses.sending", sending_names, &sending);
	s->sending = (enum ses_sending)sending;
	if ((v = ydoc_get(d, n, "access_keys")) != NULL)
		rc |= load_keys(d, v, s);
	if ((v = ydoc_get(d, n, "identities")) != NULL)
		rc |= ydoc_string_list(d, v, "ses.identities", &s->identities, &s->nidentities);
	if ((v = ydoc_get(d, n, "pending")) != NULL)
		rc |= ydoc_string_list(d, v, "ses.pending", &s->pending, &s->npending);
	if ((v = ydoc_get(d, n, "verification")) != NULL)
		rc |= load_verification(d, v, s);
	if ((v = ydoc_get(d, n, "configuration_sets")) != NULL)
		rc |= ydoc_string_list(d, v, "ses.configuration_sets", &s->configuration_sets,
		                       &s->nconfiguration_sets);
	return rc;
}

void config_ses_free(struct config_ses *s)
{
	free(s->region);
	free(s->account_id);
	free_keys(s);
	strings_free(s->identities, s->nidentities);
	strings_free(s->pending, s->npending);
	strings_free(s->configuration_sets, s->nconfiguration_sets);
	memset(s, 0, sizeof *s);
}

void config_ses_copy(struct config_ses *dst, const struct config_ses *src)
{
	*dst = *src;
	dst->region = xstrdup(src->region);
	dst->account_id = xstrdup(src->account_id);
	dst->keys = xcalloc(src->nkeys, sizeof *dst->keys);
	for (size_t i = 0; i < src->nkeys; i++) {
		dst->keys[i].id = xstrdup(src->keys[i].id);
		dst->keys[i].secret = xstrdup(src->keys[i].secret);
	}
	dst->identities = strings_copy(src->identities, src->nidentities);
	dst->pending = strings_copy(src->pending, src->npending);
	dst->configuration_sets = strings_copy(src->configuration_sets, src->nconfiguration_sets);
}

double config_ses_max_send_rate(const struct config_ses *s)
{
	if (s->max_send_rate >= 0)
		return s->max_send_rate;
	return s->sandbox ? 1 : 14;
}

double config_ses_max_24h_send(const struct config_ses *s)
{
	if (s->max_24h_send >= -1)
		return s->max_24h_send;
	return s->sandbox ? 200 : 50000;
}
