/*
 * cases.h - the cases of a suite: every scenario file under a directory.
 *
 * A case is one scenario; its id is the scenario's name (the catalog id,
 * with a suffix for composites), its protocol is https when a rule hooks an
 * HTTPS stage or its name says so (oci.https.*, ses.v2.*, ses.v1.*), else
 * smtp; its profile is the scenario's (`profile:`), whose catalog it is
 * checked against and whose edsim serves it. The case's description for the grader
 * (SCHEMA.md section 1, "case") is built here from the scenario and the catalog, with the
 * credentials and sender a client must use when the scenario's own settings configure users.
 */
#ifndef EDSIM_CONFORM_CASES_H
#define EDSIM_CONFORM_CASES_H

#include <jansson.h>
#include <stddef.h>

#include "scenario.h"

struct catalog;

struct conform_case {
	char *id, *title, *file;
	char *profile; /* the scenario's profile ("ses"), or NULL: the default */
	int https;
	json_t *info;          /* SCHEMA.md section 1 "case" */
	char *user, *password; /* from the scenario's settings, or NULL (the runner's own) */
	char *sender;          /* an approved sender of that user, or NULL */
	/* SES: the access key the clients sign with (user is its id, password
	 * its SMTP password), and the account's region */
	char *secret, *region;
};

/* Loads every *.yaml under dir (sorted by path), each against the catalog of
 * the profile it names (catalog_for, arg: see scenario.h). On failure
 * returns -1 with every problem in *errors ("file:line:col: message"). */
int cases_load(const char *dir, scenario_catalog_fn catalog_for, void *arg,
               struct conform_case **out, size_t *n, char **errors);
void cases_free(struct conform_case *cases, size_t n);

#endif
