/*
 * report_html.c - report.html, the report a person reads.
 *
 * One self-contained file: inline CSS, inline SVG, no script, no link or
 * source outside the file, and a Content-Security-Policy that forbids any
 * fetch, so opening it never touches the network. From the top: the run
 * (suite, version, time, strict, baseline), the totals per client, the
 * results that got worse than the baseline, the matrix (a row per case, a
 * column per client, each cell the verdict, linked to its section), then a
 * section per case with one collapsible <details> per client: a timeline
 * of the attempts, the checks with their evidence and remedy, the client's
 * output and the transcript excerpt. Cases whose worst verdict is worst
 * come first; WARN and FAIL results are open, the others closed.
 *
 * Every text from the results (client output, transcripts, replies) goes
 * through report_escape(); anchors are made of the ids' safe characters.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"

/* The timeline's geometry, in SVG user units (px at 100%). */
#define TL_WIDTH  760.0
#define TL_LEFT   150.0 /* attempt labels */
#define TL_RIGHT  24.0
#define TL_TOP    4.0
#define TL_ROW    28.0 /* one attempt: code labels above, the bar below */
#define TL_BAR_Y  15.0 /* bar offset within its row */
#define TL_BAR_H  10.0
#define TL_AXIS   30.0 /* room for the time axis */
#define TL_LABELS 64   /* reply code labels per attempt */

struct html {
	FILE *f;
	const json_t *report;
	json_t *clients;
	const json_t *worse; /* baseline.worse, or NULL */
	int strict;
};

/* A case of the matrix and its sort key. */
struct case_row {
	json_t *c;
	int rank; /* the worst verdict of its results */
	size_t order;
};

static const char style[] =
    "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1f2328;"
    "max-width:1200px;margin:0 auto;padding:1em 2em}\n"
    "h1{font-size:1.6em;margin:.2em 0}h2{font-size:1.25em;margin:.3em 0}\n"
    ".meta{color:#59636e;margin:0 0 1em}.meta b{color:#1f2328}\n"
    "table{border-collapse:collapse;margin:.5em 0 1.5em}\n"
    "th,td{border:1px solid #d1d9e0;padding:.25em .6em;text-align:left;vertical-align:top}\n"
    "thead th{background:#f6f8fa}td.n{text-align:right;font-variant-numeric:tabular-nums}\n"
    ".badge{display:inline-block;min-width:4.6em;text-align:center;border-radius:1em;"
    "padding:0 .5em;font-weight:600;font-size:.85em;color:#fff;text-decoration:none}\n"
    ".v-PASS{background:#1a7f37}.v-WARN{background:#9a6700}.v-FAIL{background:#cf222e}"
    ".v-INFO{background:#0969da}.v-SKIPPED{background:#6e7781}.v-unknown{background:#3d444d}\n"
    "tr.row-FAIL>td{background:#ffebe9}tr.row-WARN>td{background:#fff8c5}\n"
    "td.zero{color:#9198a1}.worse{color:#cf222e;font-weight:600;font-size:.85em}\n"
    "section.case{border-top:2px solid #d1d9e0;margin-top:1.5em;padding-top:.6em}\n"
    ".sub{color:#59636e;font-size:.9em}code{font-size:.9em}\n"
    "details.result{border:1px solid #d1d9e0;border-left-width:6px;border-radius:6px;"
    "margin:.6em 0;padding:.3em .8em}\n"
    "details.r-FAIL{border-left-color:#cf222e}details.r-WARN{border-left-color:#9a6700}\n"
    "details.r-PASS{border-left-color:#1a7f37}details.r-INFO{border-left-color:#0969da}\n"
    "details>summary{cursor:pointer}details.result>summary{font-weight:600;padding:.2em 0}\n"
    ".check{margin:.4em 0;padding:.3em .7em;border-left:4px solid #d1d9e0}\n"
    ".check.c-FAIL{border-left-color:#cf222e;background:#fff5f5}"
    ".check.c-WARN{border-left-color:#9a6700;background:#fffbe6}\n"
    ".kv{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.9em;"
    "white-space:pre-wrap}.kv b{font-family:system-ui,sans-serif}\n"
    ".check ul{margin:.2em 0 .2em 1.2em;padding:0}\n"
    ".remedy{background:#ddf4ff;border-radius:4px;padding:.3em .6em;margin:.3em 0}\n"
    "pre{font:12px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:#f6f8fa;"
    "padding:.6em;overflow:auto;max-height:32em;white-space:pre-wrap;word-break:break-all}\n"
    "svg.timeline{display:block;width:100%;max-width:760px;height:auto;"
    "font:11px system-ui,sans-serif;margin:.4em 0}\n"
    "svg .axis{stroke:#59636e}svg .grid{stroke:#eaeef2}svg .tick{stroke:#1f2328}"
    "svg .code{font-weight:600}svg .note{fill:#59636e}\n"
    ".o-accepted{fill:#1a7f37;background:#1a7f37}.o-rejected{fill:#cf222e;background:#cf222e}"
    ".o-dropped{fill:#8250df;background:#8250df}.o-closed{fill:#6e7781;background:#6e7781}"
    ".o-timeout{fill:#bc4c00;background:#bc4c00}.o-other{fill:#3d444d;background:#3d444d}\n"
    ".swatch{display:inline-block;width:1.4em;height:.7em;margin:0 .3em 0 1em;"
    "vertical-align:middle}\n";

static const char *const outcomes[] = {"accepted", "rejected", "dropped", "closed", "timeout"};

static void text(struct html *h, const char *s)
{
	report_escape(h->f, s, 0);
}

/* An anchor from an id: letters, digits, '.', '-' and '_' kept, others '_'. */
static void write_id_part(FILE *f, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		fputc((isalnum(*p) || *p == '.' || *p == '-' || *p == '_') ? *p : '_', f);
}

/* case-ID, or case-ID--CLIENT for one client's result. */
static void write_anchor(FILE *f, const char *case_id, const char *client)
{
	fputs("case-", f);
	write_id_part(f, case_id);
	if (client != NULL) {
		fputs("--", f);
		write_id_part(f, client);
	}
}

static const char *verdict_class(const char *verdict)
{
	return report_rank(verdict, 0) >= 0 ? verdict : "unknown";
}

static void write_badge(struct html *h, const char *verdict)
{
	fprintf(h->f, "<span class=\"badge v-%s\">", verdict_class(verdict));
	text(h, verdict ? verdict : "?");
	fputs("</span>", h->f);
}

static const json_t *find_result(struct html *h, const char *case_id, const char *client)
{
	return report_find_result(json_object_get(h->report, "results"), case_id, client);
}

/* The baseline verdict of a result that got worse, "" when it is new, or
 * NULL when it did not get worse. */
static const char *worse_was(struct html *h, const char *case_id, const char *client)
{
	size_t i;
	const json_t *w;

	json_array_foreach(h->worse, i, w)
	{
		if (strcmp(report_str(w, "case", ""), case_id) == 0 &&
		    strcmp(report_str(w, "client", ""), client) == 0)
			return report_str(w, "was", "");
	}
	return NULL;
}

/* ---- the matrix's rows: every case, worst first -------------------------- */

static int case_listed(const json_t *cases, const char *id)
{
	size_t i;
	const json_t *c;

	json_array_foreach(cases, i, c)
	{
		if (strcmp(report_str(c, "id", ""), id) == 0)
			return 1;
	}
	return 0;
}

/* report["cases"], then a case for every other case id the results name. */
static json_t *all_cases(const json_t *report)
{
	json_t *out = json_array();
	size_t i;
	json_t *v;

	json_array_foreach(json_object_get(report, "cases"), i, v)
	{
		if (report_str(v, "id", NULL) && !case_listed(out, report_str(v, "id", NULL)))
			json_array_append(out, v);
	}
	json_array_foreach(json_object_get(report, "results"), i, v)
	{
		const char *id = report_str(v, "case", NULL);

		if (id && !case_listed(out, id))
			json_array_append_new(out, json_pack("{s:s, s:s}", "id", id, "title",
			                                     report_str(v, "title", "")));
	}
	return out;
}

static int worst_rank(struct html *h, const char *case_id)
{
	int worst = -1;
	size_t i;
	const json_t *r;

	json_array_foreach(json_object_get(h->report, "results"), i, r)
	{
		int rank = report_rank(report_str(r, "verdict", NULL), h->strict);

		if (strcmp(report_str(r, "case", ""), case_id) == 0 && rank > worst)
			worst = rank;
	}
	return worst;
}

static int compare_rows(const void *a, const void *b)
{
	const struct case_row *x = a, *y = b;

	if (x->rank != y->rank)
		return y->rank - x->rank;
	return x->order < y->order ? -1 : x->order > y->order;
}

/* The cases in display order; *n their number. The rows borrow cases. */
static struct case_row *sort_cases(struct html *h, json_t *cases, size_t *n)
{
	struct case_row *rows = calloc(json_array_size(cases) + 1, sizeof *rows);
	size_t i;
	json_t *c;

	*n = 0;
	if (rows == NULL)
		return NULL;
	json_array_foreach(cases, i, c)
	{
		rows[i] = (struct case_row){c, worst_rank(h, report_str(c, "id", "")), i};
		*n = i + 1;
	}
	qsort(rows, *n, sizeof *rows, compare_rows);
	return rows;
}

/* ---- head, run, totals, baseline ---------------------------------------- */

static void write_head(struct html *h)
{
	fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
	      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
	      "style-src 'unsafe-inline'\">\n"
	      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
	      "<title>edsim-conform: ",
	      h->f);
	text(h, report_str(h->report, "suite", "report"));
	fprintf(h->f, "</title>\n<style>\n%s</style>\n</head>\n<body>\n", style);
}

static void write_run(struct html *h)
{
	const json_t *baseline = json_object_get(h->report, "baseline");

	fputs("<h1>edsim-conform report</h1>\n<p class=\"meta\">suite <b>", h->f);
	text(h, report_str(h->report, "suite", "?"));
	fputs("</b> · ", h->f);
	text(h, report_str(h->report, "edsim_version", "edsim"));
	fputs(" · generated ", h->f);
	text(h, report_str(h->report, "generated", "?"));
	fputs(h->strict ? " · <b>strict</b>: WARN counts as FAIL" : "", h->f);
	if (json_is_object(baseline)) {
		fputs(" · baseline ", h->f);
		text(h, report_str(baseline, "file", "(unnamed)"));
	}
	fprintf(h->f, " · <b>%zu</b> %s</p>\n", report_failures(h->report),
	        json_is_object(baseline) ? "results worse than the baseline" : "failing results");
}

static const char *const totals_order[] = {"FAIL", "WARN", "PASS", "INFO", "SKIPPED"};

static void write_totals_row(struct html *h, const char *client)
{
	const json_t *counts = json_object_get(json_object_get(h->report, "summary"), client);

	fputs("<tr><td>", h->f);
	text(h, client);
	fputs("</td>", h->f);
	for (size_t i = 0; i < sizeof totals_order / sizeof totals_order[0]; i++) {
		json_int_t n = json_integer_value(json_object_get(counts, totals_order[i]));

		fprintf(h->f, "<td class=\"n%s\">%lld</td>", n ? "" : " zero", (long long)n);
	}
	fputs("</tr>\n", h->f);
}

static void write_totals(struct html *h)
{
	size_t i;
	const json_t *c;

	fputs("<h2>Totals</h2>\n<table class=\"totals\"><thead><tr><th>client</th>", h->f);
	for (i = 0; i < sizeof totals_order / sizeof totals_order[0]; i++)
		fprintf(h->f, "<th><span class=\"badge v-%s\">%s</span></th>", totals_order[i],
		        totals_order[i]);
	fputs("</tr></thead>\n<tbody>\n", h->f);
	json_array_foreach(h->clients, i, c)
	{
		write_totals_row(h, json_string_value(c));
	}
	fputs("</tbody></table>\n", h->f);
}

static void write_baseline(struct html *h)
{
	size_t i;
	const json_t *w;

	if (h->worse == NULL)
		return;
	fprintf(h->f, "<h2>Worse than the baseline: %zu</h2>\n<ul class=\"worse-list\">\n",
	        json_array_size(h->worse));
	json_array_foreach(h->worse, i, w)
	{
		fputs("<li><a href=\"#", h->f);
		write_anchor(h->f, report_str(w, "case", ""), report_str(w, "client", ""));
		fputs("\">", h->f);
		text(h, report_str(w, "case", ""));
		fputs("</a> with ", h->f);
		text(h, report_str(w, "client", ""));
		fputs(": ", h->f);
		text(h, report_str(w, "was", "new"));
		fputs(" → ", h->f);
		write_badge(h, report_str(w, "now", NULL));
		fputs("</li>\n", h->f);
	}
	fputs("</ul>\n", h->f);
}

/* ---- the matrix ---------------------------------------------------------- */

static void write_cell(struct html *h, const char *case_id, const char *client)
{
	const json_t *r = find_result(h, case_id, client);
	const char *verdict = report_str(r, "verdict", NULL);
	const char *was = worse_was(h, case_id, client);

	if (r == NULL) {
		fputs("<td>—</td>", h->f);
		return;
	}
	fprintf(h->f, "<td><a class=\"badge v-%s\" href=\"#", verdict_class(verdict));
	write_anchor(h->f, case_id, client);
	fputs("\"", h->f);
	if (report_str(r, "reason", NULL) != NULL) { /* SKIPPED, or INFO: why */
		fputs(" title=\"", h->f);
		report_escape(h->f, report_str(r, "reason", ""), 1);
		fputs("\"", h->f);
	}
	fputs(">", h->f);
	text(h, verdict ? verdict : "?");
	if (verdict != NULL && strcmp(verdict, "INFO") == 0 && report_str(r, "reason", NULL))
		fputs("*", h->f);
	fputs("</a>", h->f);
	if (was != NULL) {
		fputs(" <span class=\"worse\" title=\"worse than the baseline\">▲ ", h->f);
		fputs(*was ? "was " : "new", h->f);
		text(h, was);
		fputs("</span>", h->f);
	}
	fputs("</td>", h->f);
}

static void write_matrix_row(struct html *h, const struct case_row *row)
{
	const char *id = report_str(row->c, "id", "");
	size_t i;
	const json_t *c;

	fprintf(h->f, "<tr class=\"row-%s\"><td><a href=\"#",
	        row->rank == 4   ? "FAIL"
	        : row->rank == 3 ? "WARN"
	                         : "ok");
	write_anchor(h->f, id, NULL);
	fputs("\"><code>", h->f);
	text(h, id);
	fputs("</code></a></td><td>", h->f);
	text(h, report_str(row->c, "title", ""));
	fputs("</td>", h->f);
	json_array_foreach(h->clients, i, c)
	{
		write_cell(h, id, json_string_value(c));
	}
	fputs("</tr>\n", h->f);
}

static void write_matrix(struct html *h, const struct case_row *rows, size_t n)
{
	size_t i;
	const json_t *c;

	fputs("<h2>Results</h2>\n<table class=\"matrix\"><thead><tr><th>case</th><th>title</th>",
	      h->f);
	json_array_foreach(h->clients, i, c)
	{
		fputs("<th>", h->f);
		text(h, json_string_value(c));
		fputs("</th>", h->f);
	}
	fputs("</tr></thead>\n<tbody>\n", h->f);
	for (i = 0; i < n; i++)
		write_matrix_row(h, &rows[i]);
	fputs("</tbody></table>\n<p>INFO* : not graded: the client never met the case's "
	      "condition, or the budget stopped it while it still waited as RFC 5321 lets it "
	      "(the reason is in the cell's tooltip and under the case).</p>\n",
	      h->f);
}

/* ---- the timeline of one result ------------------------------------------ */

static const char *outcome_class(const char *outcome)
{
	for (size_t i = 0; i < sizeof outcomes / sizeof outcomes[0]; i++)
		if (outcome && strcmp(outcome, outcomes[i]) == 0)
			return outcome;
	return "other";
}

/* Where an attempt ends: its end, or for one that never ended, its last
 * reply (a timeout runs to the end of the axis). */
static double attempt_end(const json_t *a, double axis)
{
	double end = report_num(a, "end", -1);
	size_t i;
	const json_t *r;

	if (end >= 0)
		return end;
	if (strcmp(report_str(a, "outcome", ""), "timeout") == 0)
		return axis;
	end = report_num(a, "t", 0);
	json_array_foreach(json_object_get(a, "replies"), i, r)
	{
		if (report_num(r, "t", 0) > end)
			end = report_num(r, "t", 0);
	}
	return end;
}

/* The last moment the result shows: duration, attempt ends, reply times. */
static double result_span(const json_t *res)
{
	double span = report_num(res, "duration", 0);
	size_t i, j;
	const json_t *a, *r;

	json_array_foreach(json_object_get(res, "attempts"), i, a)
	{
		span = fmax(span, fmax(report_num(a, "t", 0), report_num(a, "end", 0)));
		json_array_foreach(json_object_get(a, "replies"), j, r)
		{
			span = fmax(span, report_num(r, "t", 0));
		}
	}
	return (isfinite(span) && span > 0) ? span : 1;
}

/* A tick step of 1, 2 or 5 times a power of ten giving at most 8 ticks. */
static double tick_step(double span)
{
	static const double mult[] = {1, 2, 5, 10, 20, 50};
	double base = pow(10, floor(log10(span))) / 10;

	for (size_t i = 0; i < sizeof mult / sizeof mult[0]; i++)
		if (span / (base * mult[i]) <= 8)
			return base * mult[i];
	return base * 100;
}

struct timeline {
	double axis;   /* seconds at the right end */
	double height; /* of the plot area, above the axis */
};

static double tl_x(const struct timeline *tl, double t)
{
	return TL_LEFT + fmin(fmax(t, 0), tl->axis) / tl->axis * (TL_WIDTH - TL_LEFT - TL_RIGHT);
}

static void write_axis(FILE *f, const struct timeline *tl, double step)
{
	double y = TL_TOP + tl->height;

	fprintf(f, "<line class=\"axis\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n",
	        TL_LEFT, y, tl_x(tl, tl->axis), y);
	for (int i = 0; i * step <= tl->axis * (1 + 1e-9); i++) {
		double x = tl_x(tl, i * step);

		fprintf(f,
		        "<line class=\"grid\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
		        "<line class=\"axis\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
		        "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%g</text>\n",
		        x, TL_TOP, x, y, x, y, x, y + 4, x, y + 16, i * step);
	}
	fprintf(f, "<text class=\"note\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">t (s)</text>\n",
	        TL_WIDTH - 2, y + 28);
}

/* The attempt's label at the left: "#2 smtp conn 2 TLS +1.16 s". */
static void write_attempt_label(FILE *f, const json_t *a, double y, double prev_t)
{
	double conn = report_num(a, "connection", 0);

	fprintf(f, "<text x=\"4\" y=\"%.1f\">#%d ", y, (int)report_num(a, "n", 0));
	report_escape(f, report_str(a, "kind", ""), 0);
	if (conn > 0)
		fprintf(f, " c%d", (int)conn);
	if (json_is_true(json_object_get(a, "tls")))
		fputs(" TLS", f);
	if (prev_t >= 0)
		fprintf(f, " +%.2fs", report_num(a, "t", 0) - prev_t);
	fputs("</text>\n", f);
}

static void write_bar(FILE *f, const struct timeline *tl, const json_t *a, double y)
{
	double t = report_num(a, "t", 0), end = attempt_end(a, tl->axis);
	double x = tl_x(tl, t), w = fmax(2, tl_x(tl, end) - x);
	const char *outcome = report_str(a, "outcome", "?");

	fprintf(f, "<rect class=\"bar o-%s\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\">",
	        outcome_class(outcome), x, y, w, TL_BAR_H);
	fprintf(f, "<title>attempt %d: ", (int)report_num(a, "n", 0));
	report_escape(f, outcome, 0);
	if (report_num(a, "code", 0) > 0)
		fprintf(f, " %d", (int)report_num(a, "code", 0));
	fprintf(f, ", %.2f to %.2f s</title></rect>\n", t, end);
}

/* A label for a reply's code is placed when it does not overlap one
 * already placed on the same row. */
struct labels {
	double x[TL_LABELS];
	size_t n;
};

static int label_fits(const struct labels *l, double x)
{
	for (size_t i = 0; i < l->n; i++)
		if (fabs(l->x[i] - x) < 24)
			return 0;
	return l->n < TL_LABELS;
}

static void write_reply(FILE *f, const struct timeline *tl, const json_t *r, double y)
{
	double x = tl_x(tl, report_num(r, "t", 0));

	fprintf(f, "<line class=\"tick\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\">", x,
	        y - 3, x, y + TL_BAR_H + 2);
	fprintf(f, "<title>%.2f s: ", report_num(r, "t", 0));
	report_escape(f, report_str(r, "text", ""), 0);
	fputs("</title></line>\n", f);
}

/* The index of the decisive reply: the last one with the attempt's code. */
static size_t decisive_reply(const json_t *a)
{
	const json_t *replies = json_object_get(a, "replies");
	int code = (int)report_num(a, "code", 0);
	size_t i = json_array_size(replies);

	while (i-- > 0)
		if (code > 0 && (int)report_num(json_array_get(replies, i), "code", 0) == code)
			return i;
	return (size_t)-1;
}

/* Codes of 4xx and 5xx replies and of the decisive reply are labelled
 * first, then the others where there is room. */
static void write_reply_codes(FILE *f, const struct timeline *tl, const json_t *a, double y)
{
	const json_t *replies = json_object_get(a, "replies");
	size_t decisive = decisive_reply(a), i;
	struct labels placed = {.n = 0};
	const json_t *r;

	json_array_foreach(replies, i, r)
	{
		write_reply(f, tl, r, y);
	}
	for (int pass = 0; pass < 2; pass++) {
		json_array_foreach(replies, i, r)
		{
			int code = (int)report_num(r, "code", 0);
			double x = tl_x(tl, report_num(r, "t", 0));
			int important = code >= 400 || i == decisive;

			if (code <= 0 || important != (pass == 0) || !label_fits(&placed, x))
				continue;
			placed.x[placed.n++] = x;
			fprintf(f,
			        "<text class=\"code\" x=\"%.1f\" y=\"%.1f\" "
			        "text-anchor=\"middle\">%d</text>\n",
			        x, y - 4, code);
		}
	}
}

static void write_timeline(struct html *h, const json_t *res)
{
	const json_t *attempts = json_object_get(res, "attempts");
	size_t n = json_array_size(attempts), i;
	double span = result_span(res), step = tick_step(span), prev_t = -1;
	struct timeline tl = {ceil(span / step - 1e-9) * step, TL_ROW * (n ? n : 1)};
	const json_t *a;

	fprintf(h->f,
	        "<svg class=\"timeline\" viewBox=\"0 0 %.0f %.0f\" width=\"%.0f\" height=\"%.0f\" "
	        "role=\"img\"><title>attempts along the time since the case started</title>\n",
	        TL_WIDTH, TL_TOP + tl.height + TL_AXIS + 4, TL_WIDTH,
	        TL_TOP + tl.height + TL_AXIS + 4);
	write_axis(h->f, &tl, step);
	if (n == 0)
		fprintf(
		    h->f,
		    "<text class=\"note\" x=\"%.1f\" y=\"%.1f\">no connection or request</text>\n",
		    TL_LEFT + 8, TL_TOP + TL_BAR_Y + 8);
	json_array_foreach(attempts, i, a)
	{
		double y = TL_TOP + i * TL_ROW + TL_BAR_Y;

		write_attempt_label(h->f, a, y + 9, prev_t);
		write_bar(h->f, &tl, a, y);
		write_reply_codes(h->f, &tl, a, y);
		prev_t = report_num(a, "t", 0);
	}
	fputs("</svg>\n", h->f);
}

static void write_legend(struct html *h)
{
	fputs("<p class=\"sub\">Timelines: one bar per connection (SMTP) or request (HTTPS), from "
	      "its start to its end in seconds since the case started; ticks are replies, labelled "
	      "with their code; the gap to the previous attempt follows its name.",
	      h->f);
	for (size_t i = 0; i < sizeof outcomes / sizeof outcomes[0]; i++)
		fprintf(h->f, "<span class=\"swatch o-%s\"></span>%s", outcomes[i], outcomes[i]);
	fputs("</p>\n", h->f);
}

/* ---- checks, client output, transcript ---------------------------------- */

static void write_kv(struct html *h, const json_t *check, const char *key)
{
	const char *v = report_str(check, key, NULL);

	if (v == NULL)
		return;
	fprintf(h->f, "<div class=\"kv\"><b>%s:</b> ", key);
	text(h, v);
	fputs("</div>\n", h->f);
}

static void write_check(struct html *h, const json_t *c)
{
	const char *verdict = report_str(c, "verdict", NULL);
	const json_t *evidence = json_object_get(c, "evidence");
	size_t i;
	const json_t *e;

	fprintf(h->f, "<div class=\"check c-%s\">", verdict_class(verdict));
	write_badge(h, verdict);
	fputs(" <b>", h->f);
	text(h, report_str(c, "title", report_str(c, "id", "?")));
	fputs("</b> <code>", h->f);
	text(h, report_str(c, "id", ""));
	fputs("</code>\n", h->f);
	write_kv(h, c, "expected");
	write_kv(h, c, "actual");
	if (json_array_size(evidence) > 0) {
		fputs("<ul class=\"kv\">", h->f);
		json_array_foreach(evidence, i, e)
		{
			fputs("<li>", h->f);
			text(h, json_string_value(e));
			fputs("</li>", h->f);
		}
		fputs("</ul>\n", h->f);
	}
	if (report_rank(verdict, 0) >= 3 && report_str(c, "remedy", NULL)) {
		fputs("<div class=\"remedy\"><b>remedy:</b> ", h->f);
		text(h, report_str(c, "remedy", NULL));
		fputs("</div>\n", h->f);
	}
	fputs("</div>\n", h->f);
}

static void write_client_output(struct html *h, const json_t *res)
{
	const json_t *cr = json_object_get(res, "client_result");

	if (!json_is_object(cr))
		return;
	fprintf(h->f,
	        "<details><summary>client output (exit status %d, signal %d%s)</summary><pre>",
	        (int)report_num(cr, "exit_code", 0), (int)report_num(cr, "signal", 0),
	        json_is_true(json_object_get(cr, "timed_out")) ? ", timed out" : "");
	text(h, report_str(cr, "output_excerpt", ""));
	fputs("</pre></details>\n", h->f);
}

static const char *dir_mark(const char *dir)
{
	if (strcmp(dir, "in") == 0)
		return "C:";
	if (strcmp(dir, "out") == 0)
		return "S:";
	return "--";
}

static void write_transcript(struct html *h, const json_t *res)
{
	const json_t *lines = json_object_get(res, "transcript_excerpt");
	size_t i;
	const json_t *l;

	if (json_array_size(lines) == 0)
		return;
	fprintf(
	    h->f,
	    "<details><summary>transcript excerpt (%zu lines)</summary><pre class=\"transcript\">",
	    json_array_size(lines));
	json_array_foreach(lines, i, l)
	{
		fprintf(h->f, "c%-2d %7.3f %s ", (int)report_num(l, "connection", 0),
		        report_num(l, "t", 0), dir_mark(report_str(l, "dir", "")));
		text(h, report_str(l, "line", ""));
		fputc('\n', h->f);
	}
	fputs("</pre></details>\n", h->f);
}

/* ---- the sections --------------------------------------------------------- */

static void write_result(struct html *h, const char *case_id, const char *client, const json_t *res)
{
	const char *verdict = report_str(res, "verdict", NULL);
	size_t i;
	const json_t *c;

	fprintf(h->f, "<details class=\"result r-%s\" id=\"", verdict_class(verdict));
	write_anchor(h->f, case_id, client);
	fprintf(h->f, "\"%s><summary>", report_rank(verdict, 0) >= 3 ? " open" : "");
	write_badge(h, verdict);
	fputc(' ', h->f);
	text(h, client);
	fprintf(h->f, " <span class=\"sub\">%.2f s, %zu attempt(s)</span></summary>\n",
	        report_num(res, "duration", 0), json_array_size(json_object_get(res, "attempts")));
	if (report_str(res, "reason", NULL)) {
		fputs("<p><b>reason:</b> ", h->f);
		text(h, report_str(res, "reason", NULL));
		fputs("</p>\n", h->f);
	}
	if (strcmp(verdict ? verdict : "", "SKIPPED") != 0)
		write_timeline(h, res);
	json_array_foreach(json_object_get(res, "checks"), i, c)
	{
		write_check(h, c);
	}
	write_client_output(h, res);
	write_transcript(h, res);
	fputs("</details>\n", h->f);
}

static void write_catalog_rows(struct html *h, const json_t *rows)
{
	size_t i;
	const json_t *r;

	json_array_foreach(rows, i, r)
	{
		const char *id = json_is_string(r) ? json_string_value(r) : report_str(r, "id", "");

		fputs(i ? ", <code>" : " · catalog <code>", h->f);
		text(h, id);
		fputs("</code>", h->f);
	}
}

static void write_case(struct html *h, const json_t *kase)
{
	const char *id = report_str(kase, "id", "");
	size_t i;
	const json_t *c;

	fputs("<section class=\"case\" id=\"", h->f);
	write_anchor(h->f, id, NULL);
	fputs("\">\n<h2><code>", h->f);
	text(h, id);
	fputs("</code> ", h->f);
	text(h, report_str(kase, "title", ""));
	fputs("</h2>\n<p class=\"sub\">protocol ", h->f);
	text(h, report_str(kase, "protocol", "?"));
	write_catalog_rows(h, json_object_get(kase, "catalog_rows"));
	fputs("</p>\n", h->f);
	json_array_foreach(h->clients, i, c)
	{
		const json_t *res = find_result(h, id, json_string_value(c));

		if (res != NULL)
			write_result(h, id, json_string_value(c), res);
	}
	fputs("</section>\n", h->f);
}

static void write_document(FILE *f, const json_t *report)
{
	const json_t *baseline = json_object_get(report, "baseline");
	struct html h = {f, report, report_clients(report), json_object_get(baseline, "worse"),
	                 json_is_true(json_object_get(report, "strict"))};
	json_t *cases = all_cases(report);
	size_t n = 0;
	struct case_row *rows = sort_cases(&h, cases, &n);

	write_head(&h);
	write_run(&h);
	write_totals(&h);
	write_baseline(&h);
	write_matrix(&h, rows, n);
	fputs("<h2>Cases</h2>\n", f);
	write_legend(&h);
	for (size_t i = 0; i < n; i++)
		write_case(&h, rows[i].c);
	fputs("</body>\n</html>\n", f);
	free(rows);
	json_decref(cases);
	json_decref(h.clients);
}

int report_write_html(const json_t *report, const char *path, char *err, size_t errlen)
{
	return report_render_file(report, write_document, path, err, errlen);
}
