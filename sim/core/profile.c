/*
 * profile.c - what every profile shares: loading its embedded catalog.
 */
#include "profile.h"

#include "catalog.h"

int profile_load_catalog(const struct profile *p, struct catalog *c, char **errors)
{
	return catalog_load(c, p->catalog_file, p->catalog, p->catalog_len(), errors);
}
