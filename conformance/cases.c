/*
 * cases.c - a suite's cases, read from its scenario files.
 *
 * Files are found by walking the directory and sorted by path, so a suite always runs in
 * the same order. Each file is loaded with the scenario checker of edsim
 * itself (scenario.c), against the catalog of the profile it names, so a
 * file the runner accepts is a file edsim serves under that profile. An SES
 * case carries the account's access key for the clients (its SMTP password
 * derived as SES does, ses_credentials.c).
 */
#include "cases.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "catalog.h"
#include "config.h"
#include "scenario.h"
#include "ses_credentials.h"
#include "util.h"

struct file_list {
	char **paths;
	size_t n, cap;
};

static int add_path(struct file_list *files, const char *path)
{
	if (files->n == files->cap) {
		size_t cap = files->cap ? 2 * files->cap : 64;
		char **grown = realloc(files->paths, cap * sizeof *grown);
		if (grown == NULL)
			return -1;
		files->paths = grown;
		files->cap = cap;
	}
	files->paths[files->n++] = strdup(path);
	return 0;
}

/* Every *.yaml file under dir, depth first. */
static int collect(const char *dir, struct file_list *files)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int rc = 0;

	if (d == NULL)
		return -1;
	while (rc == 0 && (e = readdir(d)) != NULL) {
		char path[4096];
		size_t len = strlen(e->d_name);
		struct stat st;
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		if (stat(path, &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode))
			rc = collect(path, files);
		else if (S_ISREG(st.st_mode) && len > 5 &&
		         strcmp(e->d_name + len - 5, ".yaml") == 0)
			rc = add_path(files, path);
	}
	closedir(d);
	return rc;
}

static int by_path(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int https_case(const struct scenario *sc)
{
	static const char *const https_names[] = {".https.", "ses.v2.", "ses.v1.", NULL};

	for (size_t i = 0; sc->name != NULL && https_names[i] != NULL; i++)
		if (strstr(sc->name, https_names[i]) != NULL)
			return 1;
	for (size_t i = 0; i < sc->nrules; i++) {
		enum scenario_stage st = sc->rules[i].when.stage;
		if (st == STAGE_REQUEST || st == STAGE_SUBMIT || st == STAGE_SUBMIT_RAW)
			return 1;
	}
	return 0;
}

/* A Retry-After the scenario's rules send, in seconds (0: none). */
static double retry_after(const struct scenario *sc)
{
	for (size_t i = 0; i < sc->nrules; i++)
		for (size_t k = 0; k < sc->rules[i].act.nheaders; k++)
			if (strcasecmp(sc->rules[i].act.header_names[k], "Retry-After") == 0)
				return atof(sc->rules[i].act.header_values[k]);
	return 0;
}

/* A catalog row for the grader: its reply as shown, and the code (SMTP
 * reply code or HTTP status) with the text template an answer of this row
 * carries in edsim's records (SMTP: the whole reply line; HTTPS: the error
 * code, which is what an HTTPS event's reply holds), by which the grader
 * recognises the row. */
static json_t *row_json(const struct cat_entry *e)
{
	char reply[600], tmpl[600];
	int smtp = e->protocol == CAT_SMTP;

	if (smtp) {
		snprintf(reply, sizeof reply, "%d%s%s %s", e->code, e->enhanced ? " " : "",
		         e->enhanced ? e->enhanced : "", e->text ? e->text : "");
		snprintf(tmpl, sizeof tmpl, "%s", reply);
	} else {
		snprintf(reply, sizeof reply, "%d %s: %s", e->status,
		         e->error_code ? e->error_code : "", e->message ? e->message : "");
		snprintf(tmpl, sizeof tmpl, "%s", e->error_code ? e->error_code : "");
	}
	return json_pack("{s:s, s:s, s:i, s:s, s:b, s:s?, s:s?}", "id", e->id, "reply", reply,
	                 "code", smtp ? e->code : e->status, "template", tmpl, "transient",
	                 e->kind != NULL && strcmp(e->kind, "transient") == 0, "remedy", e->remedy,
	                 "client_should", e->client_should);
}

/* The HTTPS error codes the catalog calls transient, whatever their status
 * (the grader does not take them for permanent failures). */
static json_t *transient_codes(const struct catalog *cat)
{
	json_t *codes = json_array();

	for (size_t i = 0; i < cat->n; i++) {
		const struct cat_entry *e = &cat->entries[i];
		int seen = 0;
		size_t k;
		json_t *c;
		if (e->protocol == CAT_SMTP || e->error_code == NULL || e->kind == NULL ||
		    strcmp(e->kind, "transient") != 0)
			continue;
		json_array_foreach(codes, k, c)
		{
			seen |= strcmp(json_string_value(c), e->error_code) == 0;
		}
		if (!seen)
			json_array_append_new(codes, json_string(e->error_code));
	}
	return codes;
}

static json_t *expect_json(const struct scenario_expect *x)
{
	json_t *o = json_object();

	if (x->outcome != NULL)
		json_object_set_new(o, "outcome", json_string(x->outcome));
	json_object_set_new(o, "attempts",
	                    json_pack("{s:I, s:I}", "min", (json_int_t)x->attempts_min, "max",
	                              (json_int_t)x->attempts_max));
	json_object_set_new(o, "min_gap", json_real(x->min_gap));
	json_object_set_new(o, "backoff", x->backoff ? json_string(x->backoff) : json_null());
	json_object_set_new(o, "gives_up",
	                    x->gives_up < 0 ? json_null() : json_boolean(x->gives_up));
	json_object_set_new(
	    o, "report",
	    json_pack("{s:o, s:i}", "failure",
	              x->report_failure < 0 ? json_null() : json_boolean(x->report_failure), "code",
	              x->report_code));
	return o;
}

/* A concrete address for an approved-sender glob: "*@example.com" gives
 * "sender@example.com". */
static char *sender_for(const char *glob)
{
	const char *at = strrchr(glob, '@');
	char buf[512];

	if (at == NULL || strpbrk(at, "*?[") != NULL)
		return NULL;
	if (strpbrk(glob, "*?[") == NULL)
		return strdup(glob);
	snprintf(buf, sizeof buf, "sender%s", at);
	return strdup(buf);
}

/* SES: the account's first access key (its id is the SMTP user, its SMTP
 * password is derived for the region), and its region. */
static void ses_user(const struct config *cfg, struct conform_case *c)
{
	char password[SES_SMTP_PASSWORD_LEN + 1];

	if (cfg->ses.nkeys == 0)
		return;
	ses_smtp_password(cfg->ses.keys[0].secret, cfg->ses.region, password);
	c->user = strdup(cfg->ses.keys[0].id);
	c->password = strdup(password);
	c->secret = strdup(cfg->ses.keys[0].secret);
	c->region = strdup(cfg->ses.region);
	if (cfg->ses.nidentities > 0) { /* a verified sender: an address, or one at a domain */
		const char *id = cfg->ses.identities[0];
		char buf[512];
		snprintf(buf, sizeof buf, "%s%s", strchr(id, '@') ? "" : "sender@", id);
		c->sender = strdup(buf);
	}
}

/* The first user the scenario's settings configure, if any; under SES, the
 * account's access key. */
static void settings_user(const struct scenario *sc, struct conform_case *c)
{
	struct config cfg;
	char *errors = NULL;
	int ses = sc->profile != NULL && strcmp(sc->profile, "ses") == 0;

	if (sc->settings_text == NULL && !ses)
		return;
	if (config_load(&cfg, NULL, &errors) == 0 &&
	    (sc->settings_text == NULL ||
	     config_overlay_text(&cfg, sc->settings_text, strlen(sc->settings_text), &errors) ==
	         0) &&
	    ses) {
		ses_user(&cfg, c);
	} else if (errors == NULL && cfg.nusers > 0) {
		c->user = strdup(cfg.users[0].name);
		c->password = strdup(cfg.users[0].password);
		for (size_t i = 0; i < cfg.users[0].napproved && c->sender == NULL; i++)
			c->sender = sender_for(cfg.users[0].approved_senders[i]);
	}
	free(errors);
	config_free(&cfg);
}

static void fill_case(struct conform_case *c, const struct scenario *sc, const char *path,
                      const struct catalog *cat)
{
	json_t *rows = json_array();

	c->id = strdup(sc->name);
	c->title = strdup(sc->title ? sc->title : sc->name);
	c->file = strdup(path);
	c->profile = sc->profile ? strdup(sc->profile) : NULL;
	c->https = https_case(sc);
	for (size_t i = 0; i < sc->nexercises; i++) {
		const struct cat_entry *e = catalog_find(cat, sc->exercises[i]);
		if (e != NULL)
			json_array_append_new(rows, row_json(e));
	}
	c->info =
	    json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:I, s:o, s:o, s:f}", "id", c->id, "title",
	              c->title, "file", path, "profile", cat->profile, "protocol",
	              c->https ? "https" : "smtp", "catalog_rows", rows, "rules",
	              (json_int_t)sc->nrules, "expect", expect_json(&sc->expect), "retry_after",
	              retry_after(sc) > 0 ? json_real(retry_after(sc)) : json_null(), "clock_speed",
	              sc->clock_speed > 0 ? sc->clock_speed : 1.0);
	json_object_set_new(c->info, "transient_codes", transient_codes(cat));
	settings_user(sc, c);
}

static void append_error(char **errors, const char *text)
{
	size_t old = *errors ? strlen(*errors) : 0, add = strlen(text);
	char *grown = realloc(*errors, old + add + 2);

	if (grown == NULL)
		return;
	memcpy(grown + old, text, add);
	grown[old + add] = '\0';
	if (add > 0 && text[add - 1] != '\n')
		strcat(grown, "\n");
	*errors = grown;
}

int cases_load(const char *dir, scenario_catalog_fn catalog_for, void *arg,
               struct conform_case **out, size_t *n, char **errors)
{
	struct file_list files = {0};
	int rc = 0;

	*errors = NULL;
	*out = NULL;
	*n = 0;
	if (collect(dir, &files) != 0) {
		append_error(errors, "cannot read the suite directory");
		rc = -1;
	}
	qsort(files.paths, files.n, sizeof *files.paths, by_path);
	*out = calloc(files.n ? files.n : 1, sizeof **out);
	for (size_t i = 0; i < files.n; i++) {
		size_t len = 0;
		char *text = read_file(files.paths[i], &len), *errs = NULL;
		const struct catalog *cat = NULL;
		struct scenario *sc = text
		                          ? scenario_load_for_profile(files.paths[i], text, len,
		                                                      catalog_for, arg, &cat, &errs)
		                          : NULL;
		if (sc != NULL)
			fill_case(&(*out)[(*n)++], sc, files.paths[i], cat);
		else {
			append_error(errors, errs ? errs : files.paths[i]);
			rc = -1;
		}
		scenario_free(sc);
		free(errs);
		free(text);
		free(files.paths[i]);
	}
	free(files.paths);
	return rc;
}

void cases_free(struct conform_case *cases, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(cases[i].id);
		free(cases[i].title);
		free(cases[i].file);
		free(cases[i].profile);
		free(cases[i].user);
		free(cases[i].password);
		free(cases[i].sender);
		free(cases[i].secret);
		free(cases[i].region);
		json_decref(cases[i].info);
	}
	free(cases);
}
