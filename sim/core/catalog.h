/*
 * catalog.h - the documented conditions of a provider, as data.
 *
 * The catalog (scenarios/catalog/<profile>.yaml, embedded at build time) is the
 * only place where reply texts live. Each entry has a stable id such as
 * "oci.smtp.need-rcpt"; templates carry {name} placeholders that are filled at
 * reply time. The catalog is loaded once at start and never changes after.
 */
#ifndef EDSIM_CATALOG_H
#define EDSIM_CATALOG_H

#include <stddef.h>

enum cat_protocol { CAT_SMTP, CAT_HTTPS };

struct cat_entry {
	char *id;
	enum cat_protocol protocol;
	char *stage;
	int code;       /* SMTP reply code */
	char *enhanced; /* "4.7.1" or NULL */
	char *text;     /* SMTP text template */
	int status;     /* HTTP status */
	char *error_code;
	char *message; /* HTTP message template */
	char *kind;    /* transient | permanent | success */
	int closes;    /* the server closes the connection after this reply */
	char *trigger;
	char *client_should;
	char *remedy;
	char *source; /* documented | inferred */
};

struct catalog {
	char *profile; /* the profile whose conditions these are: "oci" */
	struct cat_entry *entries;
	size_t n;
};

struct cat_var {
	const char *name;
	const char *value;
};

/* Parses catalog YAML; on failure returns -1 and *errors (malloc'ed) says where. */
int catalog_load(struct catalog *c, const char *file, const unsigned char *text, size_t len,
                 char **errors);
void catalog_free(struct catalog *c);
const struct cat_entry *catalog_find(const struct catalog *c, const char *id);

/* Copies tmpl to out, replacing {name} by the value of the matching var.
 * Unknown placeholders are kept as written. Returns the length written. */
size_t catalog_fill(const char *tmpl, const struct cat_var *vars, size_t nvars, char *out,
                    size_t outlen);
/* "code enhanced text" (no CRLF) for an SMTP entry. */
size_t catalog_smtp_line(const struct cat_entry *e, const struct cat_var *vars, size_t nvars,
                         char *out, size_t outlen);

#endif
