/*
 * config_ses.h - the `ses:` section of the configuration: the Amazon SES
 * account edsim plays under `profile: ses` (region, account id, sandbox,
 * quotas, sending state, access keys and identities).
 *
 * Invariants: the section always holds a region and an account id; a quota
 * given as null is SES's documented value for the account (the sandbox's
 * 1 per second and 200 per 24 hours, else 14 and 50000), read through
 * config_ses_max_send_rate() and config_ses_max_24h_send().
 */
#ifndef EDSIM_CONFIG_SES_H
#define EDSIM_CONFIG_SES_H

#include <stddef.h>

struct ydoc;
struct yaml_node_s;

enum ses_sending { SES_SENDING_ENABLED, SES_SENDING_PAUSED, SES_SENDING_SUSPENDED };
/* What happens to an identity created through the API. */
enum ses_verification { SES_VERIFY_INSTANT, SES_VERIFY_DELAYED, SES_VERIFY_NEVER };

struct config_ses_key {
	char *id;     /* the access key id: the SMTP user name and SigV4's Credential */
	char *secret; /* the secret access key: signs requests, derives the SMTP password */
};

struct config_ses {
	char *region;     /* "us-east-1" */
	char *account_id; /* 12 digits */
	int sandbox;
	double max_send_rate; /* recipients per second; < 0: SES's value */
	double max_24h_send;  /* recipients per 24 hours; -1: unlimited; < -1: SES's value */
	enum ses_sending sending;
	struct config_ses_key *keys;
	size_t nkeys;
	char **identities; /* verified addresses and domains */
	size_t nidentities;
	char **pending; /* identities whose verification is pending */
	size_t npending;
	char **configuration_sets; /* the sets a message may name */
	size_t nconfiguration_sets;
	enum ses_verification verification;
	double verification_delay; /* SES_VERIFY_DELAYED: pending this long (virtual clock) */
};

int config_ses_load(struct config_ses *s, struct ydoc *d, struct yaml_node_s *n);
void config_ses_free(struct config_ses *s);
void config_ses_copy(struct config_ses *dst, const struct config_ses *src);
double config_ses_max_send_rate(const struct config_ses *s);
/* -1 means unlimited, as GetAccount shows it. */
double config_ses_max_24h_send(const struct config_ses *s);

#endif
