/*
 * report_json.c - report.json: the one document every report renders.
 *
 * report_build() gathers the cases, clients and results (SCHEMA.md,
 * sections 2 and 3), counts the verdicts per client and, given a previous
 * report.json, lists the results that got worse. Keys are added in a fixed
 * order and written with JSON_PRESERVE_ORDER, so two runs diff cleanly.
 * The cases, clients and results arrays are shared with the caller (a new
 * reference each), not copied.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "report.h"

static const char *const summary_keys[] = {"PASS", "WARN", "FAIL", "INFO", "SKIPPED"};

static json_t *string_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

static json_t *utc_now(void)
{
	time_t now = time(NULL);
	struct tm tm;
	char buf[32];

	gmtime_r(&now, &tm);
	strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return json_string(buf);
}

/* The clients given, or when none are, every client named by a result in
 * the order of first appearance. */
static json_t *clients_of(json_t *clients, const json_t *results)
{
	json_t *out;
	size_t i;
	const json_t *r;

	if (json_is_array(clients) && json_array_size(clients) > 0)
		return json_incref(clients);
	out = json_array();
	json_array_foreach(results, i, r)
	{
		const char *name = report_str(r, "client", NULL);

		if (name && !report_has_string(out, name))
			json_array_append_new(out, json_string(name));
	}
	return out;
}

static int cases_have(const json_t *cases, const char *id)
{
	size_t i;
	const json_t *c;

	json_array_foreach(cases, i, c)
	{
		const char *cid = report_str(c, "id", NULL);

		if (cid && strcmp(cid, id) == 0)
			return 1;
	}
	return 0;
}

/* The cases given, or when none are, one per case id of the results, with
 * the title, catalog rows and protocol of its first result. */
static json_t *cases_of(json_t *cases, const json_t *results)
{
	json_t *out;
	size_t i;
	const json_t *r;

	if (json_is_array(cases))
		return json_incref(cases);
	out = json_array();
	json_array_foreach(results, i, r)
	{
		const char *id = report_str(r, "case", NULL);
		json_t *rows = json_object_get(r, "catalog_rows");

		if (id == NULL || cases_have(out, id))
			continue;
		rows = json_is_array(rows) ? json_incref(rows) : json_array();
		json_array_append_new(out,
		                      json_pack("{s:s, s:o, s:o, s:o}", "id", id, "title",
		                                string_or_null(report_str(r, "title", NULL)),
		                                "catalog_rows", rows, "protocol",
		                                string_or_null(report_str(r, "protocol", NULL))));
	}
	return out;
}

static json_t *new_counts(void)
{
	json_t *counts = json_object();

	for (size_t i = 0; i < sizeof summary_keys / sizeof summary_keys[0]; i++)
		json_object_set_new(counts, summary_keys[i], json_integer(0));
	return counts;
}

/* {client: {PASS, WARN, FAIL, INFO, SKIPPED}}: every listed client, even
 * with no result, then any other client a result names. */
static json_t *summary_of(const json_t *clients, const json_t *results)
{
	json_t *summary = json_object();
	size_t i;
	const json_t *v;

	json_array_foreach(clients, i, v)
	{
		if (json_is_string(v))
			json_object_set_new(summary, json_string_value(v), new_counts());
	}
	json_array_foreach(results, i, v)
	{
		const char *client = report_str(v, "client", NULL);
		const char *verdict = report_str(v, "verdict", NULL);
		json_t *counts, *n;

		if (client == NULL || report_rank(verdict, 0) < 0)
			continue;
		counts = json_object_get(summary, client);
		if (counts == NULL) {
			counts = new_counts();
			json_object_set_new(summary, client, counts);
		}
		n = json_object_get(counts, verdict);
		json_integer_set(n, json_integer_value(n) + 1);
	}
	return summary;
}

/* A result got worse when its verdict ranks higher than before, or when it
 * is new and fails. */
static int got_worse(const char *was, const char *now, int strict)
{
	if (was == NULL)
		return report_is_failure(now, strict);
	return report_rank(now, strict) > report_rank(was, strict);
}

static json_t *worse_of(const json_t *results, const json_t *baseline, int strict)
{
	const json_t *old = json_object_get(baseline, "results");
	json_t *worse = json_array();
	size_t i;
	const json_t *r;

	json_array_foreach(results, i, r)
	{
		const char *case_id = report_str(r, "case", NULL);
		const char *client = report_str(r, "client", NULL);
		const char *now = report_str(r, "verdict", NULL);
		const char *was;

		if (case_id == NULL || client == NULL)
			continue;
		was = report_str(report_find_result(old, case_id, client), "verdict", NULL);
		if (got_worse(was, now, strict))
			json_array_append_new(worse, json_pack("{s:s, s:s, s:o, s:o}", "case",
			                                       case_id, "client", client, "was",
			                                       string_or_null(was), "now",
			                                       string_or_null(now)));
	}
	return worse;
}

json_t *report_build(const struct report_meta *m, json_t *cases, json_t *clients, json_t *results,
                     const json_t *baseline)
{
	static const struct report_meta none = {0};
	json_t *doc = json_object();
	json_t *res = json_is_array(results) ? json_incref(results) : json_array();
	json_t *cl = clients_of(clients, res);

	if (m == NULL)
		m = &none;
	json_object_set_new(doc, "schema", json_string("edsim-conform/1"));
	json_object_set_new(doc, "generated", utc_now());
	json_object_set_new(doc, "edsim_version", string_or_null(m->edsim_version));
	json_object_set_new(doc, "suite", string_or_null(m->suite));
	json_object_set_new(doc, "strict", json_boolean(m->strict));
	json_object_set_new(doc, "clients", cl);
	json_object_set_new(doc, "cases", cases_of(cases, res));
	json_object_set_new(doc, "results", res);
	json_object_set_new(doc, "summary", summary_of(cl, res));
	if (baseline != NULL)
		json_object_set_new(doc, "baseline",
		                    json_pack("{s:o, s:o}", "file",
		                              string_or_null(m->baseline_file), "worse",
		                              worse_of(res, baseline, m->strict)));
	return doc;
}

size_t report_failures(const json_t *report)
{
	const json_t *baseline = json_object_get(report, "baseline");
	int strict = json_is_true(json_object_get(report, "strict"));
	size_t i, n = 0;
	const json_t *r;

	if (json_is_object(baseline))
		return json_array_size(json_object_get(baseline, "worse"));
	json_array_foreach(json_object_get(report, "results"), i, r)
	{
		if (report_is_failure(report_str(r, "verdict", NULL), strict))
			n++;
	}
	return n;
}

int report_write_json(const json_t *report, const char *path, char *err, size_t errlen)
{
	char *text = json_dumps(report, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	char *file;
	size_t len;
	int rc;

	if (text == NULL) {
		snprintf(err, errlen, "%s: cannot encode the report", path);
		return -1;
	}
	len = strlen(text);
	file = realloc(text, len + 2);
	if (file == NULL) {
		free(text);
		snprintf(err, errlen, "%s: out of memory", path);
		return -1;
	}
	file[len++] = '\n';
	file[len] = '\0';
	rc = report_write_file(path, file, len, err, errlen);
	free(file);
	return rc;
}
