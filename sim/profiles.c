/*
 * profiles.c - the list of providers. Adding one is a folder under sim/
 * with its struct profile, and a line here.
 */
#include "profiles.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oci_profile.h"
#include "ses_profile.h"

static const struct profile *const profiles[] = {&oci_profile, &ses_profile};

const struct profile *profile_find(const char *name)
{
	if (name == NULL || name[0] == '\0')
		return profiles[0];
	for (size_t i = 0; i < sizeof profiles / sizeof profiles[0]; i++)
		if (strcmp(profiles[i]->name, name) == 0)
			return profiles[i];
	return NULL;
}

void profile_names(char *out, size_t outlen)
{
	size_t used = 0;

	out[0] = '\0';
	for (size_t i = 0; i < sizeof profiles / sizeof profiles[0] && used < outlen; i++)
		used += (size_t)snprintf(out + used, outlen - used, "%s%s", i ? ", " : "",
		                         profiles[i]->name);
}

const struct catalog *profile_catalog(void *arg, const char *name, char *err, size_t errlen)
{
	struct profile_catalogs *pc = arg;
	const struct profile *p = profile_find(name);
	size_t i = 0;
	char *errors = NULL, names[256];

	if (p == NULL) {
		profile_names(names, sizeof names);
		snprintf(err, errlen, "unknown profile '%s' (edsim knows: %s)", name, names);
		return NULL;
	}
	while (profiles[i] != p)
		i++;
	_Static_assert(sizeof profiles / sizeof profiles[0] <= sizeof pc->cat / sizeof pc->cat[0],
	               "profile_catalogs holds every profile");
	if (pc->state[i] == 0)
		pc->state[i] = profile_load_catalog(p, &pc->cat[i], &errors) < 0 ? -1 : 1;
	if (pc->state[i] < 0)
		snprintf(err, errlen, "the catalog of profile %s is invalid: %s", p->name,
		         errors ? errors : "");
	free(errors);
	return pc->state[i] > 0 ? &pc->cat[i] : NULL;
}

void profile_catalogs_free(struct profile_catalogs *pc)
{
	for (size_t i = 0; i < sizeof pc->cat / sizeof pc->cat[0]; i++)
		if (pc->state[i] > 0)
			catalog_free(&pc->cat[i]);
	*pc = (struct profile_catalogs){0};
}
