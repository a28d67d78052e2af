/*
 * profile.h - what a provider is to the engine.
 *
 * The SMTP engine, the store, the relay, the scenario engine and the
 * conformance runner are shared; a provider (OCI Email Delivery in sim/oci/,
 * Amazon SES next in sim/ses/) is a folder that defines one struct profile
 * and everything only it needs (its HTTPS API, request signing, credentials,
 * its catalog). The composition root lists the profiles (sim/profiles.c) and
 * runs the one the configuration names; nothing else refers to a provider.
 *
 * A provider's part of the contract:
 *   - its catalog (scenarios/catalog/<name>.yaml, embedded) holds an SMTP
 *     entry for every reply name in smtp_replies.h, under smtp_reply_prefix
 *     ("oci.smtp." + "greeting" = "oci.smtp.greeting"): its greeting, EHLO
 *     shape and native refusals are those entries' texts;
 *   - its HTTPS API, when it has one, is started on listen.https with the
 *     handles of env.h, may keep requests waiting on a rule's delay, and
 *     lets them go natively when told the scenario changed; it renders the
 *     scenario engine's verdict (engine_decide) and hands accepted mail to
 *     mailflow_submit(), as the SMTP engine does.
 * Invariants: a profile is constant data; its HTTPS functions may be NULL
 * only all together (no HTTPS API), and so may its account functions.
 */
#ifndef EDSIM_PROFILE_H
#define EDSIM_PROFILE_H

#include <stddef.h>

#include "catalog.h"

struct env;
struct catalog;
struct https_front; /* the HTTPS front end (sim/https/), the provider's state inside */

/* A message at the SMTP engine's end of DATA, as a provider sees it. The
 * provider may shorten the header section in place (SES removes its own
 * X-SES-* fields): raw and *raw_len change, nothing else does. */
struct smtp_submission {
	const char *user; /* the AUTH user, or NULL */
	const char *mail_from;
	const char *const *from; /* the header From addresses */
	size_t nfrom;
	const char *const *rcpts;
	size_t nrcpt;
	char *raw;
	size_t *raw_len;
	size_t header_bytes; /* of the header section, without the blank line */
};

/* A provider's refusal: a catalog entry and the values of its placeholders
 * (copied into buf). */
struct provider_reply {
	const struct cat_entry *entry;
	struct cat_var vars[4];
	size_t nvars;
	char buf[2048];
	size_t used; /* of buf */
};

struct profile {
	const char *name;              /* "oci": `profile:` in scenarios and the configuration */
	const char *catalog_file;      /* the catalog's name in messages */
	const unsigned char *catalog;  /* its text, embedded in the binary */
	size_t (*catalog_len)(void);   /* its length */
	const char *smtp_reply_prefix; /* "oci.smtp." */
	/* The provider's own defaults, laid between edsim's and the user's
	 * configuration (NULL: none): its host name, limits, ... */
	const char *defaults_file;
	const unsigned char *defaults;
	size_t (*defaults_len)(void);
	/* The HTTPS API on listen (host:port); the bound port in *port. */
	struct https_front *(*https_new)(const struct env *env, const char *listen, int *port,
	                                 char *err, size_t errlen);
	void (*https_free)(struct https_front *api);
	/* The scenario is about to change: waiting requests resume natively now. */
	void (*https_scenario_changed)(struct https_front *api);

	/* EHLO's lines after the first, in order: "SIZE", "STARTTLS" and "AUTH"
	 * stand for the lines the session fills in (STARTTLS only before TLS,
	 * AUTH only after); any other is sent as written; the last is "250 ". */
	const char *const *ehlo_lines;
	/* Catalog ids of engine replies this provider names otherwise:
	 * {reply name, id} pairs, ended by {NULL, NULL} (NULL: none). */
	const char *const (*smtp_reply_ids)[2];
	/* Message ids in the provider's shape (store.h); 0: 16 hex digits. */
	int message_id_style;

	/* The provider's account, when it keeps one (env.account); all NULL
	 * or all set. */
	void *(*account_new)(const struct env *env);
	void (*account_free)(void *account);
	/* POST /api/v1/reset: quotas, statistics and what the API changed. */
	void (*account_reset)(void *account);
	/* SMTP AUTH: 1 when the credentials are good. */
	int (*smtp_login)(void *account, const char *user, const char *password);
	/* The end of DATA after the engine's own checks: 1 and *reply to refuse. */
	int (*smtp_data_end)(void *account, const struct catalog *c, struct smtp_submission *m,
	                     struct provider_reply *reply);
	/* The message was accepted (stored). */
	void (*smtp_accepted)(void *account, const struct smtp_submission *m);
	/* A rule's use_quota: n messages counted against the account's own
	 * quotas (NULL: the provider has none beyond edsim's limits). */
	void (*account_use_quota)(void *account, unsigned long long n);
};

/* Adds a placeholder's value to r (copied into r->buf, cut when it is
 * full; a fifth and later are ignored). */
void provider_reply_var(struct provider_reply *r, const char *name, const char *value);
/* Loads the profile's embedded catalog; -1 with *errors (malloc'ed). */
int profile_load_catalog(const struct profile *p, struct catalog *c, char **errors);

#endif
