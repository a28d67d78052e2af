/*
 * ydoc.c - libyaml document tree with typed getters and located errors.
 *
 * Invariant: every error message starts with the file name and the 1-based
 * line and column of the node it is about, as editors expect.
 */
#include "ydoc.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xmalloc.h"

static void errors_append(struct ydoc *d, size_t line, size_t col, const char *msg)
{
	int need = snprintf(NULL, 0, "%s:%zu:%zu: %s\n", d->file, line, col, msg);
	/* grows with a client's document (PUT /api/v1/scenario): when it cannot,
	 * the message is lost but the document is refused all the same */
	char *grown = realloc(d->errors, d->errors_len + (size_t)need + 1);

	if (grown == NULL)
		return;
	d->errors = grown;
	snprintf(d->errors + d->errors_len, (size_t)need + 1, "%s:%zu:%zu: %s\n", d->file, line,
	         col, msg);
	d->errors_len += (size_t)need;
	d->nerrors++;
}

int ydoc_load(struct ydoc *d, const char *file, const unsigned char *text, size_t len)
{
	yaml_parser_t parser;
	char msg[256];

	memset(d, 0, sizeof *d);
	d->file = file;
	if (!yaml_parser_initialize(&parser)) {
		errors_append(d, 1, 1, "cannot initialise the YAML parser");
		return -1;
	}
	yaml_parser_set_input_string(&parser, text, len);
	if (!yaml_parser_load(&parser, &d->doc)) {
		snprintf(msg, sizeof msg, "YAML syntax error: %s%s%s",
		         parser.problem ? parser.problem : "unknown", parser.context ? " " : "",
		         parser.context ? parser.context : "");
		errors_append(d, parser.problem_mark.line + 1, parser.problem_mark.column + 1, msg);
		yaml_parser_delete(&parser);
		return -1;
	}
	yaml_parser_delete(&parser);
	d->loaded = 1;
	if (yaml_document_get_root_node(&d->doc) == NULL) {
		errors_append(d, 1, 1, "expected a YAML mapping, found an empty document");
		return -1;
	}
	return 0;
}

void ydoc_free(struct ydoc *d)
{
	if (d->loaded)
		yaml_document_delete(&d->doc);
	free(d->errors);
	memset(d, 0, sizeof *d);
}

const char *ydoc_errors(const struct ydoc *d)
{
	return d->errors ? d->errors : "";
}

yaml_node_t *ydoc_root(struct ydoc *d)
{
	return d->loaded ? yaml_document_get_root_node(&d->doc) : NULL;
}

int ydoc_error(struct ydoc *d, const yaml_node_t *node, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (node != NULL)
		errors_append(d, node->start_mark.line + 1, node->start_mark.column + 1, msg);
	else
		errors_append(d, 1, 1, msg);
	return -1;
}

int ydoc_is_map(const yaml_node_t *n)
{
	return n != NULL && n->type == YAML_MAPPING_NODE;
}
int ydoc_is_seq(const yaml_node_t *n)
{
	return n != NULL && n->type == YAML_SEQUENCE_NODE;
}

int ydoc_is_null(const yaml_node_t *n)
{
	const char *s;

	if (n == NULL)
		return 1;
	if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return 0;
	s = (const char *)n->data.scalar.value;
	return strcmp(s, "") == 0 || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 ||
	       strcmp(s, "Null") == 0 || strcmp(s, "NULL") == 0;
}

const char *ydoc_scalar(const yaml_node_t *n)
{
	if (n == NULL || n->type != YAML_SCALAR_NODE)
		return NULL;
	return (const char *)n->data.scalar.value;
}

size_t ydoc_seq_len(const yaml_node_t *n)
{
	if (!ydoc_is_seq(n))
		return 0;
	return (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
}

yaml_node_t *ydoc_seq_item(struct ydoc *d, const yaml_node_t *seq, size_t i)
{
	if (i >= ydoc_seq_len(seq))
		return NULL;
	return yaml_document_get_node(&d->doc, seq->data.sequence.items.start[i]);
}

yaml_node_t *ydoc_get(struct ydoc *d, const yaml_node_t *map, const char *key)
{
	yaml_node_pair_t *p;

	if (!ydoc_is_map(map))
		return NULL;
	for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		const char *k = ydoc_scalar(yaml_document_get_node(&d->doc, p->key));
		if (k != NULL && strcmp(k, key) == 0)
			return yaml_document_get_node(&d->doc, p->value);
	}
	return NULL;
}

static int key_allowed(const char *key, const char *const *allowed)
{
	for (; *allowed != NULL; allowed++)
		if (strcmp(*allowed, key) == 0)
			return 1;
	return 0;
}

static void list_keys(const char *const *allowed, char *out, size_t outlen)
{
	size_t used = 0;

	out[0] = '\0';
	for (; *allowed != NULL && used < outlen; allowed++)
		used +=
		    (size_t)snprintf(out + used, outlen - used, "%s%s", used ? ", " : "", *allowed);
}

int ydoc_check_keys(struct ydoc *d, const yaml_node_t *map, const char *const *allowed)
{
	yaml_node_pair_t *p;
	char keys[400];
	int rc = 0;

	if (!ydoc_is_map(map))
		return 0;
	for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *kn = yaml_document_get_node(&d->doc, p->key);
		const char *k = ydoc_scalar(kn);
		if (k != NULL && key_allowed(k, allowed))
			continue;
		list_keys(allowed, keys, sizeof keys);
		rc = ydoc_error(d, kn, "unknown key '%s': expected one of %s", k ? k : "?", keys);
	}
	return rc;
}

int ydoc_expect_map(struct ydoc *d, const yaml_node_t *n, const char *what)
{
	if (ydoc_is_map(n))
		return 0;
	return ydoc_error(d, n, "%s: expected a mapping", what);
}

int ydoc_string(struct ydoc *d, const yaml_node_t *n, const char *what, char **out)
{
	const char *s = ydoc_scalar(n);

	if (s == NULL || ydoc_is_null(n))
		return ydoc_error(d, n, "%s: expected a string", what);
	free(*out);
	*out = xstrdup(s);
	return 0;
}

int ydoc_string_or_null(struct ydoc *d, const yaml_node_t *n, const char *what, char **out)
{
	if (ydoc_is_null(n)) {
		free(*out);
		*out = NULL;
		return 0;
	}
	return ydoc_string(d, n, what, out);
}

int ydoc_uint(struct ydoc *d, const yaml_node_t *n, const char *what, unsigned long long *out)
{
	const char *s = ydoc_scalar(n);
	char *end;
	unsigned long long v;

	if (s == NULL || *s == '\0' || *s == '-' || *s == '+')
		return ydoc_error(d, n, "%s: expected a non-negative integer", what);
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return ydoc_error(d, n, "%s: expected a non-negative integer, found '%s'", what, s);
	*out = v;
	return 0;
}

int ydoc_bool(struct ydoc *d, const yaml_node_t *n, const char *what, int *out)
{
	const char *s = ydoc_scalar(n);

	if (s != NULL &&
	    (strcmp(s, "true") == 0 || strcmp(s, "yes") == 0 || strcmp(s, "on") == 0)) {
		*out = 1;
		return 0;
	}
	if (s != NULL &&
	    (strcmp(s, "false") == 0 || strcmp(s, "no") == 0 || strcmp(s, "off") == 0)) {
		*out = 0;
		return 0;
	}
	return ydoc_error(d, n, "%s: expected true or false", what);
}

int parse_duration(const char *text, double *secs)
{
	char *end;
	double v;

	if (text == NULL || !(isdigit((unsigned char)*text) || *text == '.'))
		return -1;
	errno = 0;
	v = strtod(text, &end);
	if (errno != 0 || end == text)
		return -1;
	if (strcmp(end, "") == 0 || strcmp(end, "s") == 0)
		*secs = v;
	else if (strcmp(end, "ms") == 0)
		*secs = v / 1000.0;
	else if (strcmp(end, "m") == 0)
		*secs = v * 60.0;
	else if (strcmp(end, "h") == 0)
		*secs = v * 3600.0;
	else if (strcmp(end, "d") == 0)
		*secs = v * 86400.0;
	else
		return -1;
	return 0;
}

int ydoc_duration(struct ydoc *d, const yaml_node_t *n, const char *what, double *secs)
{
	const char *s = ydoc_scalar(n);

	if (parse_duration(s, secs) == 0)
		return 0;
	return ydoc_error(d, n,
	                  "%s: expected a duration such as 500ms, 60s, 10m, 1h or 3d, found '%s'",
	                  what, s ? s : "a collection");
}

int ydoc_choice(struct ydoc *d, const yaml_node_t *n, const char *setting, const char *const *names,
                int *out)
{
	const char *s = ydoc_scalar(n);
	char msg[256];
	size_t len, count = 0;

	for (int i = 0; names[i] != NULL; i++, count++)
		if (s != NULL && strcmp(s, names[i]) == 0) {
			*out = i;
			return 0;
		}
	len = (size_t)snprintf(msg, sizeof msg, "%s: expected", setting);
	for (size_t i = 0; i < count && len < sizeof msg; i++)
		len += (size_t)snprintf(msg + len, sizeof msg - len, "%s%s",
		                        i == 0           ? " "
		                        : i + 1 == count ? " or "
		                                         : ", ",
		                        names[i]);
	return ydoc_error(d, n, "%s", msg);
}

int ydoc_string_list(struct ydoc *d, const yaml_node_t *n, const char *what, char ***out,
                     size_t *nout)
{
	size_t len = ydoc_seq_len(n);
	int rc = 0;

	if (!ydoc_is_seq(n))
		return ydoc_error(d, n, "%s: expected a list of strings", what);
	strings_free(*out, *nout);
	*out = xcalloc(len, sizeof **out);
	*nout = len;
	for (size_t i = 0; i < len; i++)
		rc |= ydoc_string(d, ydoc_seq_item(d, n, i), what, &(*out)[i]);
	return rc;
}

int ydoc_number(struct ydoc *d, const yaml_node_t *n, const char *what, double min, double max,
                double *out)
{
	const char *s = ydoc_scalar(n);
	char *end = NULL;
	double v = s ? strtod(s, &end) : 0;

	if (s == NULL || end == s || *end != '\0' || !(v >= min && v <= max)) /* NaN too */
		return ydoc_error(d, n, "%s: expected a number from %g to %g", what, min, max);
	*out = v;
	return 0;
}
