/*
 * ses_account.h - the Amazon SES account edsim plays: its sending state,
 * the sandbox, its verified identities, the send rate and the 24-hour quota
 * (counted per recipient), its SMTP credentials and its send statistics.
 *
 * Every front end asks the same account (SMTP at the end of DATA, the v2
 * and v1 APIs before they accept), so a message refused over one path is
 * refused over the others for the same reason. The configuration's `ses:`
 * section is the account as it starts and as a scenario sets it; changes
 * made through the API (identities, PutAccountSendingAttributes) live here
 * until the configuration's own value changes. Time is the virtual clock's.
 *
 * Invariants: the reasons are checked in one order (suspended, paused,
 * unverified identities, send rate, daily quota); ses_account_charge() is
 * called once per accepted message with its recipient count.
 */
#ifndef EDSIM_SES_ACCOUNT_H
#define EDSIM_SES_ACCOUNT_H

#include <stddef.h>

struct config;
struct vclock;
struct sns;
struct ses_events;
struct ses_account;

enum ses_verdict {
	SES_OK,
	SES_SUSPENDED,  /* sending suspended (permanently restricted) */
	SES_PAUSED,     /* sending paused */
	SES_UNVERIFIED, /* an identity failed the check: the list is in failed */
	SES_RATE,       /* maximum sending rate exceeded */
	SES_DAILY,      /* daily message quota exceeded */
};

/* One address of a sending request: the bare address, and how SES shows it
 * in "identities failed the check" (as the client wrote it). */
struct ses_party {
	const char *address;
	const char *shown;
};

struct ses_envelope {
	const struct ses_party *senders; /* From, Source, Sender, Return-Path */
	size_t nsenders;
	const struct ses_party *rcpts;
	size_t nrcpt;
};

/* The identity states SES reports (v2 spelling; v1 is ses_status_v1()). */
enum ses_identity_status { SES_ID_PENDING, SES_ID_SUCCESS, SES_ID_FAILED, SES_ID_NOT_STARTED };

struct ses_identity_info {
	const char *name;
	int is_domain;
	enum ses_identity_status status;
};

struct ses_quota {
	double max_24h_send; /* -1: unlimited */
	double max_send_rate;
	double sent_last_24h;
};

struct ses_stats_point {
	double time; /* the start of the 15-minute period (virtual clock seconds; vclock_wall()
	                turns them into Unix time) */
	unsigned long long attempts, bounces, complaints, rejects;
};

struct ses_account *ses_account_new(const struct config *cfg, const struct vclock *clock);
void ses_account_free(struct ses_account *a);
/* What the account publishes through (sns.h, ses_events.h), attached once
 * by the profile and owned by it; NULL until then. */
void ses_account_attach(struct ses_account *a, struct sns *sns, struct ses_events *events);
struct sns *ses_account_sns(const struct ses_account *a);
struct ses_events *ses_account_events(const struct ses_account *a);
/* Forgets the quotas' counts, the statistics, the identities created
 * through the API and the API's sending state. */
void ses_account_reset(struct ses_account *a);

/* SES's checks on a message about to be accepted; *failed gets the
 * identities that failed, as SES lists them ("a, b, c", ending in "..."
 * when there are too many). A refusal is counted as a reject. */
enum ses_verdict ses_account_check(struct ses_account *a, const struct ses_envelope *s,
                                   char *failed, size_t failedlen);
/* An accepted message: its recipients count against the send rate and,
 * except the mailbox simulator's, against the 24-hour quota. */
void ses_account_charge(struct ses_account *a, const struct ses_envelope *s);
void ses_account_bounced(struct ses_account *a);
/* A scenario's use_quota: recipients counted against the send rate and the
 * 24-hour quota as if they had just been sent. */
void ses_account_use_quota(struct ses_account *a, unsigned long long recipients);

/* The SMTP user name is an access key id, the password is that key's SMTP
 * password for the account's region. */
int ses_account_smtp_login(const struct ses_account *a, const char *user, const char *password);
/* The secret of an access key id, or NULL. */
const char *ses_account_secret(const struct ses_account *a, const char *key_id);
const char *ses_account_region(const struct ses_account *a);
/* 1 when the account has a configuration set of that name. */
int ses_account_has_configuration_set(const struct ses_account *a, const char *name);
const char *ses_account_id(const struct ses_account *a);

void ses_account_quota(struct ses_account *a, struct ses_quota *q);
int ses_account_sandbox(const struct ses_account *a);
/* SendingEnabled as GetAccount shows it; "HEALTHY" or "SHUTDOWN". */
int ses_account_sending_enabled(struct ses_account *a);
const char *ses_account_enforcement(struct ses_account *a);
/* PutAccountSendingAttributes: -1 when the account is suspended (AWS's
 * restriction cannot be lifted by the account). */
int ses_account_set_sending(struct ses_account *a, int enabled);

/* Identities created through the API: -1 if it already exists. */
int ses_identity_create(struct ses_account *a, const char *name);
/* -1 if there is no such identity. */
int ses_identity_delete(struct ses_account *a, const char *name);
int ses_identity_get(struct ses_account *a, const char *name, struct ses_identity_info *out);
/* Every identity (configured first), in order; returns how many. */
size_t ses_identity_list(struct ses_account *a, struct ses_identity_info *out, size_t max);
/* Every identity, in ses_identity_list()'s order (malloc'ed; *n set). */
struct ses_identity_info *ses_identities(struct ses_account *a, size_t *n);
const char *ses_status_v2(enum ses_identity_status s); /* "SUCCESS" */
const char *ses_status_v1(enum ses_identity_status s); /* "Success" */

/* The 15-minute send statistics of the last two weeks, oldest first. */
size_t ses_account_stats(struct ses_account *a, struct ses_stats_point *out, size_t max);

#endif
