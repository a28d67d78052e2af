/*
 * report_junit.c - junit.xml, for CI systems that show JUnit results.
 *
 * One <testsuite> per client (name = the client), one <testcase> per case
 * (classname = the client, name = the case id, time = the duration).
 * FAIL, and WARN with strict, become a <failure> whose text is every WARN
 * and FAIL check with its expected and actual value, evidence and remedy,
 * plus a <system-err> with the client's exit status and output; SKIPPED
 * becomes <skipped message="reason"/>; WARN without strict passes with a
 * <system-out> that lists the warnings, INFO with a reason ("condition not
 * exercised") passes with the reason as <system-out>. Errors are always 0: a case the
 * runner could not run is graded, not an error. conformance/junit.xsd is
 * the schema of exactly this subset; every text goes through
 * report_escape(), so the file is well-formed whatever the clients print.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"

struct junit_counts {
	size_t tests, failures, skipped;
	double time;
};

static double duration_of(const json_t *r)
{
	double d = report_num(r, "duration", 0);

	return (isfinite(d) && d > 0) ? d : 0;
}

static int is_client(const json_t *r, const char *client)
{
	const char *name = report_str(r, "client", NULL);

	return name && strcmp(name, client) == 0;
}

static void count_result(struct junit_counts *c, const json_t *r, int strict)
{
	const char *verdict = report_str(r, "verdict", NULL);

	c->tests++;
	c->time += duration_of(r);
	if (report_is_failure(verdict, strict))
		c->failures++;
	else if (verdict && strcmp(verdict, "SKIPPED") == 0)
		c->skipped++;
}

static void write_counts(FILE *f, const struct junit_counts *c)
{
	fprintf(f, " tests=\"%zu\" failures=\"%zu\" errors=\"0\" skipped=\"%zu\" time=\"%.3f\"",
	        c->tests, c->failures, c->skipped, c->time);
}

/* "  label: value\n" when the check has that string field. */
static void write_field(FILE *f, const json_t *check, const char *key)
{
	const char *v = report_str(check, key, NULL);

	if (v == NULL)
		return;
	fprintf(f, "  %s: ", key);
	report_escape(f, v, 0);
	fputc('\n', f);
}

/* One WARN or FAIL check as text: its verdict, id and title, expected and
 * actual value, each piece of evidence and the remedy. */
static void write_check(FILE *f, const json_t *check)
{
	size_t i;
	const json_t *e;

	fputc('[', f);
	report_escape(f, report_str(check, "verdict", "?"), 0);
	fputs("] ", f);
	report_escape(f, report_str(check, "id", "?"), 0);
	if (report_str(check, "title", NULL)) {
		fputs(" - ", f);
		report_escape(f, report_str(check, "title", NULL), 0);
	}
	fputc('\n', f);
	write_field(f, check, "expected");
	write_field(f, check, "actual");
	json_array_foreach(json_object_get(check, "evidence"), i, e)
	{
		fputs("  evidence: ", f);
		report_escape(f, json_string_value(e), 0);
		fputc('\n', f);
	}
	write_field(f, check, "remedy");
}

/* Every check at least as bad as WARN (strict or not: a FAIL result shows
 * its warnings too). */
static void write_bad_checks(FILE *f, const json_t *r)
{
	size_t i;
	const json_t *c;

	json_array_foreach(json_object_get(r, "checks"), i, c)
	{
		if (report_rank(report_str(c, "verdict", NULL), 0) >= 3)
			write_check(f, c);
	}
}

/* message="FAIL: id, id": the verdict and the ids of the failing checks. */
static void write_failure_message(FILE *f, const json_t *r, int strict)
{
	const char *sep = ": ";
	size_t i;
	const json_t *c;

	report_escape(f, report_str(r, "verdict", "FAIL"), 1);
	if (strict && strcmp(report_str(r, "verdict", ""), "WARN") == 0)
		fputs(" (strict)", f);
	json_array_foreach(json_object_get(r, "checks"), i, c)
	{
		if (!report_is_failure(report_str(c, "verdict", NULL), strict))
			continue;
		fputs(sep, f);
		report_escape(f, report_str(c, "id", "?"), 1);
		sep = ", ";
	}
}

static void write_client_output(FILE *f, const json_t *r)
{
	const json_t *cr = json_object_get(r, "client_result");

	fprintf(f, "      <system-err>client exit status %d, signal %d%s\n",
	        (int)report_num(cr, "exit_code", 0), (int)report_num(cr, "signal", 0),
	        json_is_true(json_object_get(cr, "timed_out")) ? ", timed out" : "");
	report_escape(f, report_str(cr, "output_excerpt", ""), 0);
	fputs("</system-err>\n", f);
}

static void write_failure(FILE *f, const json_t *r, int strict)
{
	fputs("      <failure message=\"", f);
	write_failure_message(f, r, strict);
	fputs("\" type=\"", f);
	report_escape(f, report_str(r, "verdict", "FAIL"), 1);
	fputs("\">", f);
	write_bad_checks(f, r);
	fputs("</failure>\n", f);
	write_client_output(f, r);
}

static void write_skipped(FILE *f, const json_t *r)
{
	fputs("      <skipped message=\"", f);
	report_escape(f, report_str(r, "reason", "skipped"), 1);
	fputs("\"/>\n", f);
}

static void write_warnings(FILE *f, const json_t *r)
{
	fputs("      <system-out>passed with warnings:\n", f);
	write_bad_checks(f, r);
	fputs("</system-out>\n", f);
}

static void write_testcase(FILE *f, const json_t *r, const char *client, int strict)
{
	const char *verdict = report_str(r, "verdict", "");

	fputs("    <testcase classname=\"", f);
	report_escape(f, client, 1);
	fputs("\" name=\"", f);
	report_escape(f, report_str(r, "case", "?"), 1);
	fprintf(f, "\" time=\"%.3f\"", duration_of(r));
	if (report_is_failure(verdict, strict)) {
		fputs(">\n", f);
		write_failure(f, r, strict);
	} else if (strcmp(verdict, "SKIPPED") == 0) {
		fputs(">\n", f);
		write_skipped(f, r);
	} else if (strcmp(verdict, "WARN") == 0) {
		fputs(">\n", f);
		write_warnings(f, r);
	} else if (strcmp(verdict, "INFO") == 0 && report_str(r, "reason", NULL) != NULL) {
		fputs(">\n      <system-out>", f);
		report_escape(f, report_str(r, "reason", ""), 0);
		fputs("</system-out>\n", f);
	} else {
		fputs("/>\n", f);
		return;
	}
	fputs("    </testcase>\n", f);
}

static void write_suite(FILE *f, const json_t *report, const char *client, int strict)
{
	const json_t *results = json_object_get(report, "results");
	struct junit_counts c = {0};
	size_t i;
	const json_t *r;

	json_array_foreach(results, i, r)
	{
		if (is_client(r, client))
			count_result(&c, r, strict);
	}
	fputs("  <testsuite name=\"", f);
	report_escape(f, client, 1);
	fputc('"', f);
	write_counts(f, &c);
	fputs(" timestamp=\"", f);
	report_escape(f, report_str(report, "generated", ""), 1);
	fputs("\">\n", f);
	json_array_foreach(results, i, r)
	{
		if (is_client(r, client))
			write_testcase(f, r, client, strict);
	}
	fputs("  </testsuite>\n", f);
}

static void write_document(FILE *f, const json_t *report)
{
	int strict = json_is_true(json_object_get(report, "strict"));
	json_t *clients = report_clients(report);
	struct junit_counts all = {0};
	size_t i;
	const json_t *v;

	json_array_foreach(json_object_get(report, "results"), i, v)
	{
		if (report_str(v, "client", NULL))
			count_result(&all, v, strict);
	}
	fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"edsim-conform ", f);
	report_escape(f, report_str(report, "suite", ""), 1);
	fputc('"', f);
	write_counts(f, &all);
	fputs(">\n", f);
	json_array_foreach(clients, i, v)
	{
		write_suite(f, report, json_string_value(v), strict);
	}
	fputs("</testsuites>\n", f);
	json_decref(clients);
}

int report_write_junit(const json_t *report, const char *path, char *err, size_t errlen)
{
	return report_render_file(report, write_document, path, err, errlen);
}
