/*
 * profile.c - what every profile shares: loading its embedded catalog, the
 * placeholders of a provider's refusal.
 */
#include "profile.h"

#include <stdio.h>

#include "catalog.h"

int profile_load_catalog(const struct profile *p, struct catalog *c, char **errors)
{
	return catalog_load(c, p->catalog_file, p->catalog, p->catalog_len(), errors);
}

void provider_reply_var(struct provider_reply *r, const char *name, const char *value)
{
	size_t room = sizeof r->buf - r->used;
	int n;

	if (r->nvars == sizeof r->vars / sizeof r->vars[0] || room == 0)
		return;
	n = snprintf(r->buf + r->used, room, "%s", value ? value : "");
	r->vars[r->nvars].name = name;
	r->vars[r->nvars].value = r->buf + r->used;
	r->nvars++;
	r->used += (size_t)n < room ? (size_t)n + 1 : room;
}
