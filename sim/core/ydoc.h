/*
 * ydoc.h - typed access to a YAML document with precise error locations.
 *
 * The configuration, the catalog and (later) scenarios are YAML. All of them
 * are loaded into a libyaml document tree and read through these helpers, so
 * that every error names "file:line:column: what was expected" the same way.
 * Errors accumulate in the ydoc (ydoc_errors()); each helper returns -1 after
 * recording one, so a caller may stop at the first or carry on and report all.
 */
#ifndef EDSIM_YDOC_H
#define EDSIM_YDOC_H

#include <stddef.h>
#include <yaml.h>

struct ydoc {
	yaml_document_t doc;
	int loaded;
	const char *file;
	char *errors; /* "file:line:col: message\n" lines */
	size_t errors_len;
	int nerrors;
};

int ydoc_load(struct ydoc *d, const char *file, const unsigned char *text, size_t len);
void ydoc_free(struct ydoc *d);
const char *ydoc_errors(const struct ydoc *d);

yaml_node_t *ydoc_root(struct ydoc *d);
int ydoc_error(struct ydoc *d, const yaml_node_t *node, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

int ydoc_is_map(const yaml_node_t *n);
int ydoc_is_seq(const yaml_node_t *n);
int ydoc_is_null(const yaml_node_t *n);
const char *ydoc_scalar(const yaml_node_t *n);
size_t ydoc_seq_len(const yaml_node_t *n);
yaml_node_t *ydoc_seq_item(struct ydoc *d, const yaml_node_t *seq, size_t i);

/* Value of key in a mapping, or NULL. */
yaml_node_t *ydoc_get(struct ydoc *d, const yaml_node_t *map, const char *key);
/* Records an error for every key of map not in the NULL-terminated list. */
int ydoc_check_keys(struct ydoc *d, const yaml_node_t *map, const char *const *allowed);

int ydoc_expect_map(struct ydoc *d, const yaml_node_t *n, const char *what);
int ydoc_string(struct ydoc *d, const yaml_node_t *n, const char *what, char **out);
int ydoc_string_or_null(struct ydoc *d, const yaml_node_t *n, const char *what, char **out);
int ydoc_uint(struct ydoc *d, const yaml_node_t *n, const char *what, unsigned long long *out);
int ydoc_bool(struct ydoc *d, const yaml_node_t *n, const char *what, int *out);
/* "500ms", "60s", "10m", "1h", "3d" or a bare number of seconds. */
int ydoc_duration(struct ydoc *d, const yaml_node_t *n, const char *what, double *secs);
int parse_duration(const char *text, double *secs);
/* A scalar that must be one of names (NULL-terminated): its index in *out.
 * The error names the setting: "relay.tls: expected none, may or encrypt". */
int ydoc_choice(struct ydoc *d, const yaml_node_t *n, const char *setting, const char *const *names,
                int *out);
/* A list of strings, replacing *out (freed with strings_free). */
int ydoc_string_list(struct ydoc *d, const yaml_node_t *n, const char *what, char ***out,
                     size_t *nout);
/* A number (integer or decimal) from min to max. */
int ydoc_number(struct ydoc *d, const yaml_node_t *n, const char *what, double min, double max,
                double *out);

#endif
