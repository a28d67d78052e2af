/*
 * grade.h - grades one case run from its evidence (conformance/SCHEMA.md).
 *
 * The grader reconstructs the client's attempts from edsim's records
 * (transcripts for SMTP, events for HTTPS), then runs the checks that the
 * scenario's `expect` asks for, each with its expected and actual value,
 * its evidence and, on WARN or FAIL, the catalog row's remedy. It reads
 * nothing but the evidence document, so it can be tested on its own.
 */
#ifndef EDSIM_CONFORM_GRADE_H
#define EDSIM_CONFORM_GRADE_H

#include <jansson.h>

/* evidence: SCHEMA.md section 1. Returns the result (section 2), a new
 * reference. strict: WARN checks become FAIL. */
json_t *grade_case(const json_t *evidence, int strict);
/* A result for a case the client cannot take part in. */
json_t *grade_skipped(const json_t *case_info, const char *client, const char *reason);
/* Verdict order: SKIPPED < INFO < PASS < WARN < FAIL; -1 for an unknown name. */
int grade_rank(const char *verdict);

#endif
