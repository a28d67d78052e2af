/*
 * run_case.h - one case for one client: a fresh edsim serving the case's
 * scenario under its profile (its own process, free ports, its own state
 * directory), a unique message, the client run within the case's budget,
 * and the evidence (SCHEMA.md section 1) collected from edsim's control API.
 *
 * Everything a case leaves is in its directory OUT/cases/CLIENT/CASE:
 * edsim.yaml, state/, edsim.log, message.eml, client.log, evidence.json.
 * Every process started here is stopped before run_case() returns, even
 * when the client hangs (its whole process group is killed at the budget).
 */
#ifndef EDSIM_CONFORM_RUN_CASE_H
#define EDSIM_CONFORM_RUN_CASE_H

#include <jansson.h>

#include "cases.h"
#include "clients.h"

struct run_opts {
	const char *edsim;   /* the edsim binary */
	const char *out;     /* the report directory */
	const char *bin_dir; /* put first on the clients' PATH (refclient lives there) */
	double budget;       /* seconds a case may take */
};

/* Returns the evidence (new reference), or NULL with err set when the case
 * could not be set up (edsim did not start, ...). */
json_t *run_case(const struct run_opts *o, const struct conform_case *c,
                 const struct conform_client *cl, char *err, size_t errlen);

#endif
