/*
 * profiles.h - the providers edsim knows, for the composition root (server.c)
 * and the command line (edsim check).
 */
#ifndef EDSIM_PROFILES_H
#define EDSIM_PROFILES_H

#include "profile.h"

/* The profile called name (NULL or "": the default, oci); NULL when none is. */
const struct profile *profile_find(const char *name);
/* Their names for messages, comma-separated ("oci"), into out. */
void profile_names(char *out, size_t outlen);

#endif
