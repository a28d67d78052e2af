/*
 * runner_main.c - edsim-conform: runs clients through a suite of scenarios
 * and writes report.html, report.json and junit.xml.
 *
 *   edsim-conform --client NAME|'[smtp:|https:] COMMAND' [--client ...] --suite DIR [--case ID ...]
 *                 --out DIR [--jobs N] [--budget 60s] [--strict] [--baseline FILE]
 *                 [--edsim PATH] [--clients-dir DIR]
 *   edsim-conform --list --suite DIR          the cases, without running anything
 *   edsim-conform --clients                   the ready-made client definitions
 *   edsim-conform --render DIR                the reports again from DIR/results.json
 *
 * Each (client, case) pair runs in a child process of its own (at most
 * --jobs at once), which starts its own edsim, runs the client, grades the
 * evidence and writes CASE_DIR/result.json; the parent only schedules and
 * then writes the reports from those files. Exit status: 0 when no case
 * FAILs (WARN allowed unless --strict; with --baseline, when no case got
 * worse), 1 otherwise, 2 on usage or setup errors.
 */
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cases.h"
#include "catalog.h"
#include "clients.h"
#include "profiles.h"
#include "grade.h"
#include "log.h"
#include "report.h"
#include "run_case.h"
#include "util.h"
#include "ydoc.h"

#define MAX_CLIENTS 16
#define MAX_PICKS   256

struct options {
	const char *clients[MAX_CLIENTS];
	size_t nclients;
	const char *picks[MAX_PICKS]; /* --case */
	size_t npicks;
	const char *suite, *out, *baseline, *edsim, *clients_dir, *render;
	int jobs, strict, list, list_clients;
	double budget;
	char bin_dir[PATH_MAX], clients_path[PATH_MAX + 64];
};

struct job {
	const struct conform_case *c;
	const struct conform_client *cl;
	pid_t pid;
	char dir[PATH_MAX + 512];
	json_t *result;
};

static void usage(FILE *f)
{
	fputs(
	    "usage: edsim-conform --client NAME|'COMMAND' [--client ...] --suite DIR\n"
	    "                     [--case ID ...] --out DIR [--jobs N] [--budget 60s]\n"
	    "                     [--strict] [--baseline FILE] [--edsim PATH] [--clients-dir DIR]\n"
	    "       edsim-conform --list --suite DIR\n"
	    "       edsim-conform --clients [--clients-dir DIR]\n"
	    "       edsim-conform --render DIR\n"
	    "A COMMAND may start with the protocols it speaks: 'smtp: COMMAND', 'https: COMMAND'\n"
	    "(default: both); cases of the other protocol are then SKIPPED.\n",
	    f);
}

static void find_bin_dir(struct options *o)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	char *slash;

	snprintf(o->bin_dir, sizeof o->bin_dir, ".");
	if (n <= 0)
		return;
	self[n] = '\0';
	if ((slash = strrchr(self, '/')) != NULL) {
		*slash = '\0';
		snprintf(o->bin_dir, sizeof o->bin_dir, "%s", self);
	}
}

/* Definitions and edsim are looked for beside the binary (the repository
 * root), or two levels up for a build under build/asan or build/release. */
static void default_paths(struct options *o)
{
	static char edsim[PATH_MAX + 16];

	snprintf(o->clients_path, sizeof o->clients_path, "%s/conformance/clients", o->bin_dir);
	if (access(o->clients_path, R_OK) != 0)
		snprintf(o->clients_path, sizeof o->clients_path, "%s/../../conformance/clients",
		         o->bin_dir);
	if (o->clients_dir == NULL)
		o->clients_dir = o->clients_path;
	if (o->edsim == NULL) {
		snprintf(edsim, sizeof edsim, "%s/edsim", o->bin_dir);
		o->edsim = access(edsim, X_OK) == 0 ? edsim : "edsim";
	}
}

/* Clients run in their case's directory: every path handed to them must be
 * absolute. */
static int absolute_paths(struct options *o)
{
	static char clients[PATH_MAX], out[PATH_MAX];

	if (o->clients_dir != NULL && realpath(o->clients_dir, clients) != NULL)
		o->clients_dir = clients;
	if (o->out != NULL && !o->list) {
		if (make_dirs(o->out) < 0 || realpath(o->out, out) == NULL) {
			fprintf(stderr, "edsim-conform: --out %s: %s\n", o->out, strerror(errno));
			return -1;
		}
		o->out = out;
	}
	return 0;
}

static int parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longs[] = {{"client", required_argument, NULL, 'c'},
	                                      {"suite", required_argument, NULL, 's'},
	                                      {"case", required_argument, NULL, 'k'},
	                                      {"out", required_argument, NULL, 'o'},
	                                      {"jobs", required_argument, NULL, 'j'},
	                                      {"budget", required_argument, NULL, 'b'},
	                                      {"strict", no_argument, NULL, 'S'},
	                                      {"baseline", required_argument, NULL, 'B'},
	                                      {"list", no_argument, NULL, 'l'},
	                                      {"clients", no_argument, NULL, 'L'},
	                                      {"edsim", required_argument, NULL, 'e'},
	                                      {"clients-dir", required_argument, NULL, 'd'},
	                                      {"render", required_argument, NULL, 'r'},
	                                      {"help", no_argument, NULL, 'h'},
	                                      {NULL, 0, NULL, 0}};
	int ch;

	o->jobs = 1;
	o->budget = 60;
	while ((ch = getopt_long(argc, argv, "", longs, NULL)) != -1) {
		switch (ch) {
		case 'c':
			if (o->nclients == MAX_CLIENTS)
				return -1;
			o->clients[o->nclients++] = optarg;
			break;
		case 'k':
			if (o->npicks == MAX_PICKS)
				return -1;
			o->picks[o->npicks++] = optarg;
			break;
		case 's':
			o->suite = optarg;
			break;
		case 'o':
			o->out = optarg;
			break;
		case 'j':
			if ((o->jobs = atoi(optarg)) < 1 || o->jobs > 64) {
				fprintf(stderr, "edsim-conform: --jobs: expected 1 to 64\n");
				return -1;
			}
			break;
		case 'b':
			if (parse_duration(optarg, &o->budget) < 0 || o->budget <= 0) {
				fprintf(
				    stderr,
				    "edsim-conform: --budget: expected a duration such as 60s\n");
				return -1;
			}
			break;
		case 'S':
			o->strict = 1;
			break;
		case 'B':
			o->baseline = optarg;
			break;
		case 'l':
			o->list = 1;
			break;
		case 'L':
			o->list_clients = 1;
			break;
		case 'e':
			o->edsim = optarg;
			break;
		case 'd':
			o->clients_dir = optarg;
			break;
		case 'r':
			o->render = optarg;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			return -1;
		}
	}
	if (optind != argc)
		return -1;
	if (o->render || o->list_clients)
		return 0;
	if (o->suite == NULL || (!o->list && (o->nclients == 0 || o->out == NULL)))
		return -1;
	return 0;
}

/* ---- cases ---------------------------------------------------------------- */

static int picked(const struct options *o, const char *id)
{
	if (o->npicks == 0)
		return 1;
	for (size_t i = 0; i < o->npicks; i++)
		if (strcmp(o->picks[i], id) == 0)
			return 1;
	return 0;
}

static int unknown_picks(const struct options *o, const struct conform_case *cases, size_t n)
{
	int bad = 0;

	for (size_t i = 0; i < o->npicks; i++) {
		size_t k;
		for (k = 0; k < n && strcmp(o->picks[i], cases[k].id) != 0; k++)
			;
		if (k == n) {
			fprintf(stderr, "edsim-conform: --case %s: no such case in %s\n",
			        o->picks[i], o->suite);
			bad = 1;
		}
	}
	return bad;
}

static void list_cases(const struct options *o, const struct conform_case *cases, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const json_t *rows = json_object_get(cases[i].info, "catalog_rows"), *r;
		char ids[512] = "";
		size_t k, used = 0;
		if (!picked(o, cases[i].id))
			continue;
		json_array_foreach(rows, k, r) used +=
		    (size_t)snprintf(ids + used, used < sizeof ids ? sizeof ids - used : 0, "%s%s",
		                     k ? "," : "", json_string_value(json_object_get(r, "id")));
		printf("%-48s %-6s %-40s %s\n", cases[i].id, cases[i].https ? "https" : "smtp",
		       ids[0] ? ids : "-", cases[i].title);
	}
}

static json_t *cases_json(const struct options *o, const struct conform_case *cases, size_t n)
{
	json_t *list = json_array();

	for (size_t i = 0; i < n; i++) {
		json_t *ids, *r;
		size_t k;
		if (!picked(o, cases[i].id))
			continue;
		ids = json_array();
		json_array_foreach(json_object_get(cases[i].info, "catalog_rows"), k, r)
		    json_array_append(ids, json_object_get(r, "id"));
		json_array_append_new(list,
		                      json_pack("{s:s, s:s, s:o, s:s}", "id", cases[i].id, "title",
		                                cases[i].title, "catalog_rows", ids, "protocol",
		                                cases[i].https ? "https" : "smtp"));
	}
	return list;
}

/* ---- running ---------------------------------------------------------------- */

/* Why the client cannot take part in the case, or NULL. */
static const char *skip_reason(const struct conform_client *cl, const struct conform_case *c,
                               char *buf, size_t len)
{
	const char *missing = client_missing(cl);
	const char *profile = json_string_value(json_object_get(c->info, "profile"));

	if (!client_speaks_profile(cl, profile))
		snprintf(buf, len, "%s speaks another provider's API (profiles: %s); this is an %s case",
		         cl->name, cl->profiles[0], profile);
	else if (c->https && !cl->https)
		snprintf(buf, len, "%s does not speak the HTTPS API; this is an HTTPS case",
		         cl->name);
	else if (!c->https && !cl->smtp)
		snprintf(buf, len, "%s speaks only the HTTPS API; this is an SMTP case", cl->name);
	else if (missing != NULL)
		snprintf(buf, len, "%s needs %s, which is not installed", cl->name, missing);
	else
		return NULL;
	return buf;
}

/* In the child: one case, graded, written as result.json (error.txt when the
 * case could not be set up). */
static void child_run(const struct options *o, struct job *j)
{
	struct run_opts ro = {o->edsim, o->out, o->bin_dir, o->budget};
	char err[1024] = "", path[PATH_MAX + 600];
	json_t *ev = run_case(&ro, j->c, j->cl, err, sizeof err), *result;

	if (ev == NULL) {
		FILE *f;
		snprintf(path, sizeof path, "%s/error.txt", j->dir);
		if ((f = fopen(path, "w")) != NULL) {
			fprintf(f, "%s\n", err);
			fclose(f);
		}
		return;
	}
	result = grade_case(ev, o->strict);
	snprintf(path, sizeof path, "%s/result.json", j->dir);
	json_dump_file(result, path, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
	json_decref(result);
	json_decref(ev);
}

static int start_job(const struct options *o, struct job *j)
{
	fflush(NULL);
	j->pid = fork();
	if (j->pid == 0) {
		child_run(o, j);
		exit(0);
	}
	return j->pid < 0 ? -1 : 0;
}

static void print_result(const struct job *j, FILE *f)
{
	const char *verdict = json_string_value(json_object_get(j->result, "verdict"));
	double secs = json_number_value(json_object_get(j->result, "duration"));

	const char *reason = json_string_value(json_object_get(j->result, "reason"));
	int unmet = verdict != NULL && strcmp(verdict, "INFO") == 0 && reason != NULL;

	fprintf(f, "%-7s %-48s %s (%.1f s)%s\n", verdict ? verdict : "ERROR", j->c->id, j->cl->name,
	        secs, unmet ? ": condition not exercised" : "");
	fflush(f);
}

/* The child is done: read what it wrote. Returns -1 on a setup error. */
static int finish_job(struct job *j)
{
	char path[PATH_MAX + 600], buf[1024] = "";
	FILE *f;

	snprintf(path, sizeof path, "%s/result.json", j->dir);
	if ((j->result = json_load_file(path, 0, NULL)) != NULL) {
		print_result(j, stdout);
		return 0;
	}
	snprintf(path, sizeof path, "%s/error.txt", j->dir);
	if ((f = fopen(path, "r")) != NULL) {
		if (fgets(buf, sizeof buf, f) == NULL)
			buf[0] = '\0';
		fclose(f);
	}
	fprintf(stderr, "edsim-conform: %s (%s): setup error: %s", j->c->id, j->cl->name,
	        buf[0] ? buf : "the case's process ended without a result\n");
	return -1;
}

static int run_jobs(const struct options *o, struct job *jobs, size_t n)
{
	size_t next = 0, running = 0, done = 0;
	int setup_errors = 0;

	while (done < n) {
		while (next < n && running < (size_t)o->jobs) {
			if (jobs[next].result != NULL) { /* skipped: nothing to run */
				print_result(&jobs[next], stdout);
				next++;
				done++;
				continue;
			}
			if (start_job(o, &jobs[next]) < 0) {
				fprintf(stderr, "edsim-conform: cannot fork: %s\n",
				        strerror(errno));
				return -1;
			}
			next++;
			running++;
		}
		if (running == 0)
			continue;
		{
			int status;
			pid_t pid = wait(&status);
			for (size_t i = 0; i < next && pid > 0; i++)
				if (jobs[i].pid == pid) {
					jobs[i].pid = 0;
					running--;
					done++;
					setup_errors |= finish_job(&jobs[i]) < 0;
				}
		}
	}
	return setup_errors ? -1 : 0;
}

/* ---- reports ---------------------------------------------------------------- */

static int write_reports(const struct options *o, json_t *cases, json_t *clients, json_t *results,
                         const char *out, size_t *failures)
{
	struct report_meta m = {o->suite ? o->suite : "(rendered)", "edsim " EDSIM_VERSION,
	                        o->strict, o->baseline};
	json_t *baseline = NULL, *report;
	char path[PATH_MAX + 64], err[512];
	int rc = 0;

	if (o->baseline != NULL && (baseline = json_load_file(o->baseline, 0, NULL)) == NULL) {
		fprintf(stderr, "edsim-conform: --baseline %s: not a report.json\n", o->baseline);
		return -1;
	}
	report = report_build(&m, cases, clients, results, baseline);
	json_decref(baseline);
	snprintf(path, sizeof path, "%s/report.json", out);
	rc |= report_write_json(report, path, err, sizeof err);
	snprintf(path, sizeof path, "%s/junit.xml", out);
	rc |= report_write_junit(report, path, err, sizeof err);
	snprintf(path, sizeof path, "%s/report.html", out);
	rc |= report_write_html(report, path, err, sizeof err);
	if (rc != 0)
		fprintf(stderr, "edsim-conform: %s\n", err);
	*failures = report_failures(report);
	json_decref(report);
	return rc ? -1 : 0;
}

static void print_summary(json_t *results, json_t *clients, const char *out)
{
	static const char *const verdicts[] = {"PASS", "WARN", "FAIL", "INFO", "SKIPPED"};
	json_t *name, *r;
	size_t i, k;

	json_array_foreach(clients, i, name)
	{
		int count[5] = {0};
		json_array_foreach(results, k, r)
		{
			if (!json_equal(json_object_get(r, "client"), name))
				continue;
			for (int v = 0; v < 5; v++)
				if (strcmp(json_string_value(json_object_get(r, "verdict")),
				           verdicts[v]) == 0)
					count[v]++;
		}
		printf("%s: %d PASS, %d WARN, %d FAIL, %d INFO, %d SKIPPED\n",
		       json_string_value(name), count[0], count[1], count[2], count[3], count[4]);
	}
	printf("reports: %s/report.html, %s/report.json, %s/junit.xml\n", out, out, out);
}

static int render_only(const struct options *o)
{
	char path[PATH_MAX + 32];
	json_t *results, *cases, *clients = json_array();
	size_t failures = 0;
	int rc;

	snprintf(path, sizeof path, "%s/results.json", o->render);
	results = json_load_file(path, 0, NULL);
	snprintf(path, sizeof path, "%s/cases.json", o->render);
	cases = json_load_file(path, 0, NULL);
	if (!json_is_array(results) || !json_is_array(cases)) {
		fprintf(stderr, "edsim-conform: --render %s: needs results.json and cases.json\n",
		        o->render);
		json_decref(results);
		json_decref(cases);
		json_decref(clients);
		return 2;
	}
	/* no clients given: the reports take them from the results */
	rc = write_reports(o, cases, clients, results, o->render, &failures);
	json_decref(results);
	json_decref(cases);
	json_decref(clients);
	return rc < 0 ? 2 : failures > 0;
}

/* ---- main ---------------------------------------------------------------- */

static int load_clients(const struct options *o, struct conform_client *cl)
{
	char err[1024];

	for (size_t i = 0; i < o->nclients; i++)
		if (client_load(o->clients[i], o->clients_dir, &cl[i], err, sizeof err) < 0) {
			fprintf(stderr, "edsim-conform: %s\n", err);
			for (size_t k = 0; k < i; k++)
				client_free(&cl[k]);
			return -1;
		}
	return 0;
}

static struct job *plan(const struct options *o, const struct conform_case *cases, size_t ncases,
                        const struct conform_client *cl, size_t *njobs)
{
	struct job *jobs = calloc(ncases * o->nclients + 1, sizeof *jobs);
	char reason[512];

	*njobs = 0;
	for (size_t k = 0; jobs != NULL && k < o->nclients; k++)
		for (size_t i = 0; i < ncases; i++) {
			struct job *j = &jobs[*njobs];
			if (!picked(o, cases[i].id))
				continue;
			j->c = &cases[i];
			j->cl = &cl[k];
			snprintf(j->dir, sizeof j->dir, "%s/cases/%s/%s", o->out, cl[k].name,
			         cases[i].id);
			if (skip_reason(&cl[k], &cases[i], reason, sizeof reason) != NULL)
				j->result = grade_skipped(cases[i].info, cl[k].name, reason);
			(*njobs)++;
		}
	return jobs;
}

static int run_suite(const struct options *o, struct conform_case *cases, size_t ncases)
{
	struct conform_client cl[MAX_CLIENTS];
	json_t *results = json_array(), *clients = json_array(), *cjson;
	size_t njobs, failures = 0;
	struct job *jobs;
	int rc;

	if (load_clients(o, cl) < 0) {
		json_decref(results);
		json_decref(clients);
		return 2;
	}
	jobs = plan(o, cases, ncases, cl, &njobs);
	rc = make_dirs(o->out) < 0 ? -1 : run_jobs(o, jobs, njobs);
	for (size_t i = 0; i < njobs; i++)
		if (jobs[i].result != NULL)
			json_array_append_new(results, jobs[i].result);
	for (size_t k = 0; k < o->nclients; k++)
		json_array_append_new(clients, json_string(cl[k].name));
	cjson = cases_json(o, cases, ncases);
	{
		char path[PATH_MAX + 32];
		snprintf(path, sizeof path, "%s/results.json", o->out);
		json_dump_file(results, path, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
		snprintf(path, sizeof path, "%s/cases.json", o->out);
		json_dump_file(cjson, path, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
	}
	if (write_reports(o, cjson, clients, results, o->out, &failures) < 0)
		rc = -1;
	print_summary(results, clients, o->out);
	json_decref(results);
	json_decref(clients);
	json_decref(cjson);
	free(jobs);
	for (size_t k = 0; k < o->nclients; k++)
		client_free(&cl[k]);
	if (rc < 0)
		return 2;
	return failures > 0;
}

/* Each scenario is checked against the catalog of the profile it names. */
static int load_suite(const struct options *o, struct profile_catalogs *pc,
                      struct conform_case **cases, size_t *n)
{
	char *errors = NULL;

	if (cases_load(o->suite, profile_catalog, pc, cases, n, &errors) < 0) {
		fprintf(stderr, "edsim-conform: %s: the suite has errors:\n%s", o->suite,
		        errors ? errors : "");
		free(errors);
		return -1;
	}
	free(errors);
	if (*n == 0) {
		fprintf(stderr, "edsim-conform: %s: no scenario files\n", o->suite);
		return -1;
	}
	return unknown_picks(o, *cases, *n) ? -1 : 0;
}

int main(int argc, char **argv)
{
	struct options o = {0};
	struct conform_case *cases = NULL;
	struct profile_catalogs pc = {0};
	size_t ncases = 0;
	int rc;

	log_set_level(LOG_WARN);
	find_bin_dir(&o);
	if (parse_options(argc, argv, &o) < 0) {
		usage(stderr);
		return 2;
	}
	default_paths(&o);
	if (absolute_paths(&o) < 0)
		return 2;
	if (o.list_clients) {
		clients_list(o.clients_dir);
		return 0;
	}
	if (o.render)
		return render_only(&o);
	if (load_suite(&o, &pc, &cases, &ncases) < 0) {
		cases_free(cases, ncases);
		profile_catalogs_free(&pc);
		return 2;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (o.list) {
		list_cases(&o, cases, ncases);
		rc = 0;
	} else {
		rc = run_suite(&o, cases, ncases);
	}
	cases_free(cases, ncases);
	profile_catalogs_free(&pc);
	curl_global_cleanup();
	return rc;
}
