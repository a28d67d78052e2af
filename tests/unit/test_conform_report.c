/*
 * test_conform_report.c - the conformance reports (conformance/report*.c):
 * report.json's summary and baseline comparison, report_failures(), and
 * what junit.xml and report.html hold.
 *
 * The data is tests/fixtures/conform/: cases.json (6 cases),
 * results-two-clients.json (12 results of refclient-good and swaks, every
 * verdict, a transcript line with "<script>") and baseline.json (a previous
 * report.json: some results improved, some the same, one worse, some new).
 * Paths are relative to the repository root, where the unit tests run.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "report.h"
#include "unit.h"

#define FIXTURES "tests/fixtures/conform/"

static json_t *load(const char *path)
{
	json_error_t e;
	json_t *j = json_load_file(path, 0, &e);

	if (j == NULL)
		fprintf(stderr, "%s:%d: %s\n", path, e.line, e.text);
	return j;
}

/* The report of the fixtures; with_baseline: compared with baseline.json. */
static json_t *build(int strict, int with_baseline)
{
	struct report_meta m = {"scenarios/oci", "edsim 0.1.0", strict,
	                        with_baseline ? "baseline.json" : NULL};
	json_t *cases = load(FIXTURES "cases.json");
	json_t *results = load(FIXTURES "results-two-clients.json");
	json_t *baseline = with_baseline ? load(FIXTURES "baseline.json") : NULL;
	json_t *report = NULL;

	if (cases && results && (baseline || !with_baseline))
		report = report_build(&m, cases, NULL, results, baseline);
	json_decref(cases);
	json_decref(results);
	json_decref(baseline);
	return report;
}

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0, len = strlen(needle);

	for (const char *p = strstr(hay, needle); p; p = strstr(p + len, needle))
		n++;
	return n;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t len = 0;
	long size;

	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (buf = malloc((size_t)size + 1)) != NULL) {
		len = fread(buf, 1, (size_t)size, f);
		buf[len] = '\0';
	}
	fclose(f);
	return buf;
}

typedef int (*writer_fn)(const json_t *, const char *, char *, size_t);

/* Writes the report with w into a temporary directory and returns the file's text. */
static char *render(const json_t *report, writer_fn w, const char *name)
{
	char dir[] = "/tmp/edsim-unit-report.XXXXXX", path[128], err[256] = "";
	char *text = NULL;

	if (mkdtemp(dir) == NULL)
		return NULL;
	snprintf(path, sizeof path, "%s/%s", dir, name);
	if (w(report, path, err, sizeof err) == 0)
		text = slurp(path);
	else
		fprintf(stderr, "%s\n", err);
	unlink(path);
	rmdir(dir);
	return text;
}

static json_int_t summary_of(const json_t *report, const char *client, const char *verdict)
{
	const json_t *counts = json_object_get(json_object_get(report, "summary"), client);
	const json_t *n = json_object_get(counts, verdict);

	return json_is_integer(n) ? json_integer_value(n) : -1;
}

static void test_rank(void)
{
	CU_ASSERT_EQUAL(report_rank("SKIPPED", 0), 0);
	CU_ASSERT_EQUAL(report_rank("INFO", 0), 1);
	CU_ASSERT_EQUAL(report_rank("PASS", 0), 2);
	CU_ASSERT_EQUAL(report_rank("WARN", 0), 3);
	CU_ASSERT_EQUAL(report_rank("FAIL", 0), 4);
	CU_ASSERT_EQUAL(report_rank("WARN", 1), 4);
	CU_ASSERT_EQUAL(report_rank("PASS", 1), 2);
	CU_ASSERT_EQUAL(report_rank("pass", 0), -1);
	CU_ASSERT_EQUAL(report_rank(NULL, 0), -1);
	CU_ASSERT(report_is_failure("FAIL", 0));
	CU_ASSERT(!report_is_failure("WARN", 0));
	CU_ASSERT(report_is_failure("WARN", 1));
	CU_ASSERT(!report_is_failure("SKIPPED", 1));
}

static void escaped(const char *in, int attr, const char *want)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	report_escape(f, in, attr);
	fclose(f);
	CU_ASSERT_STRING_EQUAL(buf, want);
	free(buf);
}

static void test_escape(void)
{
	escaped("a<b>&\"'c", 0, "a&lt;b&gt;&amp;&quot;&#39;c");
	escaped("x\ty\r\nz", 0, "x\ty\r\nz");
	escaped("x\ty\r\nz", 1, "x&#9;y&#13;&#10;z");
	escaped("\x01\x1b[31m", 0, "\xEF\xBF\xBD\xEF\xBF\xBD[31m");
	escaped("\xEF\xBF\xBF \xC3\xA9", 0, "\xEF\xBF\xBD \xC3\xA9");
	escaped(NULL, 0, "");
}

static void test_document(void)
{
	json_t *r = build(0, 0);
	const char *generated;

	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_STRING_EQUAL(report_str(r, "schema", ""), "edsim-conform/1");
	CU_ASSERT_STRING_EQUAL(report_str(r, "suite", ""), "scenarios/oci");
	CU_ASSERT_STRING_EQUAL(report_str(r, "edsim_version", ""), "edsim 0.1.0");
	CU_ASSERT(json_is_false(json_object_get(r, "strict")));
	generated = report_str(r, "generated", "");
	CU_ASSERT(strlen(generated) == 20 && generated[10] == 'T' && generated[19] == 'Z');
	CU_ASSERT_EQUAL(json_array_size(json_object_get(r, "cases")), 6);
	CU_ASSERT_EQUAL(json_array_size(json_object_get(r, "results")), 12);
	/* clients come from the results, in order of first appearance */
	CU_ASSERT_EQUAL(json_array_size(json_object_get(r, "clients")), 2);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_array_get(json_object_get(r, "clients"), 0)),
	                       "refclient-good");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_array_get(json_object_get(r, "clients"), 1)),
	                       "swaks");
	CU_ASSERT_PTR_NULL(json_object_get(r, "baseline"));
	json_decref(r);
}

static void test_summary(void)
{
	json_t *r = build(0, 0);

	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_EQUAL(json_object_size(json_object_get(r, "summary")), 2);
	CU_ASSERT_EQUAL(summary_of(r, "refclient-good", "PASS"), 5);
	CU_ASSERT_EQUAL(summary_of(r, "refclient-good", "WARN"), 0);
	CU_ASSERT_EQUAL(summary_of(r, "refclient-good", "FAIL"), 0);
	CU_ASSERT_EQUAL(summary_of(r, "refclient-good", "INFO"), 1);
	CU_ASSERT_EQUAL(summary_of(r, "refclient-good", "SKIPPED"), 0);
	CU_ASSERT_EQUAL(summary_of(r, "swaks", "PASS"), 1);
	CU_ASSERT_EQUAL(summary_of(r, "swaks", "WARN"), 1);
	CU_ASSERT_EQUAL(summary_of(r, "swaks", "FAIL"), 2);
	CU_ASSERT_EQUAL(summary_of(r, "swaks", "INFO"), 1);
	CU_ASSERT_EQUAL(summary_of(r, "swaks", "SKIPPED"), 1);
	json_decref(r);
}

/* A clients list given is kept, even for a client with no result yet. */
static void test_summary_listed_clients(void)
{
	struct report_meta m = {0};
	json_t *clients = json_pack("[s, s]", "swaks", "curl");
	json_t *results =
	    json_pack("[{s:s, s:s, s:s}]", "case", "c1", "client", "swaks", "verdict", "PASS");
	json_t *r = report_build(&m, NULL, clients, results, NULL);

	CU_ASSERT_EQUAL(json_array_size(json_object_get(r, "clients")), 2);
	CU_ASSERT_EQUAL(summary_of(r, "swaks", "PASS"), 1);
	CU_ASSERT_EQUAL(summary_of(r, "curl", "PASS"), 0);
	/* with no cases given, they come from the results */
	CU_ASSERT_STRING_EQUAL(report_str(json_array_get(json_object_get(r, "cases"), 0), "id", ""),
	                       "c1");
	json_decref(r);
	json_decref(clients);
	json_decref(results);
}

/* worse[i] is {case, client, was, now}; was NULL for a new result. */
static int is_worse_entry(const json_t *w, const char *kase, const char *client, const char *was,
                          const char *now)
{
	const json_t *was_v = json_object_get(w, "was");

	return strcmp(report_str(w, "case", ""), kase) == 0 &&
	       strcmp(report_str(w, "client", ""), client) == 0 &&
	       (was ? strcmp(report_str(w, "was", ""), was) == 0 : json_is_null(was_v)) &&
	       strcmp(report_str(w, "now", ""), now) == 0;
}

static void test_baseline_worse(void)
{
	json_t *r = build(0, 1);
	const json_t *baseline, *worse;

	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	baseline = json_object_get(r, "baseline");
	CU_ASSERT_STRING_EQUAL(report_str(baseline, "file", ""), "baseline.json");
	worse = json_object_get(baseline, "worse");
	/* improved (WARN->PASS, FAIL->PASS, PASS->INFO), the same (PASS, FAIL,
	 * SKIPPED) and new results that do not fail are left out */
	CU_ASSERT_EQUAL_FATAL(json_array_size(worse), 2);
	CU_ASSERT(is_worse_entry(json_array_get(worse, 0), "oci.smtp.throttled", "swaks", "PASS",
	                         "WARN"));
	CU_ASSERT(is_worse_entry(json_array_get(worse, 1), "oci.smtp.connection-drop", "swaks",
	                         NULL, "FAIL"));
	CU_ASSERT_EQUAL(report_failures(r), 2);
	json_decref(r);
}

/* Four results against a baseline: WARN->FAIL, new WARN, PASS->WARN, FAIL->WARN. */
static json_t *build_strict_case(int strict)
{
	struct report_meta m = {.strict = strict, .baseline_file = "b.json"};
	json_t *results = json_pack(
	    "[{s:s,s:s,s:s}, {s:s,s:s,s:s}, {s:s,s:s,s:s}, {s:s,s:s,s:s}]", "case", "a", "client",
	    "x", "verdict", "FAIL", "case", "b", "client", "x", "verdict", "WARN", "case", "c",
	    "client", "x", "verdict", "WARN", "case", "d", "client", "x", "verdict", "WARN");
	json_t *baseline =
	    json_pack("{s:[{s:s,s:s,s:s}, {s:s,s:s,s:s}, {s:s,s:s,s:s}]}", "results", "case", "a",
	              "client", "x", "verdict", "WARN", "case", "c", "client", "x", "verdict",
	              "PASS", "case", "d", "client", "x", "verdict", "FAIL");
	json_t *r = report_build(&m, NULL, NULL, results, baseline);

	json_decref(results);
	json_decref(baseline);
	return r;
}

static void test_baseline_strict(void)
{
	json_t *r = build_strict_case(0);
	const json_t *worse = json_object_get(json_object_get(r, "baseline"), "worse");

	CU_ASSERT_EQUAL_FATAL(json_array_size(worse), 2);
	CU_ASSERT(is_worse_entry(json_array_get(worse, 0), "a", "x", "WARN", "FAIL"));
	CU_ASSERT(is_worse_entry(json_array_get(worse, 1), "c", "x", "PASS", "WARN"));
	CU_ASSERT_EQUAL(report_failures(r), 2);
	json_decref(r);

	/* strict: WARN is FAIL, so WARN->FAIL and FAIL->WARN are the same,
	 * and a new WARN fails */
	r = build_strict_case(1);
	worse = json_object_get(json_object_get(r, "baseline"), "worse");
	CU_ASSERT_EQUAL_FATAL(json_array_size(worse), 2);
	CU_ASSERT(is_worse_entry(json_array_get(worse, 0), "b", "x", NULL, "WARN"));
	CU_ASSERT(is_worse_entry(json_array_get(worse, 1), "c", "x", "PASS", "WARN"));
	CU_ASSERT_EQUAL(report_failures(r), 2);
	json_decref(r);
}

static void test_failures(void)
{
	json_t *r = build(0, 0);

	CU_ASSERT_EQUAL(report_failures(r), 2); /* the two FAILs */
	json_decref(r);
	r = build(1, 0);
	CU_ASSERT(json_is_true(json_object_get(r, "strict")));
	CU_ASSERT_EQUAL(report_failures(r), 3); /* and the WARN */
	json_decref(r);
	r = build(1, 1);
	CU_ASSERT_EQUAL(report_failures(r), 2); /* worse than the baseline only */
	json_decref(r);
}

static void test_json_file(void)
{
	json_t *r = build(0, 1);
	char *text = render(r, report_write_json, "report.json");
	json_t *back;

	CU_ASSERT_PTR_NOT_NULL_FATAL(text);
	/* the keys in the order of SCHEMA.md section 3 */
	CU_ASSERT_EQUAL(
	    strncmp(text, "{\n  \"schema\": \"edsim-conform/1\",\n  \"generated\": ", 47), 0);
	CU_ASSERT(strstr(text, "\"suite\"") < strstr(text, "\"strict\""));
	CU_ASSERT(strstr(text, "\"results\"") < strstr(text, "\"summary\""));
	CU_ASSERT(strstr(text, "\"summary\"") < strstr(text, "\"baseline\""));
	CU_ASSERT_EQUAL(text[strlen(text) - 1], '\n');
	back = json_loads(text, 0, NULL);
	CU_ASSERT(json_equal(back, r));
	json_decref(back);
	free(text);
	json_decref(r);
}

static void test_junit_counts(void)
{
	json_t *r = build(0, 0);
	char *x = render(r, report_write_junit, "junit.xml");

	CU_ASSERT_PTR_NOT_NULL_FATAL(x);
	CU_ASSERT_EQUAL(strncmp(x, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", 39), 0);
	CU_ASSERT_PTR_NOT_NULL(
	    strstr(x, "<testsuites name=\"edsim-conform scenarios/oci\" tests=\"12\" "
	              "failures=\"2\" errors=\"0\" skipped=\"1\" time=\"74.500\">"));
	CU_ASSERT_PTR_NOT_NULL(
	    strstr(x, "<testsuite name=\"refclient-good\" tests=\"6\" failures=\"0\" "
	              "errors=\"0\" skipped=\"0\" time=\"11.000\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(x, "<testsuite name=\"swaks\" tests=\"6\" failures=\"2\" "
	                                 "errors=\"0\" skipped=\"1\" time=\"63.500\""));
	CU_ASSERT_EQUAL(count(x, "<testsuite "), 2);
	CU_ASSERT_EQUAL(count(x, "<testcase "), 12);
	CU_ASSERT_EQUAL(count(x, "<failure "), 2);
	CU_ASSERT_EQUAL(count(x, "<skipped "), 1);
	CU_ASSERT_EQUAL(count(x, "<system-out>"), 1);
	CU_ASSERT_EQUAL(count(x, "<system-err>"), 2);
	CU_ASSERT_PTR_NOT_NULL(
	    strstr(x, "<testcase classname=\"swaks\" name=\"oci.smtp.server-error\" "
	              "time=\"0.400\">\n      <failure message=\"FAIL: "
	              "delivered-once, retried\" type=\"FAIL\">"));
	CU_ASSERT_PTR_NOT_NULL(strstr(x, "  expected: at least 2 attempts\n  actual: 1\n"
	                                 "  evidence: attempt 1 at 0.20 s: 451 Server error\n"
	                                 "  remedy: Treat 4xx replies as transient"));
	CU_ASSERT_PTR_NOT_NULL(strstr(x, "<skipped message=\"swaks speaks SMTP only; this is an "
	                                 "HTTPS case\"/>"));
	CU_ASSERT_PTR_NOT_NULL(strstr(x, "<system-out>passed with warnings:\n[WARN] backoff"));
	free(x);
	json_decref(r);
}

static void test_junit_strict(void)
{
	json_t *r = build(1, 0);
	char *x = render(r, report_write_junit, "junit.xml");

	CU_ASSERT_PTR_NOT_NULL_FATAL(x);
	CU_ASSERT_PTR_NOT_NULL(strstr(x, "<testsuite name=\"swaks\" tests=\"6\" failures=\"3\" "
	                                 "errors=\"0\" skipped=\"1\""));
	CU_ASSERT_EQUAL(count(x, "<failure "), 3);
	CU_ASSERT_EQUAL(count(x, "<system-out>"), 0);
	CU_ASSERT_PTR_NOT_NULL(
	    strstr(x, "<failure message=\"WARN (strict): backoff\" type=\"WARN\">"));
	free(x);
	json_decref(r);
}

static void test_junit_escaping(void)
{
	struct report_meta m = {.suite = "a&b"};
	json_t *results = json_pack(
	    "[{s:s, s:s, s:s, s:s, s:f}, {s:s, s:s, s:s, s:[{s:s, s:s, s:s, s:s}], s:{s:s}}]",
	    "case", "c\"<1>", "client", "cl&i", "verdict", "SKIPPED", "reason", "no\nway \x01",
	    "duration", 1.5, "case", "c2", "client", "cl&i", "verdict", "FAIL", "checks", "id",
	    "x<y", "verdict", "FAIL", "actual", "</failure>", "expected", "a & b", "client_result",
	    "output_excerpt", "]]> <b>bold</b>");
	json_t *r = report_build(&m, NULL, NULL, results, NULL);
	char *x = render(r, report_write_junit, "junit.xml");

	CU_ASSERT_PTR_NOT_NULL_FATAL(x);
	CU_ASSERT_PTR_NOT_NULL(strstr(x, "<testsuites name=\"edsim-conform a&amp;b\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(x, "<testsuite name=\"cl&amp;i\" tests=\"2\" failures=\"1\" "
	                                 "errors=\"0\" skipped=\"1\" time=\"1.500\""));
	CU_ASSERT_PTR_NOT_NULL(
	    strstr(x, "<testcase classname=\"cl&amp;i\" name=\"c&quot;&lt;1&gt;\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(x, "<skipped message=\"no&#10;way \xEF\xBF\xBD\"/>"));
	CU_ASSERT_PTR_NOT_NULL(strstr(x, "<failure message=\"FAIL: x&lt;y\" type=\"FAIL\">"));
	CU_ASSERT_PTR_NOT_NULL(strstr(x, "  expected: a &amp; b\n  actual: &lt;/failure&gt;\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(x, "]]&gt; &lt;b&gt;bold&lt;/b&gt;"));
	CU_ASSERT_EQUAL(count(x, "</failure>"), 1);
	free(x);
	json_decref(r);
	json_decref(results);
}

/* The text between "<svg" and "</svg>" of the result section with anchor id,
 * as a new string, or NULL when that section has no timeline. */
static char *timeline_of(const char *html, const char *id)
{
	const char *sec = strstr(html, id), *next, *svg, *end;

	if (sec == NULL)
		return NULL;
	next = strstr(sec, "<details class=\"result r-");
	svg = strstr(sec, "<svg");
	if (svg == NULL || (next && svg > next) || (end = strstr(svg, "</svg>")) == NULL)
		return NULL;
	return strndup(svg, (size_t)(end - svg));
}

/* One <svg> per result that is not SKIPPED, with one bar per attempt. */
static void check_timelines(const char *html, const json_t *report)
{
	size_t i, svgs = 0;
	const json_t *res;

	json_array_foreach(json_object_get(report, "results"), i, res)
	{
		char id[256];
		char *svg;
		int skipped = strcmp(report_str(res, "verdict", ""), "SKIPPED") == 0;

		snprintf(id, sizeof id, "id=\"case-%s--%s\"", report_str(res, "case", ""),
		         report_str(res, "client", ""));
		CU_ASSERT_PTR_NOT_NULL(strstr(html, id));
		svg = timeline_of(html, id);
		CU_ASSERT_EQUAL(svg != NULL, !skipped);
		if (svg != NULL) {
			svgs++;
			CU_ASSERT_EQUAL(count(svg, "<rect class=\"bar "),
			                json_array_size(json_object_get(res, "attempts")));
		}
		free(svg);
	}
	CU_ASSERT_EQUAL(svgs, 11);
	CU_ASSERT_EQUAL(count(html, "<svg"), svgs);
}

/* Every href is an anchor within the file, and every anchor exists. */
static void check_links(const char *html)
{
	size_t n = 0;

	for (const char *p = strstr(html, "href=\""); p; p = strstr(p + 1, "href=\"")) {
		const char *start = p + 6, *end = strchr(start, '"');
		char id[300];

		CU_ASSERT_EQUAL_FATAL(*start, '#');
		CU_ASSERT_PTR_NOT_NULL_FATAL(end);
		snprintf(id, sizeof id, "id=\"%.*s\"", (int)(end - start - 1), start + 1);
		CU_ASSERT_PTR_NOT_NULL(strstr(html, id));
		n++;
	}
	CU_ASSERT(n >= 12 + 6); /* a link per matrix cell and per case */
	CU_ASSERT_PTR_NULL(strstr(html, "http://"));
	CU_ASSERT_PTR_NULL(strstr(html, "https://"));
	CU_ASSERT_PTR_NULL(strstr(html, "src="));
	CU_ASSERT_PTR_NULL(strstr(html, "url("));
	CU_ASSERT_PTR_NULL(strstr(html, "@import"));
}

static void test_html(void)
{
	json_t *r = build(0, 1);
	char *html = render(r, report_write_html, "report.html");
	const char *matrix, *first_warn, *first_ok;

	CU_ASSERT_PTR_NOT_NULL_FATAL(html);
	CU_ASSERT_EQUAL(strncmp(html, "<!DOCTYPE html>\n", 16), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(html, "</html>\n"));
	CU_ASSERT_PTR_NOT_NULL(
	    strstr(html, "Content-Security-Policy\" content=\"default-src 'none'"));
	/* the matrix: a column per client, cases with a FAIL first, links */
	matrix = strstr(html, "<table class=\"matrix\">");
	CU_ASSERT_PTR_NOT_NULL_FATAL(matrix);
	CU_ASSERT_PTR_NOT_NULL(strstr(matrix, "<th>refclient-good</th><th>swaks</th>"));
	first_warn = strstr(matrix, "<tr class=\"row-WARN\">");
	first_ok = strstr(matrix, "<tr class=\"row-ok\">");
	CU_ASSERT_PTR_NOT_NULL_FATAL(first_warn);
	CU_ASSERT_PTR_NOT_NULL_FATAL(first_ok);
	CU_ASSERT_EQUAL(count(matrix, "<tr class=\"row-FAIL\">"), 2);
	CU_ASSERT_PTR_NULL(strstr(first_warn, "<tr class=\"row-FAIL\">"));
	CU_ASSERT_PTR_NULL(strstr(first_ok, "<tr class=\"row-WARN\">"));
	CU_ASSERT_PTR_NOT_NULL(strstr(matrix,
	                              "<a class=\"badge v-FAIL\" "
	                              "href=\"#case-oci.smtp.server-error--swaks\">FAIL</a>"));
	CU_ASSERT_PTR_NOT_NULL(
	    strstr(matrix, "href=\"#case-oci.https.too-many-requests--swaks\" title=\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(matrix, "\">SKIPPED</a>"));
	CU_ASSERT_PTR_NOT_NULL(strstr(matrix, "▲ was PASS"));
	CU_ASSERT_PTR_NOT_NULL(strstr(matrix, "▲ new"));
	CU_ASSERT_PTR_NOT_NULL(
	    strstr(html, "<section class=\"case\" id=\"case-examples.observe-only\">"));
	/* failing and warning results open, others closed */
	CU_ASSERT_PTR_NOT_NULL(strstr(html, "id=\"case-oci.smtp.server-error--swaks\" open>"));
	CU_ASSERT_PTR_NOT_NULL(strstr(html, "id=\"case-oci.smtp.throttled--swaks\" open>"));
	CU_ASSERT_PTR_NOT_NULL(strstr(html, "id=\"case-oci.smtp.server-error--refclient-good\">"));
	/* checks: expected, actual, evidence, a remedy for each WARN and FAIL */
	CU_ASSERT_PTR_NOT_NULL(strstr(html, "<b>expected:</b> at least 2 attempts"));
	CU_ASSERT_PTR_NOT_NULL(strstr(html, "<li>attempt 1 dropped at 0.14 s</li>"));
	CU_ASSERT_EQUAL(count(html, "<div class=\"remedy\">"), 5);
	CU_ASSERT_PTR_NULL(strstr(html, "shown only on WARN and FAIL"));
	CU_ASSERT_PTR_NOT_NULL(strstr(html, "<b>reason:</b> swaks speaks SMTP only"));
	/* client text is escaped: no markup from the transcript gets through */
	CU_ASSERT_PTR_NOT_NULL(
	    strstr(html, "EHLO &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"));
	CU_ASSERT_PTR_NULL(strstr(html, "<script"));
	CU_ASSERT_PTR_NOT_NULL(
	    strstr(html, "MAIL FROM:&lt;sender@example.com&gt; SIZE=120 &amp; more"));
	CU_ASSERT_PTR_NOT_NULL(strstr(html, "&lt;rcpt@example.net&gt; &amp; gave up"));
	check_timelines(html, r);
	check_links(html);
	free(html);
	json_decref(r);
}

/* The timeline labels reply codes and gives each bar its outcome's colour. */
static void test_html_timeline(void)
{
	json_t *r = build(0, 0);
	char *html = render(r, report_write_html, "report.html");
	char *svg;

	CU_ASSERT_PTR_NOT_NULL_FATAL(html);
	svg = timeline_of(html, "id=\"case-oci.smtp.server-error--refclient-good\"");
	CU_ASSERT_PTR_NOT_NULL_FATAL(svg);
	CU_ASSERT_EQUAL(count(svg, "<rect class=\"bar o-rejected\""), 1);
	CU_ASSERT_EQUAL(count(svg, "<rect class=\"bar o-accepted\""), 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(svg, "text-anchor=\"middle\">451</text>"));
	CU_ASSERT_PTR_NOT_NULL(strstr(svg, "text-anchor=\"middle\">250</text>"));
	CU_ASSERT_PTR_NOT_NULL(
	    strstr(svg, "<title>attempt 1: rejected 451, 0.05 to 0.21 s</title>"));
	CU_ASSERT_PTR_NOT_NULL(strstr(svg, "#2 smtp c2 TLS +1.16s"));
	CU_ASSERT_EQUAL(count(svg, "<line class=\"tick\""), 14); /* a tick per reply */
	free(svg);
	/* an attempt still open at the budget runs to the end of the axis */
	svg = timeline_of(html, "id=\"case-oci.smtp.connection-drop--swaks\"");
	CU_ASSERT_PTR_NOT_NULL_FATAL(svg);
	CU_ASSERT_PTR_NOT_NULL(strstr(svg, "<rect class=\"bar o-timeout\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(svg, "<rect class=\"bar o-dropped\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(svg, ">60</text>"));
	free(svg);
	free(html);
	json_decref(r);
}

/* A report of nothing, and results with most fields missing, still render. */
static void test_sparse_input(void)
{
	struct report_meta m = {0};
	json_t *empty = report_build(&m, NULL, NULL, NULL, NULL);
	json_t *results = json_pack("[{s:s, s:s}, {s:s, s:s, s:s, s:[{}]}]", "case", "c1", "client",
	                            "k", "case", "c2", "client", "k", "verdict", "odd", "attempts");
	json_t *sparse = report_build(&m, NULL, NULL, results, NULL);
	char *text;

	CU_ASSERT_EQUAL(report_failures(empty), 0);
	CU_ASSERT_EQUAL(json_object_size(json_object_get(empty, "summary")), 0);
	text = render(empty, report_write_junit, "junit.xml");
	CU_ASSERT_PTR_NOT_NULL(text && strstr(text, "tests=\"0\" failures=\"0\""));
	free(text);
	text = render(empty, report_write_html, "report.html");
	CU_ASSERT_PTR_NOT_NULL(text && strstr(text, "</html>"));
	free(text);
	text = render(sparse, report_write_html, "report.html");
	CU_ASSERT_PTR_NOT_NULL(text && strstr(text, "id=\"case-c2--k\""));
	CU_ASSERT_PTR_NOT_NULL(text && strstr(text, "badge v-unknown"));
	free(text);
	text = render(sparse, report_write_junit, "junit.xml");
	CU_ASSERT_PTR_NOT_NULL(text && strstr(text, "tests=\"2\" failures=\"0\""));
	free(text);
	json_decref(empty);
	json_decref(sparse);
	json_decref(results);
}

static void test_write_error(void)
{
	json_t *r = build(0, 0);
	char err[256] = "";

	CU_ASSERT_EQUAL(report_write_html(r, "/nonexistent-dir/report.html", err, sizeof err), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "/nonexistent-dir/report.html.tmp: "));
	CU_ASSERT_EQUAL(report_write_json(r, "/nonexistent-dir/report.json", err, sizeof err), -1);
	CU_ASSERT_EQUAL(report_write_junit(r, "/nonexistent-dir/junit.xml", err, sizeof err), -1);
	json_decref(r);
}

int register_conform_report_tests(void)
{
	static const struct unit_test tests[] = {
	    {"verdict order SKIPPED < INFO < PASS < WARN < FAIL; strict WARN is FAIL", test_rank},
	    {"escaping for XML and HTML text and attributes", test_escape},
	    {"report.json: schema, generated, cases, results, clients from the results",
	     test_document},
	    {"summary: counts per client per verdict", test_summary},
	    {"summary: a listed client with no result counts zero", test_summary_listed_clients},
	    {"baseline: worse when the rank grows or a new result fails", test_baseline_worse},
	    {"baseline: strict makes WARN a FAIL", test_baseline_strict},
	    {"report_failures: FAILs, WARNs with strict, worse ones with a baseline",
	     test_failures},
	    {"report.json file: fixed key order, reads back equal", test_json_file},
	    {"junit.xml: suites per client, counts, failure text, skipped, warnings",
	     test_junit_counts},
	    {"junit.xml: strict turns WARN into a failure", test_junit_strict},
	    {"junit.xml: every text and attribute escaped", test_junit_escaping},
	    {"report.html: matrix, sections, checks, escaping, timelines, no external links",
	     test_html},
	    {"report.html: timeline bars, ticks and code labels", test_html_timeline},
	    {"reports of empty or sparse results", test_sparse_input},
	    {"write errors name the file", test_write_error},
	};
	return unit_add_suite("conform_report", tests, UNIT_COUNT(tests));
}
