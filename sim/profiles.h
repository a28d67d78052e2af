/*
 * profiles.h - the providers edsim knows, for the composition root (server.c)
 * and the command line (edsim check).
 */
#ifndef EDSIM_PROFILES_H
#define EDSIM_PROFILES_H

#include "catalog.h"
#include "profile.h"

/* The profile called name (NULL or "": the default, oci); NULL when none is. */
const struct profile *profile_find(const char *name);
/* Their names for messages, comma-separated ("oci"), into out. */
void profile_names(char *out, size_t outlen);

/* The catalogs of every profile, each loaded on first use: what `edsim
 * check` and the conformance runner check a scenario against, chosen by
 * the scenario's own `profile:`. Zero-initialise one, free it with
 * profile_catalogs_free(). */
struct profile_catalogs {
	struct catalog cat[8];
	int state[8]; /* 0 not loaded, 1 loaded, -1 invalid */
};
/* The catalog of profile name (NULL: the default profile's), or NULL with
 * the reason in err. Has the shape of scenario_catalog_fn (scenario.h),
 * with pc as its argument. */
const struct catalog *profile_catalog(void *pc, const char *name, char *err, size_t errlen);
void profile_catalogs_free(struct profile_catalogs *pc);

#endif
