/*
 * catalog.c - loads the condition catalog and fills its templates.
 *
 * Invariants: every entry has an id, a protocol and, for SMTP, a 3-digit code
 * and a text; ids are unique. A catalog that breaks them is refused whole.
 */
#include "catalog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xmalloc.h"
#include "ydoc.h"

static const char *const entry_keys[] = {
    "id",      "protocol", "stage",  "code",    "enhanced",      "text",   "status", "error_code",
    "message", "kind",     "closes", "trigger", "client_should", "remedy", "source", NULL};

static void entry_free(struct cat_entry *e)
{
	free(e->id);
	free(e->stage);
	free(e->enhanced);
	free(e->text);
	free(e->error_code);
	free(e->message);
	free(e->kind);
	free(e->trigger);
	free(e->client_should);
	free(e->remedy);
	free(e->source);
}

static int load_optional_string(struct ydoc *d, yaml_node_t *map, const char *key, char **out)
{
	yaml_node_t *n = ydoc_get(d, map, key);

	if (n == NULL)
		return 0;
	return ydoc_string_or_null(d, n, key, out);
}

static int load_protocol(struct ydoc *d, yaml_node_t *map, struct cat_entry *e)
{
	yaml_node_t *n = ydoc_get(d, map, "protocol");
	const char *s = ydoc_scalar(n);

	if (s != NULL && strcmp(s, "smtp") == 0)
		e->protocol = CAT_SMTP;
	else if (s != NULL && strcmp(s, "https") == 0)
		e->protocol = CAT_HTTPS;
	else
		return ydoc_error(d, n ? n : map, "protocol: expected smtp or https");
	return 0;
}

static int load_int(struct ydoc *d, yaml_node_t *map, const char *key, int lo, int hi, int *out)
{
	yaml_node_t *n = ydoc_get(d, map, key);
	unsigned long long v;

	if (n == NULL)
		return ydoc_error(d, map, "missing '%s'", key);
	if (ydoc_uint(d, n, key, &v) < 0)
		return -1;
	if (v < (unsigned long long)lo || v > (unsigned long long)hi)
		return ydoc_error(d, n, "%s: expected a value from %d to %d", key, lo, hi);
	*out = (int)v;
	return 0;
}

static int load_entry(struct ydoc *d, yaml_node_t *map, struct cat_entry *e)
{
	yaml_node_t *closes;
	int rc = 0;

	if (ydoc_expect_map(d, map, "condition") < 0)
		return -1;
	rc |= ydoc_check_keys(d, map, entry_keys);
	rc |= ydoc_string(d, ydoc_get(d, map, "id") ? ydoc_get(d, map, "id") : map, "id", &e->id);
	rc |= load_protocol(d, map, e);
	rc |= load_optional_string(d, map, "stage", &e->stage);
	rc |= load_optional_string(d, map, "enhanced", &e->enhanced);
	rc |= load_optional_string(d, map, "text", &e->text);
	rc |= load_optional_string(d, map, "error_code", &e->error_code);
	rc |= load_optional_string(d, map, "message", &e->message);
	rc |= load_optional_string(d, map, "kind", &e->kind);
	rc |= load_optional_string(d, map, "trigger", &e->trigger);
	rc |= load_optional_string(d, map, "client_should", &e->client_should);
	rc |= load_optional_string(d, map, "remedy", &e->remedy);
	rc |= load_optional_string(d, map, "source", &e->source);
	closes = ydoc_get(d, map, "closes");
	if (closes != NULL)
		rc |= ydoc_bool(d, closes, "closes", &e->closes);
	if (rc == 0 && e->protocol == CAT_SMTP) {
		rc |= load_int(d, map, "code", 200, 599, &e->code);
		if (e->text == NULL)
			rc |= ydoc_error(d, map, "SMTP condition %s: missing 'text'", e->id);
	}
	if (rc == 0 && e->protocol == CAT_HTTPS)
		rc |= load_int(d, map, "status", 100, 599, &e->status);
	return rc ? -1 : 0;
}

static int check_unique(struct ydoc *d, struct catalog *c, yaml_node_t *seq)
{
	int rc = 0;

	for (size_t i = 0; i < c->n; i++)
		for (size_t j = 0; j < i; j++)
			if (c->entries[i].id && c->entries[j].id &&
			    strcmp(c->entries[i].id, c->entries[j].id) == 0)
				rc = ydoc_error(d, ydoc_seq_item(d, seq, i), "duplicate id '%s'",
				                c->entries[i].id);
	return rc;
}

int catalog_load(struct catalog *c, const char *file, const unsigned char *text, size_t len,
                 char **errors)
{
	static const char *const top_keys[] = {"profile", "conditions", NULL};
	struct ydoc d;
	yaml_node_t *root, *seq;
	int rc = 0;

	memset(c, 0, sizeof *c);
	*errors = NULL;
	if (ydoc_load(&d, file, text, len) < 0)
		goto fail;
	root = ydoc_root(&d);
	if (ydoc_expect_map(&d, root, "catalog") < 0 || ydoc_check_keys(&d, root, top_keys) < 0)
		goto fail;
	if (ydoc_get(&d, root, "profile") == NULL) {
		ydoc_error(&d, root, "missing 'profile' (the profile these conditions belong to)");
		goto fail;
	}
	if (ydoc_string(&d, ydoc_get(&d, root, "profile"), "profile", &c->profile) < 0)
		goto fail;
	seq = ydoc_get(&d, root, "conditions");
	if (!ydoc_is_seq(seq)) {
		ydoc_error(&d, seq ? seq : root, "conditions: expected a list of conditions");
		goto fail;
	}
	c->n = ydoc_seq_len(seq);
	c->entries = xcalloc(c->n, sizeof *c->entries);
	for (size_t i = 0; i < c->n; i++)
		rc |= load_entry(&d, ydoc_seq_item(&d, seq, i), &c->entries[i]);
	rc |= check_unique(&d, c, seq);
	if (rc != 0)
		goto fail;
	ydoc_free(&d);
	return 0;
fail:
	*errors = xstrdup(ydoc_errors(&d));
	ydoc_free(&d);
	catalog_free(c);
	return -1;
}

void catalog_free(struct catalog *c)
{
	for (size_t i = 0; i < c->n; i++)
		entry_free(&c->entries[i]);
	free(c->entries);
	free(c->profile);
	memset(c, 0, sizeof *c);
}

const struct cat_entry *catalog_find(const struct catalog *c, const char *id)
{
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->entries[i].id, id) == 0)
			return &c->entries[i];
	return NULL;
}

static const char *var_value(const struct cat_var *vars, size_t nvars, const char *name,
                             size_t namelen)
{
	for (size_t i = 0; i < nvars; i++)
		if (strlen(vars[i].name) == namelen && memcmp(vars[i].name, name, namelen) == 0)
			return vars[i].value ? vars[i].value : "";
	return NULL;
}

size_t catalog_fill(const char *tmpl, const struct cat_var *vars, size_t nvars, char *out,
                    size_t outlen)
{
	size_t o = 0;

	if (outlen == 0)
		return 0;
	for (const char *p = tmpl; *p != '\0';) {
		const char *close = (*p == '{') ? strchr(p + 1, '}') : NULL;
		const char *value =
		    close ? var_value(vars, nvars, p + 1, (size_t)(close - p - 1)) : NULL;
		if (value != NULL) {
			size_t vl = strlen(value);
			if (vl > outlen - 1 - o)
				vl = outlen - 1 - o;
			memcpy(out + o, value, vl);
			o += vl;
			p = close + 1;
		} else if (o < outlen - 1) {
			out[o++] = *p++;
		} else {
			break;
		}
	}
	out[o] = '\0';
	return o;
}

size_t catalog_smtp_line(const struct cat_entry *e, const struct cat_var *vars, size_t nvars,
                         char *out, size_t outlen)
{
	size_t elen = e->enhanced ? strlen(e->enhanced) : 0, n = 4 + (elen ? elen + 1 : 0);

	/* "code enhanced " written by hand: five replies a message, and
	 * snprintf cost more than the rest of the line */
	if (e->code >= 100 && e->code <= 999 && n < outlen) {
		out[0] = (char)('0' + e->code / 100);
		out[1] = (char)('0' + e->code / 10 % 10);
		out[2] = (char)('0' + e->code % 10);
		out[3] = ' ';
		if (elen > 0) {
			memcpy(out + 4, e->enhanced, elen);
			out[4 + elen] = ' ';
		}
	} else {
		int w = e->enhanced ? snprintf(out, outlen, "%03d %s ", e->code, e->enhanced)
		                    : snprintf(out, outlen, "%03d ", e->code);
		if (w < 0 || (size_t)w >= outlen)
			return 0;
		n = (size_t)w;
	}
	return n + catalog_fill(e->text, vars, nvars, out + n, outlen - n);
}
