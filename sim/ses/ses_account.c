/*
 * ses_account.c - the SES account (see ses_account.h).
 *
 * Quotas count recipients on the virtual clock: the send rate over the
 * current one-second window, the 24-hour quota over per-minute buckets of
 * the last 1440 minutes. Send statistics keep 15-minute periods for two
 * weeks (SES's GetSendStatistics), only those with activity.
 */
#include "ses_account.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "clock.h"
#include "config.h"
#include "ses_credentials.h"
#include "xmalloc.h"

#define DAY_MINUTES  1440
#define STATS_PERIOD 900.0
#define STATS_MAX    1344 /* two weeks of 15-minute periods */

struct api_identity {
	char *name;
	double created;
};

struct minute_bucket {
	long long minute;
	unsigned long long recipients;
};

struct ses_account {
	const struct config *cfg;
	const struct vclock *clock;
	enum ses_sending seen_sending; /* the configuration's value when last read */
	enum ses_sending sending;      /* in force (the API may have changed it) */
	double second_start;
	unsigned long long second_used;
	struct minute_bucket day[DAY_MINUTES];
	struct api_identity *ids;
	size_t nids;
	struct ses_stats_point *stats; /* a ring of STATS_MAX periods, by period number */
	struct sns *sns;               /* kept by reset: the profile's, attached once */
	struct ses_events *events;
};

struct ses_account *ses_account_new(const struct config *cfg, const struct vclock *clock)
{
	struct ses_account *a = xcalloc(1, sizeof *a);

	a->cfg = cfg;
	a->clock = clock;
	ses_account_reset(a);
	return a;
}

static void forget(struct ses_account *a)
{
	for (size_t i = 0; i < a->nids; i++)
		free(a->ids[i].name);
	free(a->ids);
	free(a->stats);
}

void ses_account_free(struct ses_account *a)
{
	if (a == NULL)
		return;
	forget(a);
	free(a);
}

void ses_account_attach(struct ses_account *a, struct sns *sns, struct ses_events *events)
{
	a->sns = sns;
	a->events = events;
}

struct sns *ses_account_sns(const struct ses_account *a)
{
	return a->sns;
}

struct ses_events *ses_account_events(const struct ses_account *a)
{
	return a->events;
}

void ses_account_reset(struct ses_account *a)
{
	const struct config *cfg = a->cfg;
	const struct vclock *clock = a->clock;
	struct sns *sns = a->sns;
	struct ses_events *events = a->events;

	forget(a);
	memset(a, 0, sizeof *a);
	a->cfg = cfg;
	a->clock = clock;
	a->sns = sns;
	a->events = events;
	a->seen_sending = a->sending = cfg->ses.sending;
	for (size_t i = 0; i < DAY_MINUTES; i++)
		a->day[i].minute = -1;
}

static double now_of(const struct ses_account *a)
{
	return vclock_now(a->clock);
}

/* The configuration's sending state wins whenever it changes (a scenario's
 * settings); in between, PutAccountSendingAttributes may change it. */
static enum ses_sending sending_in_force(struct ses_account *a)
{
	if (a->cfg->ses.sending != a->seen_sending)
		a->seen_sending = a->sending = a->cfg->ses.sending;
	return a->sending;
}

/* ---- identities ----------------------------------------------------------- */

static int listed(char *const *v, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcasecmp(v[i], name) == 0)
			return 1;
	return 0;
}

static struct api_identity *api_identity(struct ses_account *a, const char *name)
{
	for (size_t i = 0; i < a->nids; i++)
		if (strcasecmp(a->ids[i].name, name) == 0)
			return &a->ids[i];
	return NULL;
}

/* An address or domain created through the API: verified at once, after
 * verification.delay, or never (Failed after SES's 24 h for an address,
 * 72 h for a domain). */
static enum ses_identity_status api_status(const struct ses_account *a,
                                           const struct api_identity *id)
{
	const struct config_ses *c = &a->cfg->ses;
	double age = now_of(a) - id->created;

	switch (c->verification) {
	case SES_VERIFY_INSTANT:
		return SES_ID_SUCCESS;
	case SES_VERIFY_DELAYED:
		return age >= c->verification_delay ? SES_ID_SUCCESS : SES_ID_PENDING;
	case SES_VERIFY_NEVER:
		break;
	}
	return age >= (strchr(id->name, '@') ? 24 : 72) * 3600.0 ? SES_ID_FAILED : SES_ID_PENDING;
}

/* The status of one identity, or -1 when the account does not have it. */
static int identity_status(struct ses_account *a, const char *name)
{
	const struct config_ses *c = &a->cfg->ses;
	struct api_identity *id;

	if (listed(c->identities, c->nidentities, name))
		return SES_ID_SUCCESS;
	if (listed(c->pending, c->npending, name))
		return SES_ID_PENDING;
	if ((id = api_identity(a, name)) != NULL)
		return (int)api_status(a, id);
	return -1;
}

/* An address may send (or, in the sandbox, receive) when it or its domain
 * is a verified identity. */
static int address_verified(struct ses_account *a, const char *address)
{
	const char *at = strrchr(address, '@');

	if (identity_status(a, address) == SES_ID_SUCCESS)
		return 1;
	return at != NULL && identity_status(a, at + 1) == SES_ID_SUCCESS;
}

/* SES's mailbox simulator receives in the sandbox too. */
static int simulator_address(const char *address)
{
	const char *at = strrchr(address, '@');

	return at != NULL && strcasecmp(at + 1, "simulator.amazonses.com") == 0;
}

int ses_identity_create(struct ses_account *a, const char *name)
{
	if (identity_status(a, name) >= 0)
		return -1;
	a->ids = xrealloc(a->ids, (a->nids + 1) * sizeof *a->ids);
	a->ids[a->nids].name = xstrdup(name);
	a->ids[a->nids].created = now_of(a);
	a->nids++;
	return 0;
}

int ses_identity_delete(struct ses_account *a, const char *name)
{
	struct api_identity *id = api_identity(a, name);

	if (id == NULL)
		return -1;
	free(id->name);
	*id = a->ids[--a->nids];
	return 0;
}

static void fill_info(struct ses_identity_info *out, const char *name, int status)
{
	out->name = name;
	out->is_domain = strchr(name, '@') == NULL;
	out->status = (enum ses_identity_status)status;
}

int ses_identity_get(struct ses_account *a, const char *name, struct ses_identity_info *out)
{
	int status = identity_status(a, name);

	if (status < 0)
		return -1;
	fill_info(out, name, status);
	return 0;
}

size_t ses_identity_list(struct ses_account *a, struct ses_identity_info *out, size_t max)
{
	const struct config_ses *c = &a->cfg->ses;
	size_t n = 0;

	for (size_t i = 0; i < c->nidentities && n < max; i++)
		fill_info(&out[n++], c->identities[i], SES_ID_SUCCESS);
	for (size_t i = 0; i < c->npending && n < max; i++)
		fill_info(&out[n++], c->pending[i], SES_ID_PENDING);
	for (size_t i = 0; i < a->nids && n < max; i++)
		fill_info(&out[n++], a->ids[i].name, (int)api_status(a, &a->ids[i]));
	return n;
}

struct ses_identity_info *ses_identities(struct ses_account *a, size_t *n)
{
	size_t cap = 16;
	struct ses_identity_info *all = NULL;

	do {
		cap *= 2;
		all = xrealloc(all, cap * sizeof *all);
		*n = ses_identity_list(a, all, cap);
	} while (*n == cap);
	return all;
}

const char *ses_status_v2(enum ses_identity_status s)
{
	static const char *const names[] = {"PENDING", "SUCCESS", "FAILED", "NOT_STARTED"};

	return names[s];
}

const char *ses_status_v1(enum ses_identity_status s)
{
	static const char *const names[] = {"Pending", "Success", "Failed", "NotStarted"};

	return names[s];
}

/* ---- quotas ---------------------------------------------------------------- */

static unsigned long long sent_last_day(const struct ses_account *a)
{
	long long minute = (long long)(now_of(a) / 60.0);
	unsigned long long sum = 0;

	for (size_t i = 0; i < DAY_MINUTES; i++)
		if (a->day[i].minute > minute - DAY_MINUTES)
			sum += a->day[i].recipients;
	return sum;
}

static unsigned long long sent_this_second(struct ses_account *a)
{
	if (now_of(a) - a->second_start >= 1.0)
		a->second_used = 0;
	return a->second_used;
}

static void charge_day(struct ses_account *a, size_t nrcpt)
{
	long long minute = (long long)(now_of(a) / 60.0);
	struct minute_bucket *b = &a->day[minute % DAY_MINUTES];

	if (b->minute != minute) {
		b->minute = minute;
		b->recipients = 0;
	}
	b->recipients += nrcpt;
}

static size_t counted_for_day(const struct ses_envelope *s)
{
	size_t n = 0;

	for (size_t i = 0; i < s->nrcpt; i++)
		n += !simulator_address(s->rcpts[i].address);
	return n;
}

/* ---- statistics ------------------------------------------------------------ */

static struct ses_stats_point *stats_now(struct ses_account *a)
{
	long long period = (long long)(now_of(a) / STATS_PERIOD);
	struct ses_stats_point *p;

	if (a->stats == NULL)
		a->stats = xcalloc(STATS_MAX, sizeof *a->stats);
	p = &a->stats[period % STATS_MAX];
	if (p->time != (double)period * STATS_PERIOD) {
		memset(p, 0, sizeof *p);
		p->time = (double)period * STATS_PERIOD;
	}
	return p;
}

size_t ses_account_stats(struct ses_account *a, struct ses_stats_point *out, size_t max)
{
	long long period = (long long)(now_of(a) / STATS_PERIOD);
	size_t n = 0;

	for (long long k = period < STATS_MAX ? 0 : period - STATS_MAX + 1;
	     k <= period && a->stats != NULL; k++) {
		const struct ses_stats_point *p = &a->stats[k % STATS_MAX];
		int used = p->attempts || p->bounces || p->complaints || p->rejects;
		if (used && p->time == (double)k * STATS_PERIOD &&
		    n < max) /* a period of its own */
			out[n++] = *p;
	}
	return n;
}

void ses_account_bounced(struct ses_account *a)
{
	stats_now(a)->bounces++;
}

/* ---- the checks ------------------------------------------------------------ */

/* Appends one failed identity; SES ends a list it cannot show whole with
 * "...". */
static void add_failed(char *out, size_t len, const char *shown)
{
	size_t used = strlen(out), need = strlen(shown) + (used ? 2 : 0);

	if (used >= 3 && strcmp(out + used - 3, "...") == 0)
		return;
	if (used + need + 4 > len) {
		snprintf(out + used, len - used, "...");
		return;
	}
	snprintf(out + used, len - used, "%s%s", used ? ", " : "", shown);
}

static int unverified(struct ses_account *a, const struct ses_envelope *s, char *failed, size_t len)
{
	failed[0] = '\0';
	for (size_t i = 0; i < s->nsenders; i++)
		if (!address_verified(a, s->senders[i].address))
			add_failed(failed, len, s->senders[i].shown);
	for (size_t i = 0; a->cfg->ses.sandbox && i < s->nrcpt; i++)
		if (!simulator_address(s->rcpts[i].address) &&
		    !address_verified(a, s->rcpts[i].address))
			add_failed(failed, len, s->rcpts[i].shown);
	return failed[0] != '\0';
}

static enum ses_verdict verdict_of(struct ses_account *a, const struct ses_envelope *s,
                                   char *failed, size_t failedlen)
{
	const struct config_ses *c = &a->cfg->ses;
	double day_quota = config_ses_max_24h_send(c);

	switch (sending_in_force(a)) {
	case SES_SENDING_SUSPENDED:
		return SES_SUSPENDED;
	case SES_SENDING_PAUSED:
		return SES_PAUSED;
	case SES_SENDING_ENABLED:
		break;
	}
	if (unverified(a, s, failed, failedlen))
		return SES_UNVERIFIED;
	if ((double)sent_this_second(a) >= config_ses_max_send_rate(c))
		return SES_RATE;
	if (day_quota >= 0 && counted_for_day(s) > 0 && (double)sent_last_day(a) >= day_quota)
		return SES_DAILY;
	return SES_OK;
}

enum ses_verdict ses_account_check(struct ses_account *a, const struct ses_envelope *s,
                                   char *failed, size_t failedlen)
{
	enum ses_verdict v = verdict_of(a, s, failed, failedlen);

	if (v != SES_OK)
		stats_now(a)->rejects++;
	return v;
}

void ses_account_charge(struct ses_account *a, const struct ses_envelope *s)
{
	double now = now_of(a);

	if (now - a->second_start >= 1.0) {
		a->second_start = now;
		a->second_used = 0;
	}
	a->second_used += s->nrcpt;
	charge_day(a, counted_for_day(s));
	stats_now(a)->attempts += s->nrcpt;
}

void ses_account_use_quota(struct ses_account *a, unsigned long long recipients)
{
	double now = now_of(a);

	if (now - a->second_start >= 1.0) {
		a->second_start = now;
		a->second_used = 0;
	}
	a->second_used += recipients;
	charge_day(a, (size_t)recipients);
}

/* ---- the account's face ---------------------------------------------------- */

const char *ses_account_secret(const struct ses_account *a, const char *key_id)
{
	const struct config_ses *c = &a->cfg->ses;

	for (size_t i = 0; i < c->nkeys; i++)
		if (strcmp(c->keys[i].id, key_id) == 0)
			return c->keys[i].secret;
	return NULL;
}

int ses_account_smtp_login(const struct ses_account *a, const char *user, const char *password)
{
	const char *secret = ses_account_secret(a, user);
	char expected[SES_SMTP_PASSWORD_LEN + 1];

	if (secret == NULL)
		return 0;
	ses_smtp_password(secret, a->cfg->ses.region, expected);
	return strcmp(expected, password) == 0;
}

int ses_account_has_configuration_set(const struct ses_account *a, const char *name)
{
	const struct config_ses *c = &a->cfg->ses;

	return listed(c->configuration_sets, c->nconfiguration_sets, name);
}

const char *ses_account_region(const struct ses_account *a)
{
	return a->cfg->ses.region;
}

const char *ses_account_id(const struct ses_account *a)
{
	return a->cfg->ses.account_id;
}

void ses_account_quota(struct ses_account *a, struct ses_quota *q)
{
	q->max_24h_send = config_ses_max_24h_send(&a->cfg->ses);
	q->max_send_rate = config_ses_max_send_rate(&a->cfg->ses);
	q->sent_last_24h = (double)sent_last_day(a);
}

int ses_account_sandbox(const struct ses_account *a)
{
	return a->cfg->ses.sandbox;
}

int ses_account_sending_enabled(struct ses_account *a)
{
	return sending_in_force(a) == SES_SENDING_ENABLED;
}

const char *ses_account_enforcement(struct ses_account *a)
{
	return sending_in_force(a) == SES_SENDING_SUSPENDED ? "SHUTDOWN" : "HEALTHY";
}

int ses_account_set_sending(struct ses_account *a, int enabled)
{
	if (sending_in_force(a) == SES_SENDING_SUSPENDED)
		return -1;
	a->sending = enabled ? SES_SENDING_ENABLED : SES_SENDING_PAUSED;
	return 0;
}
