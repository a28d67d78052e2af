/*
 * report.h - the conformance reports: report.json, junit.xml, report.html.
 *
 * Input is the results of every case and client (conformance/SCHEMA.md,
 * section 2); report_build() assembles report.json's document (summary per
 * client, baseline comparison) and the writers render that one document, so
 * the three files always agree. The HTML file is self-contained: inline
 * CSS and SVG, no script from elsewhere, no network.
 */
#ifndef EDSIM_CONFORM_REPORT_H
#define EDSIM_CONFORM_REPORT_H

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

struct report_meta {
	const char *suite;         /* e.g. "scenarios/oci" */
	const char *edsim_version; /* e.g. "edsim 0.1.0" */
	int strict;                /* WARN counts as FAIL */
	const char *baseline_file; /* NULL without --baseline */
};

/* cases: [{id, title, catalog_rows, protocol}], clients: ["name", ...],
 * results: [result, ...], baseline: a previous report.json or NULL.
 * Returns the report.json document (new reference). */
json_t *report_build(const struct report_meta *m, json_t *cases, json_t *clients, json_t *results,
                     const json_t *baseline);
/* Cases that got worse than the baseline (report["baseline"]["worse"]), or
 * with no baseline, the number of FAIL results (WARN too with strict). */
size_t report_failures(const json_t *report);
int report_write_json(const json_t *report, const char *path, char *err, size_t errlen);
int report_write_junit(const json_t *report, const char *path, char *err, size_t errlen);
int report_write_html(const json_t *report, const char *path, char *err, size_t errlen);

/* Helpers shared by the three writers (conformance/report.c). */

/* Verdict order, best to worst: SKIPPED 0, INFO 1, PASS 2, WARN 3, FAIL 4;
 * with strict, WARN ranks as FAIL. -1 for NULL or an unknown name. */
int report_rank(const char *verdict, int strict);
/* The verdict fails the run: FAIL, or WARN with strict. */
int report_is_failure(const char *verdict, int strict);
/* obj[key] as a string (dflt when absent, null or not a string), as a
 * number (dflt when not a number). */
const char *report_str(const json_t *obj, const char *key, const char *dflt);
double report_num(const json_t *obj, const char *key, double dflt);
/* The result of case_id and client in an array of results, or NULL. */
const json_t *report_find_result(const json_t *results, const char *case_id, const char *client);
/* report["clients"], then any other client a result names (new reference). */
json_t *report_clients(const json_t *report);
/* True when the array a holds the string s. */
int report_has_string(const json_t *a, const char *s);
/* Writes s escaped for XML and HTML: & < > " ' as references, control
 * characters that XML forbids as U+FFFD. attr: also tab, CR and LF as
 * references, so that an attribute value keeps them. */
void report_escape(FILE *f, const char *s, int attr);
/* Renders the report into memory with render(), then writes the file with
 * report_write_file(). 0, or -1 with err filled. */
int report_render_file(const json_t *report, void (*render)(FILE *, const json_t *),
                       const char *path, char *err, size_t errlen);
/* Writes buf to path.tmp, syncs it and renames it over path, so a reader
 * never sees half a report. 0, or -1 with err filled. */
int report_write_file(const char *path, const char *buf, size_t len, char *err, size_t errlen);

#endif
