/*
 * policy.c - approval, suppression, throttles and quotas.
 *
 * Counters live in small lists (SLIST, newest first) keyed by client IP or
 * user; edsim serves a handful of test clients, so a linear list is simpler
 * than a hash and fast enough. An entry lives until policy_free() (quota
 * entries until policy_reset_counters()). Windows are fixed: a quota window opens at the first
 * accepted message and closes a minute (or a day) later; an IP that reaches
 * auth_failures_per_ip failures within auth_failure_window is blocked for
 * one more window from the last failure (the cool-off).
 */
#include "policy.h"

#include <ctype.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>

#include "xmalloc.h"

struct ip_entry {
	SLIST_ENTRY(ip_entry) link;
	char ip[64];
	unsigned long long connections;
	unsigned long long failures;
	double first_failure;
	double blocked_until;
};

struct quota_entry {
	SLIST_ENTRY(quota_entry) link;
	char user[256];
	double minute_start, day_start;
	unsigned long long minute_used, day_used;
};

struct policy {
	const struct config *cfg;
	SLIST_HEAD(, ip_entry) ips;
	SLIST_HEAD(, quota_entry) quotas;
	json_t *suppressed; /* lower-cased address -> {address, reason, time, source} */
};

struct policy *policy_new(const struct config *cfg)
{
	struct policy *p = xcalloc(1, sizeof *p);

	p->cfg = cfg;
	SLIST_INIT(&p->ips);
	SLIST_INIT(&p->quotas);
	p->suppressed = json_object();
	return p;
}

static void lower_copy(char *out, size_t outlen, const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0' && i + 1 < outlen; i++)
		out[i] = (char)tolower((unsigned char)s[i]);
	out[i] = '\0';
}

void policy_suppress(struct policy *p, const char *address, const char *reason, double time,
                     const char *source)
{
	char key[512];

	lower_copy(key, sizeof key, address);
	json_object_set_new(p->suppressed, key,
	                    json_pack("{s:s, s:s, s:f, s:s}", "address", address, "reason",
	                              reason ? reason : "", "time", time, "source",
	                              source ? source : "api"));
}

size_t policy_unsuppress(struct policy *p, const char *address)
{
	size_t n = json_object_size(p->suppressed);
	char key[512];

	if (address == NULL) {
		json_object_clear(p->suppressed);
		return n;
	}
	lower_copy(key, sizeof key, address);
	return json_object_del(p->suppressed, key) == 0 ? 1 : 0;
}

json_t *policy_suppressions(const struct policy *p)
{
	json_t *list = json_array(), *entry;
	const char *key;

	for (size_t i = 0; i < p->cfg->nsuppressions; i++)
		json_array_append_new(
		    list, json_pack("{s:s, s:s, s:n, s:s}", "address", p->cfg->suppressions[i],
		                    "reason", "configuration", "time", "source", "configuration"));
	json_object_foreach(p->suppressed, key, entry) json_array_append(list, entry);
	return list;
}

void policy_set_config(struct policy *p, const struct config *cfg)
{
	p->cfg = cfg;
}

static void free_quotas(struct policy *p)
{
	struct quota_entry *q;

	while ((q = SLIST_FIRST(&p->quotas)) != NULL) {
		SLIST_REMOVE_HEAD(&p->quotas, link);
		free(q);
	}
}

void policy_free(struct policy *p)
{
	struct ip_entry *e;

	if (p == NULL)
		return;
	json_decref(p->suppressed);
	while ((e = SLIST_FIRST(&p->ips)) != NULL) {
		SLIST_REMOVE_HEAD(&p->ips, link);
		free(e);
	}
	free_quotas(p);
	free(p);
}

void policy_reset_counters(struct policy *p)
{
	struct ip_entry *e;

	for (e = SLIST_FIRST(&p->ips); e != NULL; e = SLIST_NEXT(e, link)) {
		e->failures = 0;
		e->blocked_until = 0;
	}
	free_quotas(p);
}

int policy_is_open(const struct policy *p)
{
	return p->cfg->nusers == 0;
}

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

unsigned long long policy_limit_for(const struct policy *p, const char *catalog_id)
{
	if (ends_with(catalog_id, "rate-minute"))
		return p->cfg->limits.per_minute;
	if (ends_with(catalog_id, "rate-day"))
		return p->cfg->limits.per_day;
	return p->cfg->limits.message_bytes;
}

const struct config_user *policy_find_user(const struct policy *p, const char *name)
{
	for (size_t i = 0; name != NULL && i < p->cfg->nusers; i++)
		if (strcmp(p->cfg->users[i].name, name) == 0)
			return &p->cfg->users[i];
	return NULL;
}

int policy_check_credentials(const struct policy *p, const char *user, const char *password)
{
	const struct config_user *u;

	if (policy_is_open(p))
		return 1;
	u = policy_find_user(p, user);
	return u != NULL && strcmp(u->password, password) == 0;
}

static int user_approves(const struct config_user *u, const char *address)
{
	for (size_t i = 0; i < u->napproved; i++)
		if (fnmatch(u->approved_senders[i], address, FNM_CASEFOLD) == 0)
			return 1;
	return 0;
}

int policy_sender_approved(const struct policy *p, const char *user, const char *address)
{
	const struct config_user *u;

	if (policy_is_open(p))
		return 1;
	if (user != NULL) {
		u = policy_find_user(p, user);
		return u != NULL && user_approves(u, address);
	}
	for (size_t i = 0; i < p->cfg->nusers; i++)
		if (user_approves(&p->cfg->users[i], address))
			return 1;
	return 0;
}

int policy_is_suppressed(const struct policy *p, const char *address)
{
	char key[512];

	lower_copy(key, sizeof key, address);
	if (json_object_get(p->suppressed, key) != NULL)
		return 1;
	for (size_t i = 0; i < p->cfg->nsuppressions; i++)
		if (strcasecmp(p->cfg->suppressions[i], address) == 0)
			return 1;
	return 0;
}

static struct ip_entry *ip_entry(struct policy *p, const char *ip, int create)
{
	struct ip_entry *e;

	for (e = SLIST_FIRST(&p->ips); e != NULL; e = SLIST_NEXT(e, link))
		if (strcmp(e->ip, ip) == 0)
			return e;
	if (!create)
		return NULL;
	e = xcalloc(1, sizeof *e);
	strncpy(e->ip, ip, sizeof e->ip - 1);
	SLIST_INSERT_HEAD(&p->ips, e, link);
	return e;
}

int policy_connection_open(struct policy *p, const char *ip)
{
	struct ip_entry *e = ip_entry(p, ip, 1);
	unsigned long long limit = p->cfg->limits.connections_per_ip;

	if (limit > 0 && e->connections >= limit)
		return -1;
	e->connections++;
	return 0;
}

void policy_connection_close(struct policy *p, const char *ip)
{
	struct ip_entry *e = ip_entry(p, ip, 0);

	if (e != NULL && e->connections > 0)
		e->connections--;
}

void policy_auth_failure(struct policy *p, const char *ip, double now)
{
	struct ip_entry *e = ip_entry(p, ip, 1);
	double window = p->cfg->limits.auth_failure_window;

	if (e->failures == 0 || now - e->first_failure > window) {
		e->failures = 0;
		e->first_failure = now;
	}
	e->failures++;
	if (p->cfg->limits.auth_failures_per_ip > 0 &&
	    e->failures >= p->cfg->limits.auth_failures_per_ip)
		e->blocked_until = now + window;
}

int policy_auth_blocked(struct policy *p, const char *ip, double now)
{
	struct ip_entry *e = ip_entry(p, ip, 0);

	if (e == NULL || e->blocked_until == 0)
		return 0;
	if (now < e->blocked_until)
		return 1;
	e->blocked_until = 0;
	e->failures = 0;
	return 0;
}

static struct quota_entry *quota_entry(struct policy *p, const char *user)
{
	struct quota_entry *q;

	if (user == NULL)
		user = "";
	for (q = SLIST_FIRST(&p->quotas); q != NULL; q = SLIST_NEXT(q, link))
		if (strcmp(q->user, user) == 0)
			return q;
	q = xcalloc(1, sizeof *q);
	strncpy(q->user, user, sizeof q->user - 1);
	SLIST_INSERT_HEAD(&p->quotas, q, link);
	return q;
}

static void quota_roll(struct quota_entry *q, double now)
{
	if (q->minute_used > 0 && now - q->minute_start >= 60.0)
		q->minute_used = 0;
	if (q->day_used > 0 && now - q->day_start >= 86400.0)
		q->day_used = 0;
}

enum quota_verdict policy_quota_check(struct policy *p, const char *user, double now,
                                      unsigned long long *limit)
{
	const struct config_limits *l = &p->cfg->limits;
	struct quota_entry *q;

	if (l->per_minute == 0 && l->per_day == 0)
		return QUOTA_OK;
	q = quota_entry(p, user);
	quota_roll(q, now);
	if (l->per_day > 0 && q->day_used >= l->per_day) {
		*limit = l->per_day;
		return QUOTA_DAY;
	}
	if (l->per_minute > 0 && q->minute_used >= l->per_minute) {
		*limit = l->per_minute;
		return QUOTA_MINUTE;
	}
	return QUOTA_OK;
}

void policy_quota_charge(struct policy *p, const char *user, unsigned long long units, double now)
{
	struct quota_entry *q;

	if (p->cfg->limits.per_minute == 0 && p->cfg->limits.per_day == 0)
		return;
	q = quota_entry(p, user);
	quota_roll(q, now);
	if (q->minute_used == 0)
		q->minute_start = now;
	if (q->day_used == 0)
		q->day_start = now;
	q->minute_used += units;
	q->day_used += units;
}

unsigned long long policy_quota_units(const struct policy *p, size_t nrcpt, size_t bytes)
{
	const size_t chunk = 2 * 1024 * 1024;

	if (p->cfg->limits.quota_unit == QUOTA_MESSAGE)
		return 1;
	return (unsigned long long)nrcpt * ((bytes + chunk - 1) / chunk + (bytes == 0));
}
