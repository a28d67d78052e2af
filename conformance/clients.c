/*
 * clients.c - client definitions (YAML, read with edsim's ydoc so errors
 * name the file, line and column) and inline commands.
 */
#include "clients.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"
#include "ydoc.h"

static int load_kind(struct ydoc *d, yaml_node_t *n, struct conform_client *c)
{
	const char *s = ydoc_scalar(n);

	if (s != NULL && strcmp(s, "command") == 0)
		c->kind = CLIENT_COMMAND;
	else if (s != NULL && strcmp(s, "mta") == 0)
		c->kind = CLIENT_MTA;
	else if (s != NULL && strcmp(s, "expect") == 0)
		c->kind = CLIENT_EXPECT;
	else
		return ydoc_error(d, n, "kind: expected command, mta or expect");
	return 0;
}

static int load_protocols(struct ydoc *d, yaml_node_t *n, struct conform_client *c)
{
	if (!ydoc_is_seq(n))
		return ydoc_error(d, n, "protocols: expected a list of smtp and https");
	for (size_t i = 0; i < ydoc_seq_len(n); i++) {
		yaml_node_t *item = ydoc_seq_item(d, n, i);
		const char *s = ydoc_scalar(item);
		if (s != NULL && strcmp(s, "smtp") == 0)
			c->smtp = 1;
		else if (s != NULL && strcmp(s, "https") == 0)
			c->https = 1;
		else
			return ydoc_error(d, item, "protocols: expected smtp or https");
	}
	return 0;
}

static int load_requires(struct ydoc *d, yaml_node_t *n, struct conform_client *c)
{
	int rc = 0;

	if (!ydoc_is_seq(n))
		return ydoc_error(d, n, "requires: expected a list of program names");
	c->nrequires = ydoc_seq_len(n);
	c->requires = calloc(c->nrequires ? c->nrequires : 1, sizeof *c->requires);
	for (size_t i = 0; i < c->nrequires; i++)
		rc |= ydoc_string(d, ydoc_seq_item(d, n, i), "requires[]", &c->requires[i]);
	return rc;
}

static int load_profiles(struct ydoc *d, yaml_node_t *n, struct conform_client *c)
{
	int rc = 0;

	if (!ydoc_is_seq(n) || ydoc_seq_len(n) == 0)
		return ydoc_error(d, n, "profiles: expected a list of profile names (oci, ses)");
	c->nprofiles = ydoc_seq_len(n);
	c->profiles = calloc(c->nprofiles, sizeof *c->profiles);
	for (size_t i = 0; i < c->nprofiles; i++)
		rc |= ydoc_string(d, ydoc_seq_item(d, n, i), "profiles[]", &c->profiles[i]);
	return rc;
}

int client_speaks_profile(const struct conform_client *c, const char *profile)
{
	if (c->nprofiles == 0 || profile == NULL)
		return 1;
	for (size_t i = 0; i < c->nprofiles; i++)
		if (c->profiles[i] != NULL && strcmp(c->profiles[i], profile) == 0)
			return 1;
	return 0;
}

/* What each kind needs. */
static int check_kind(struct ydoc *d, yaml_node_t *root, const struct conform_client *c)
{
	if (c->kind == CLIENT_COMMAND && c->command == NULL)
		return ydoc_error(d, root, "kind command: give command");
	if (c->kind == CLIENT_EXPECT && c->script == NULL)
		return ydoc_error(d, root, "kind expect: give script");
	if (c->kind == CLIENT_MTA && (c->start == NULL || c->submit == NULL || c->stop == NULL))
		return ydoc_error(d, root, "kind mta: give start, submit and stop");
	if (c->kind != CLIENT_MTA && ydoc_get(d, root, "settle") != NULL)
		return ydoc_error(d, ydoc_get(d, root, "settle"), "settle: only for kind mta");
	if (!c->smtp && !c->https)
		return ydoc_error(d, root, "protocols: give smtp, https or both");
	return 0;
}

static int load_definition(struct ydoc *d, struct conform_client *c)
{
	static const char *const keys[] = {
	    "name",  "description", "kind", "protocols", "requires", "command", "script",
	    "start", "submit",      "stop", "settle",    "profiles", NULL};
	static const char *const strings[] = {"name",  "description", "command", "script",
	                                      "start", "submit",      "stop"};
	char **slots[] = {&c->name,  &c->description, &c->command, &c->script,
	                  &c->start, &c->submit,      &c->stop};
	yaml_node_t *root = ydoc_root(d), *v;
	int rc = 0;

	if (ydoc_expect_map(d, root, "client definition") < 0)
		return -1;
	rc |= ydoc_check_keys(d, root, keys);
	for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++)
		if ((v = ydoc_get(d, root, strings[i])) != NULL)
			rc |= ydoc_string(d, v, strings[i], slots[i]);
	if ((v = ydoc_get(d, root, "kind")) != NULL)
		rc |= load_kind(d, v, c);
	if ((v = ydoc_get(d, root, "protocols")) != NULL)
		rc |= load_protocols(d, v, c);
	if ((v = ydoc_get(d, root, "requires")) != NULL)
		rc |= load_requires(d, v, c);
	if ((v = ydoc_get(d, root, "profiles")) != NULL)
		rc |= load_profiles(d, v, c);
	c->settle = 1.5;
	if ((v = ydoc_get(d, root, "settle")) != NULL)
		rc |= ydoc_duration(d, v, "settle", &c->settle);
	if (rc == 0)
		rc = check_kind(d, root, c);
	return rc;
}

/* "smtp: CMD", "https: CMD" or "smtp,https: CMD": the protocols an inline
 * command speaks; returns where the command starts (spec when no prefix:
 * both protocols). */
static const char *inline_protocols(const char *spec, struct conform_client *c)
{
	static const struct {
		const char *prefix;
		int smtp, https;
	} prefixes[] = {
	    {"smtp,https:", 1, 1}, {"https,smtp:", 1, 1}, {"smtp:", 1, 0}, {"https:", 0, 1}};

	c->smtp = c->https = 1;
	for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
		size_t n = strlen(prefixes[i].prefix);
		if (strncmp(spec, prefixes[i].prefix, n) == 0) {
			c->smtp = prefixes[i].smtp, c->https = prefixes[i].https;
			return spec + n + strspn(spec + n, " \t");
		}
	}
	return spec;
}

static int load_inline(const char *spec, struct conform_client *c)
{
	const char *command = inline_protocols(spec, c);
	size_t n = strcspn(command, " \t");
	char name[64];

	snprintf(name, sizeof name, "%.*s", (int)(n < 60 ? n : 60), command);
	c->name = strdup(name);
	c->description = strdup("a command given on the command line");
	c->kind = CLIENT_COMMAND;
	c->command = strdup(command);
	c->dir = strdup(".");
	return 0;
}

int client_load(const char *spec, const char *clients_dir, struct conform_client *c, char *err,
                size_t errlen)
{
	char path[4096];
	struct ydoc d;
	size_t len = 0;
	char *text;
	int rc;

	memset(c, 0, sizeof *c);
	if (strpbrk(spec, " \t") != NULL)
		return load_inline(spec, c);
	snprintf(path, sizeof path, "%s/%s.yaml", clients_dir, spec);
	if ((text = read_file(path, &len)) == NULL) {
		snprintf(err, errlen, "unknown client '%s': no %s (see --clients)", spec, path);
		return -1;
	}
	rc = ydoc_load(&d, path, (const unsigned char *)text, len);
	if (rc == 0)
		rc = load_definition(&d, c);
	if (rc != 0)
		snprintf(err, errlen, "%s", ydoc_errors(&d));
	ydoc_free(&d);
	free(text);
	if (c->name == NULL)
		c->name = strdup(spec);
	c->dir = strdup(clients_dir);
	if (rc != 0)
		client_free(c);
	return rc ? -1 : 0;
}

void client_free(struct conform_client *c)
{
	free(c->name);
	free(c->description);
	for (size_t i = 0; i < c->nrequires; i++)
		free(c->requires[i]);
	free(c->requires);
	for (size_t i = 0; i < c->nprofiles; i++)
		free(c->profiles[i]);
	free(c->profiles);
	free(c->command);
	free(c->script);
	free(c->start);
	free(c->submit);
	free(c->stop);
	free(c->dir);
	memset(c, 0, sizeof *c);
}

static int on_path(const char *program)
{
	const char *path = getenv("PATH");
	char *copy, *dir, *save = NULL;
	int found = 0;

	copy = strdup(path ? path : "/usr/bin:/bin");
	for (dir = strtok_r(copy, ":", &save); dir != NULL && !found;
	     dir = strtok_r(NULL, ":", &save)) {
		char full[4096];
		snprintf(full, sizeof full, "%s/%s", dir, program);
		found = access(full, X_OK) == 0;
	}
	free(copy);
	return found;
}

const char *client_missing(const struct conform_client *c)
{
	for (size_t i = 0; i < c->nrequires; i++) {
		char path[4096];
		if (c->requires[i][0] == '/') { /* an absolute path: a file a package installs */
			if (access(c->requires[i], F_OK) != 0)
			return c->requires[i];
		} else if (strchr(c->requires[i], '/') != NULL) {
			snprintf(path, sizeof path, "%s/%s", c->dir, c->requires[i]);
			if (access(path, F_OK) != 0)
			return c->requires[i];
		} else {
			snprintf(path, sizeof path, "%s/%s", c->dir, c->requires[i]);
			if (access(path, X_OK) != 0 && !on_path(c->requires[i]))
			return c->requires[i];
		}
	}
	return NULL;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void clients_list(const char *clients_dir)
{
	DIR *dir = opendir(clients_dir);
	struct dirent *e;
	char *names[256];
	size_t n = 0;

	if (dir == NULL)
		return;
	while ((e = readdir(dir)) != NULL && n < 256) {
		size_t len = strlen(e->d_name);
		if (len > 5 && strcmp(e->d_name + len - 5, ".yaml") == 0)
			names[n++] = strndup(e->d_name, len - 5);
	}
	closedir(dir);
	qsort(names, n, sizeof *names, by_name);
	for (size_t i = 0; i < n; i++) {
		struct conform_client c;
		char err[512];
		if (client_load(names[i], clients_dir, &c, err, sizeof err) == 0) {
			printf("%-18s %-11s %s\n", c.name,
			       c.smtp && c.https ? "smtp,https"
			       : c.smtp          ? "smtp"
			                         : "https",
			       c.description ? c.description : "");
			client_free(&c);
		}
		free(names[i]);
	}
}
