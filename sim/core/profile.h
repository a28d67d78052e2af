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
 * Invariants: a profile is constant data; its functions may be NULL only
 * all together (no HTTPS API).
 */
#ifndef EDSIM_PROFILE_H
#define EDSIM_PROFILE_H

#include <stddef.h>

struct env;
struct catalog;
struct https_api; /* each provider's own, opaque here */

struct profile {
	const char *name;              /* "oci": `profile:` in scenarios and the configuration */
	const char *catalog_file;      /* the catalog's name in messages */
	const unsigned char *catalog;  /* its text, embedded in the binary */
	size_t (*catalog_len)(void);   /* its length */
	const char *smtp_reply_prefix; /* "oci.smtp." */
	/* The HTTPS API on listen (host:port); the bound port in *port. */
	struct https_api *(*https_new)(const struct env *env, const char *listen, int *port,
	                               char *err, size_t errlen);
	void (*https_free)(struct https_api *api);
	/* The scenario is about to change: waiting requests resume natively now. */
	void (*https_scenario_changed)(struct https_api *api);
};

/* Loads the profile's embedded catalog; -1 with *errors (malloc'ed). */
int profile_load_catalog(const struct profile *p, struct catalog *c, char **errors);

#endif
