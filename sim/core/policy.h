/*
 * policy.h - who may send what: credentials, approved senders, suppression,
 * per-IP connection and auth-failure throttles, and per-user quotas.
 *
 * All decisions are made here from the configuration and the counters this
 * module owns; the SMTP session only asks and replies. Time comes from the
 * caller (clock_now()), so windows follow the server's clock.
 */
#ifndef EDSIM_POLICY_H
#define EDSIM_POLICY_H

#include <jansson.h>
#include <stddef.h>

#include "config.h"

struct policy;

enum quota_verdict { QUOTA_OK, QUOTA_MINUTE, QUOTA_DAY };

struct policy *policy_new(const struct config *cfg);
void policy_free(struct policy *p);
/* The configuration changed (a scenario's settings): read limits from cfg. */
void policy_set_config(struct policy *p, const struct config *cfg);
/* Forgets auth failures, blocks and quota usage (open connections stay). */
void policy_reset_counters(struct policy *p);

/* True when no users are configured: any credentials and sender pass. */
int policy_is_open(const struct policy *p);
/* The configured user of that name, or NULL. */
const struct config_user *policy_find_user(const struct policy *p, const char *name);
/* The {limit} of a catalog reply: the per-minute or per-day quota for the
 * rate-minute and rate-day rows (SMTP and HTTPS), else the message byte limit. */
unsigned long long policy_limit_for(const struct policy *p, const char *catalog_id);
int policy_check_credentials(const struct policy *p, const char *user, const char *password);
/* user may be NULL (no AUTH): then any configured user's approval counts. */
int policy_sender_approved(const struct policy *p, const char *user, const char *address);
/* On the configuration's `suppressions` or on the suppression list. */
int policy_is_suppressed(const struct policy *p, const char *address);
/* The suppression list kept in memory (the store keeps it on disk): entries
 * from the control API and from hard bounces, matched case-insensitively. */
void policy_suppress(struct policy *p, const char *address, const char *reason, double time,
                     const char *source);
/* Removes one address (NULL: every entry); returns how many were removed. */
size_t policy_unsuppress(struct policy *p, const char *address);
/* Every suppressed address, the configuration's first (source
 * "configuration"), as [{address, reason, time, source}]. */
json_t *policy_suppressions(const struct policy *p);

/* Connection slots per client IP. connection_open fails (returns -1) when
 * the IP is at its limit; every successful open is paired with a close. */
int policy_connection_open(struct policy *p, const char *ip);
void policy_connection_close(struct policy *p, const char *ip);

void policy_auth_failure(struct policy *p, const char *ip, double now);
int policy_auth_blocked(struct policy *p, const char *ip, double now);

enum quota_verdict policy_quota_check(struct policy *p, const char *user, double now,
                                      unsigned long long *limit);
void policy_quota_charge(struct policy *p, const char *user, unsigned long long units, double now);
/* Quota units for one accepted message under the configured quota_unit. */
unsigned long long policy_quota_units(const struct policy *p, size_t nrcpt, size_t bytes);

#endif
