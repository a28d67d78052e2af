/*
 * profiles.c - the list of providers. Adding one is a folder under sim/
 * with its struct profile, and a line here.
 */
#include "profiles.h"

#include <stdio.h>
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
