/*
 * config.c - reads the YAML configuration into struct config.
 *
 * The same reader serves the embedded defaults and the user's file, so every
 * key has one parser and one error message. Unknown keys are errors: a typo
 * must not silently fall back to a default.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "embedded.h"
#include "util.h"
#include "xmalloc.h"
#include "ydoc.h"

void config_set_string(char **slot, const char *value)
{
	free(*slot);
	*slot = xstrdup(value);
}

static int load_listen(struct ydoc *d, yaml_node_t *n, struct config *cfg)
{
	static const char *const keys[] = {"smtp", "smtps", "https", "control", NULL};
	yaml_node_t *v;
	int rc = 0;

	if (ydoc_expect_map(d, n, "listen") < 0)
		return -1;
	rc |= ydoc_check_keys(d, n, keys);
	if ((v = ydoc_get(d, n, "smtp")) != NULL)
		rc |= ydoc_string_or_null(d, v, "listen.smtp", &cfg->listen_smtp);
	if ((v = ydoc_get(d, n, "smtps")) != NULL)
		rc |= ydoc_string_or_null(d, v, "listen.smtps", &cfg->listen_smtps);
	if ((v = ydoc_get(d, n, "https")) != NULL)
		rc |= ydoc_string_or_null(d, v, "listen.https", &cfg->listen_https);
	if ((v = ydoc_get(d, n, "control")) != NULL)
		rc |= ydoc_string_or_null(d, v, "listen.control", &cfg->listen_control);
	return rc;
}

/* The names of the enums' values, in their order (config.h). */
static const char *const quota_units[] = {"message", "recipient-chunk", NULL};
static const char *const relay_modes[] = {"capture", "smarthost", "mx", NULL};
static const char *const relay_tls_names[] = {"none", "may", "encrypt", NULL};
static const char *const https_auths[] = {"off", "present", "verify", NULL};

static int load_limits(struct ydoc *d, yaml_node_t *n, struct config_limits *l)
{
	static const char *const keys[] = {"message_bytes",
	                                   "header_bytes",
	                                   "line_bytes",
	                                   "recipients",
	                                   "connections_per_ip",
	                                   "auth_failures_per_ip",
	                                   "auth_failure_window",
	                                   "command_timeout",
	                                   "per_minute",
	                                   "per_day",
	                                   "quota_unit",
	                                   "store_bytes",
	                                   "drain_timeout",
	                                   "requests_per_second",
	                                   NULL};
	struct {
		const char *key;
		unsigned long long *slot;
	} counts[] = {
	    {"message_bytes", &l->message_bytes},
	    {"header_bytes", &l->header_bytes},
	    {"line_bytes", &l->line_bytes},
	    {"recipients", &l->recipients},
	    {"connections_per_ip", &l->connections_per_ip},
	    {"auth_failures_per_ip", &l->auth_failures_per_ip},
	    {"per_minute", &l->per_minute},
	    {"per_day", &l->per_day},
	    {"store_bytes", &l->store_bytes},
	    {"requests_per_second", &l->requests_per_second},
	};
	struct {
		const char *key;
		double *slot;
	} durations[] = {{"auth_failure_window", &l->auth_failure_window},
	                 {"command_timeout", &l->command_timeout},
	                 {"drain_timeout", &l->drain_timeout}};
	yaml_node_t *v;
	char what[64];
	int rc = 0;

	if (ydoc_expect_map(d, n, "limits") < 0)
		return -1;
	rc |= ydoc_check_keys(d, n, keys);
	for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++)
		if ((v = ydoc_get(d, n, counts[i].key)) != NULL) {
			snprintf(what, sizeof what, "limits.%s", counts[i].key);
			rc |= ydoc_uint(d, v, what, counts[i].slot);
		}
	for (size_t i = 0; i < sizeof durations / sizeof durations[0]; i++)
		if ((v = ydoc_get(d, n, durations[i].key)) != NULL) {
			snprintf(what, sizeof what, "limits.%s", durations[i].key);
			rc |= ydoc_duration(d, v, what, durations[i].slot);
		}
	if ((v = ydoc_get(d, n, "quota_unit")) != NULL) {
		int choice = (int)l->quota_unit;
		rc |= ydoc_choice(d, v, "limits.quota_unit", quota_units, &choice);
		l->quota_unit = (enum quota_unit)choice;
	}
	if (l->line_bytes < 80)
		rc |= ydoc_error(d, n, "limits.line_bytes: expected at least 80");
	return rc;
}

static void free_users(struct config *cfg)
{
	for (size_t i = 0; i < cfg->nusers; i++) {
		free(cfg->users[i].name);
		free(cfg->users[i].password);
		free(cfg->users[i].public_key);
		strings_free(cfg->users[i].approved_senders, cfg->users[i].napproved);
	}
	free(cfg->users);
	cfg->users = NULL;
	cfg->nusers = 0;
}

static int load_user(struct ydoc *d, yaml_node_t *n, struct config_user *u)
{
	static const char *const keys[] = {"name", "password", "approved_senders", "public_key",
	                                   NULL};
	yaml_node_t *v;
	int rc = 0;

	if (ydoc_expect_map(d, n, "users[]") < 0)
		return -1;
	rc |= ydoc_check_keys(d, n, keys);
	v = ydoc_get(d, n, "name");
	rc |= ydoc_string(d, v ? v : n, "users[].name", &u->name);
	v = ydoc_get(d, n, "password");
	rc |= ydoc_string(d, v ? v : n, "users[].password", &u->password);
	if ((v = ydoc_get(d, n, "public_key")) != NULL)
		rc |= ydoc_string_or_null(d, v, "users[].public_key", &u->public_key);
	if ((v = ydoc_get(d, n, "approved_senders")) != NULL)
		rc |= ydoc_string_list(d, v, "users[].approved_senders", &u->approved_senders,
		                       &u->napproved);
	return rc;
}

static int load_users(struct ydoc *d, yaml_node_t *n, struct config *cfg)
{
	size_t len = ydoc_seq_len(n);
	int rc = 0;

	if (!ydoc_is_seq(n))
		return ydoc_error(d, n,
		                  "users: expected a list of {name, password, approved_senders}");
	free_users(cfg);
	cfg->users = xcalloc(len, sizeof *cfg->users);
	cfg->nusers = len;
	for (size_t i = 0; i < len; i++)
		rc |= load_user(d, ydoc_seq_item(d, n, i), &cfg->users[i]);
	return rc;
}

static int load_section_strings(struct ydoc *d, yaml_node_t *n, const char *section,
                                const char *const *keys, char **const *slots)
{
	yaml_node_t *v;
	char what[64];
	int rc = 0;

	if (ydoc_expect_map(d, n, section) < 0)
		return -1;
	rc |= ydoc_check_keys(d, n, keys);
	for (size_t i = 0; keys[i] != NULL; i++)
		if ((v = ydoc_get(d, n, keys[i])) != NULL) {
			snprintf(what, sizeof what, "%s.%s", section, keys[i]);
			rc |= ydoc_string_or_null(d, v, what, slots[i]);
		}
	return rc;
}

static int load_auth(struct ydoc *d, yaml_node_t *n, struct config *cfg)
{
	static const char *const keys[] = {"required", NULL};
	yaml_node_t *v;

	if (ydoc_expect_map(d, n, "auth") < 0 || ydoc_check_keys(d, n, keys) < 0)
		return -1;
	if ((v = ydoc_get(d, n, "required")) != NULL)
		return ydoc_bool(d, v, "auth.required", &cfg->auth_required);
	return 0;
}

static int load_https(struct ydoc *d, yaml_node_t *n, struct config *cfg)
{
	static const char *const keys[] = {"auth", NULL};
	yaml_node_t *v;
	int choice;

	if (ydoc_expect_map(d, n, "https") < 0 || ydoc_check_keys(d, n, keys) < 0)
		return -1;
	if ((v = ydoc_get(d, n, "auth")) == NULL)
		return 0;
	choice = (int)cfg->https_auth;
	if (ydoc_choice(d, v, "https.auth", https_auths, &choice) < 0)
		return -1;
	cfg->https_auth = (enum https_auth)choice;
	return 0;
}

static int load_log(struct ydoc *d, yaml_node_t *n, struct config *cfg)
{
	static const char *const keys[] = {"level", NULL};
	char **slots[] = {&cfg->log_level};
	const char *s;

	if (load_section_strings(d, n, "log", keys, slots) < 0)
		return -1;
	s = cfg->log_level;
	if (s == NULL ||
	    (strcmp(s, "debug") && strcmp(s, "info") && strcmp(s, "warn") && strcmp(s, "error")))
		return ydoc_error(d, ydoc_get(d, n, "level"),
		                  "log.level: expected debug, info, warn or error");
	return 0;
}

static int load_relay(struct ydoc *d, yaml_node_t *n, struct config_relay *r)
{
	static const char *const keys[] = {"mode",     "host",     "port", "tls",  "user",
	                                   "password", "resolver", "ca",   "helo", "connections",
	                                   "timeout",  "idle",     NULL};
	static const char *const strings[] = {"host", "user", "password", "resolver", "ca", "helo"};
	char **slots[] = {&r->host, &r->user, &r->password, &r->resolver, &r->ca, &r->helo};
	yaml_node_t *v;
	char what[64];
	int rc = 0;

	if (ydoc_expect_map(d, n, "relay") < 0)
		return -1;
	rc |= ydoc_check_keys(d, n, keys);
	for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++)
		if ((v = ydoc_get(d, n, strings[i])) != NULL) {
			snprintf(what, sizeof what, "relay.%s", strings[i]);
			rc |= ydoc_string_or_null(d, v, what, slots[i]);
		}
	if ((v = ydoc_get(d, n, "mode")) != NULL) {
		int choice = (int)r->mode;
		rc |= ydoc_choice(d, v, "relay.mode", relay_modes, &choice);
		r->mode = (enum relay_mode)choice;
	}
	if ((v = ydoc_get(d, n, "tls")) != NULL) {
		int choice = (int)r->tls;
		rc |= ydoc_choice(d, v, "relay.tls", relay_tls_names, &choice);
		r->tls = (enum relay_tls)choice;
	}
	if ((v = ydoc_get(d, n, "port")) != NULL &&
	    (ydoc_uint(d, v, "relay.port", &r->port) < 0 || r->port == 0 || r->port > 65535))
		rc |= ydoc_error(d, v, "relay.port: expected a port number (1-65535)");
	if ((v = ydoc_get(d, n, "connections")) != NULL &&
	    (ydoc_uint(d, v, "relay.connections", &r->connections) < 0 || r->connections == 0))
		rc |= ydoc_error(d, v, "relay.connections: expected at least 1");
	if ((v = ydoc_get(d, n, "timeout")) != NULL)
		rc |= ydoc_duration(d, v, "relay.timeout", &r->timeout);
	if ((v = ydoc_get(d, n, "idle")) != NULL)
		rc |= ydoc_duration(d, v, "relay.idle", &r->idle);
	return rc;
}

static int check_relay(struct ydoc *d, yaml_node_t *n, const struct config_relay *r)
{
	if (r->mode == RELAY_SMARTHOST && r->host == NULL)
		return ydoc_error(d, n, "relay.host: mode smarthost needs a host");
	if ((r->user == NULL) != (r->password == NULL))
		return ydoc_error(d, n, "relay: give both user and password, or neither");
	if (r->user != NULL && r->tls == RELAY_TLS_NONE)
		return ydoc_error(d, n,
		                  "relay.user: AUTH is sent only under TLS: set relay.tls "
		                  "to may or encrypt");
	return 0;
}

static int load_retry(struct ydoc *d, yaml_node_t *n, struct config_retry *r)
{
	static const char *const keys[] = {"first", "factor", "cap", "max_age", NULL};
	struct {
		const char *key;
		double *slot;
	} durations[] = {{"first", &r->first}, {"cap", &r->cap}, {"max_age", &r->max_age}};
	yaml_node_t *v;
	char what[64];
	int rc = 0;

	if (ydoc_expect_map(d, n, "retry") < 0)
		return -1;
	rc |= ydoc_check_keys(d, n, keys);
	for (size_t i = 0; i < sizeof durations / sizeof durations[0]; i++)
		if ((v = ydoc_get(d, n, durations[i].key)) != NULL) {
			snprintf(what, sizeof what, "retry.%s", durations[i].key);
			rc |= ydoc_duration(d, v, what, durations[i].slot);
		}
	if ((v = ydoc_get(d, n, "factor")) != NULL)
		rc |= ydoc_number(d, v, "retry.factor", 1, 100, &r->factor);
	if (rc == 0 && (r->first <= 0 || r->cap < r->first))
		rc |= ydoc_error(d, n, "retry: expected first > 0 and cap >= first");
	return rc;
}

static void free_dkim(struct config *cfg)
{
	for (size_t i = 0; i < cfg->ndkim; i++) {
		free(cfg->dkim[i].domain);
		free(cfg->dkim[i].selector);
		free(cfg->dkim[i].key);
	}
	free(cfg->dkim);
	cfg->dkim = NULL;
	cfg->ndkim = 0;
}

static int load_dkim_entry(struct ydoc *d, yaml_node_t *n, struct config_dkim *k)
{
	static const char *const keys[] = {"domain", "selector", "key", NULL};
	char **slots[] = {&k->domain, &k->selector, &k->key};
	int rc = 0;

	if (ydoc_expect_map(d, n, "dkim[]") < 0)
		return -1;
	rc |= ydoc_check_keys(d, n, keys);
	for (size_t i = 0; keys[i] != NULL; i++) {
		yaml_node_t *v = ydoc_get(d, n, keys[i]);
		char what[32];
		snprintf(what, sizeof what, "dkim[].%s", keys[i]);
		rc |= ydoc_string(d, v ? v : n, what, slots[i]);
	}
	return rc;
}

static int load_dkim(struct ydoc *d, yaml_node_t *n, struct config *cfg)
{
	size_t len = ydoc_seq_len(n);
	int rc = 0;

	if (!ydoc_is_seq(n))
		return ydoc_error(d, n, "dkim: expected a list of {domain, selector, key}");
	free_dkim(cfg);
	cfg->dkim = xcalloc(len, sizeof *cfg->dkim);
	cfg->ndkim = len;
	for (size_t i = 0; i < len; i++)
		rc |= load_dkim_entry(d, ydoc_seq_item(d, n, i), &cfg->dkim[i]);
	return rc;
}

static void free_webhooks(struct config *cfg)
{
	for (size_t i = 0; i < cfg->nwebhooks; i++) {
		free(cfg->webhooks[i].url);
		free(cfg->webhooks[i].secret);
		strings_free(cfg->webhooks[i].events, cfg->webhooks[i].nevents);
	}
	free(cfg->webhooks);
	cfg->webhooks = NULL;
	cfg->nwebhooks = 0;
}

static int load_webhook(struct ydoc *d, yaml_node_t *n, struct config_webhook *w)
{
	static const char *const keys[] = {"url", "events", "secret", NULL};
	yaml_node_t *v;
	int rc = 0;

	if (ydoc_expect_map(d, n, "webhooks[]") < 0)
		return -1;
	rc |= ydoc_check_keys(d, n, keys);
	v = ydoc_get(d, n, "url");
	rc |= ydoc_string(d, v ? v : n, "webhooks[].url", &w->url);
	if (w->url != NULL && strncmp(w->url, LIT("http://")) != 0 &&
	    strncmp(w->url, LIT("https://")) != 0)
		rc |= ydoc_error(d, v, "webhooks[].url: expected an http:// or https:// URL");
	if ((v = ydoc_get(d, n, "secret")) != NULL)
		rc |= ydoc_string_or_null(d, v, "webhooks[].secret", &w->secret);
	if ((v = ydoc_get(d, n, "events")) != NULL)
		rc |= ydoc_string_list(d, v, "webhooks[].events", &w->events, &w->nevents);
	return rc;
}

static int load_webhooks(struct ydoc *d, yaml_node_t *n, struct config *cfg)
{
	size_t len = ydoc_seq_len(n);
	int rc = 0;

	if (!ydoc_is_seq(n))
		return ydoc_error(d, n, "webhooks: expected a list of {url, events, secret}");
	free_webhooks(cfg);
	cfg->webhooks = xcalloc(len, sizeof *cfg->webhooks);
	cfg->nwebhooks = len;
	for (size_t i = 0; i < len; i++)
		rc |= load_webhook(d, ydoc_seq_item(d, n, i), &cfg->webhooks[i]);
	return rc;
}

static int load_root(struct ydoc *d, yaml_node_t *root, struct config *cfg)
{
	static const char *const keys[] = {
	    "listen", "hostname",     "state_dir", "store",   "tls", "limits",
	    "users",  "suppressions", "auth",      "https",   "log", "relay",
	    "retry",  "dkim",         "webhooks",  "profile", "ses", NULL};
	static const char *const store_keys[] = {"path", NULL};
	static const char *const tls_keys[] = {"cert", "key", NULL};
	char **store_slots[] = {&cfg->store_path};
	char **tls_slots[] = {&cfg->tls_cert, &cfg->tls_key};
	yaml_node_t *v;
	int rc = 0;

	if (ydoc_expect_map(d, root, "configuration") < 0)
		return -1;
	rc |= ydoc_check_keys(d, root, keys);
	if ((v = ydoc_get(d, root, "listen")) != NULL)
		rc |= load_listen(d, v, cfg);
	if ((v = ydoc_get(d, root, "profile")) != NULL)
		rc |= ydoc_string(d, v, "profile", &cfg->profile);
	if ((v = ydoc_get(d, root, "hostname")) != NULL)
		rc |= ydoc_string(d, v, "hostname", &cfg->hostname);
	if ((v = ydoc_get(d, root, "state_dir")) != NULL)
		rc |= ydoc_string(d, v, "state_dir", &cfg->state_dir);
	if ((v = ydoc_get(d, root, "store")) != NULL)
		rc |= load_section_strings(d, v, "store", store_keys, store_slots);
	if ((v = ydoc_get(d, root, "tls")) != NULL)
		rc |= load_section_strings(d, v, "tls", tls_keys, tls_slots);
	if ((v = ydoc_get(d, root, "limits")) != NULL)
		rc |= load_limits(d, v, &cfg->limits);
	if ((v = ydoc_get(d, root, "users")) != NULL)
		rc |= load_users(d, v, cfg);
	if ((v = ydoc_get(d, root, "suppressions")) != NULL)
		rc |=
		    ydoc_string_list(d, v, "suppressions", &cfg->suppressions, &cfg->nsuppressions);
	if ((v = ydoc_get(d, root, "auth")) != NULL)
		rc |= load_auth(d, v, cfg);
	if ((v = ydoc_get(d, root, "log")) != NULL)
		rc |= load_log(d, v, cfg);
	if ((v = ydoc_get(d, root, "https")) != NULL)
		rc |= load_https(d, v, cfg);
	if ((v = ydoc_get(d, root, "relay")) != NULL && (rc |= load_relay(d, v, &cfg->relay)) == 0)
		rc |= check_relay(d, v, &cfg->relay);
	if ((v = ydoc_get(d, root, "retry")) != NULL)
		rc |= load_retry(d, v, &cfg->retry);
	if ((v = ydoc_get(d, root, "dkim")) != NULL)
		rc |= load_dkim(d, v, cfg);
	if ((v = ydoc_get(d, root, "webhooks")) != NULL)
		rc |= load_webhooks(d, v, cfg);
	if ((v = ydoc_get(d, root, "ses")) != NULL)
		rc |= config_ses_load(&cfg->ses, d, v);
	if (cfg->store_path == NULL)
		rc |= ydoc_error(d, ydoc_get(d, root, "store"),
		                 "store.path: expected a path or ':memory:'");
	if ((cfg->tls_cert == NULL) != (cfg->tls_key == NULL))
		rc |= ydoc_error(d, ydoc_get(d, root, "tls"),
		                 "tls: give both cert and key, or neither");
	return rc;
}

static int load_text(struct config *cfg, const char *file, const unsigned char *text, size_t len,
                     char **errors)
{
	struct ydoc d;
	int rc = ydoc_load(&d, file, text, len);

	if (rc == 0)
		rc = load_root(&d, ydoc_root(&d), cfg);
	if (rc != 0)
		*errors = xstrdup(ydoc_errors(&d));
	ydoc_free(&d);
	return rc ? -1 : 0;
}

static int read_config_file(const char *file, unsigned char **text, size_t *len, char **errors)
{
	char msg[512];

	if ((*text = (unsigned char *)read_file(file, len)) != NULL)
		return 0;
	snprintf(msg, sizeof msg, "%s: cannot open: %s\n", file, strerror(errno));
	*errors = xstrdup(msg);
	return -1;
}

int config_load_layered(struct config *cfg, const char *name, const char *layer, size_t layer_len,
                        const char *file, char **errors)
{
	unsigned char *text = NULL;
	size_t len = 0;
	int rc;

	memset(cfg, 0, sizeof *cfg);
	*errors = NULL;
	if (load_text(cfg, "<embedded default.yaml>", embedded_default_yaml,
	              embedded_default_yaml_len(), errors) < 0)
		return -1;
	if (layer != NULL &&
	    load_text(cfg, name, (const unsigned char *)layer, layer_len, errors) < 0)
		return -1;
	if (file == NULL)
		return 0;
	if (read_config_file(file, &text, &len, errors) < 0)
		return -1;
	rc = load_text(cfg, file, text, len, errors);
	free(text);
	return rc;
}

int config_load(struct config *cfg, const char *file, char **errors)
{
	return config_load_layered(cfg, NULL, NULL, 0, file, errors);
}

void config_free(struct config *cfg)
{
	free(cfg->listen_smtp);
	free(cfg->listen_smtps);
	free(cfg->listen_https);
	free(cfg->listen_control);
	free(cfg->profile);
	free(cfg->hostname);
	free(cfg->state_dir);
	free(cfg->store_path);
	free(cfg->tls_cert);
	free(cfg->tls_key);
	free_users(cfg);
	strings_free(cfg->suppressions, cfg->nsuppressions);
	free(cfg->log_level);
	free(cfg->relay.host);
	free(cfg->relay.user);
	free(cfg->relay.password);
	free(cfg->relay.resolver);
	free(cfg->relay.ca);
	free(cfg->relay.helo);
	free_dkim(cfg);
	free_webhooks(cfg);
	config_ses_free(&cfg->ses);
	memset(cfg, 0, sizeof *cfg);
}

void config_copy(struct config *dst, const struct config *src)
{
	*dst = *src;
	dst->listen_smtp = xstrdup(src->listen_smtp);
	dst->listen_smtps = xstrdup(src->listen_smtps);
	dst->listen_https = xstrdup(src->listen_https);
	dst->listen_control = xstrdup(src->listen_control);
	dst->profile = xstrdup(src->profile);
	dst->hostname = xstrdup(src->hostname);
	dst->state_dir = xstrdup(src->state_dir);
	dst->store_path = xstrdup(src->store_path);
	dst->tls_cert = xstrdup(src->tls_cert);
	dst->tls_key = xstrdup(src->tls_key);
	dst->log_level = xstrdup(src->log_level);
	dst->suppressions = strings_copy(src->suppressions, src->nsuppressions);
	dst->users = xcalloc(src->nusers, sizeof *dst->users);
	for (size_t i = 0; i < src->nusers; i++) {
		dst->users[i].name = xstrdup(src->users[i].name);
		dst->users[i].password = xstrdup(src->users[i].password);
		dst->users[i].public_key = xstrdup(src->users[i].public_key);
		dst->users[i].approved_senders =
		    strings_copy(src->users[i].approved_senders, src->users[i].napproved);
		dst->users[i].napproved = src->users[i].napproved;
	}
	dst->relay.host = xstrdup(src->relay.host);
	dst->relay.user = xstrdup(src->relay.user);
	dst->relay.password = xstrdup(src->relay.password);
	dst->relay.resolver = xstrdup(src->relay.resolver);
	dst->relay.ca = xstrdup(src->relay.ca);
	dst->relay.helo = xstrdup(src->relay.helo);
	dst->dkim = xcalloc(src->ndkim, sizeof *dst->dkim);
	for (size_t i = 0; i < src->ndkim; i++) {
		dst->dkim[i].domain = xstrdup(src->dkim[i].domain);
		dst->dkim[i].selector = xstrdup(src->dkim[i].selector);
		dst->dkim[i].key = xstrdup(src->dkim[i].key);
	}
	dst->webhooks = xcalloc(src->nwebhooks, sizeof *dst->webhooks);
	for (size_t i = 0; i < src->nwebhooks; i++) {
		dst->webhooks[i].url = xstrdup(src->webhooks[i].url);
		dst->webhooks[i].secret = xstrdup(src->webhooks[i].secret);
		dst->webhooks[i].events =
		    strings_copy(src->webhooks[i].events, src->webhooks[i].nevents);
		dst->webhooks[i].nevents = src->webhooks[i].nevents;
	}
	config_ses_copy(&dst->ses, &src->ses);
}

/* Keys a running edsim can change: listeners, state, store and TLS are
 * fixed at start. */
static const char *const runtime_keys[] = {"hostname", "limits", "users", "suppressions",
                                           "auth",     "retry",  "ses",   NULL};

int config_overlay_node(struct config *cfg, struct ydoc *d, yaml_node_t *n, const char *what)
{
	int rc = 0;

	if (ydoc_expect_map(d, n, what) < 0)
		return -1;
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *key = yaml_document_get_node(&d->doc, p->key);
		const char *k = ydoc_scalar(key);
		size_t i;
		for (i = 0;
		     runtime_keys[i] != NULL && (k == NULL || strcmp(k, runtime_keys[i]) != 0); i++)
			;
		if (runtime_keys[i] == NULL)
			rc = ydoc_error(
			    d, key,
			    "%s: '%s' cannot change while edsim runs: expected hostname, "
			    "limits, users, suppressions, auth, retry or ses",
			    what, k ? k : "?");
	}
	return load_root(d, n, cfg) < 0 || rc < 0 ? -1 : 0;
}

int config_overlay_text(struct config *cfg, const char *text, size_t len, char **errors)
{
	struct ydoc d;
	int rc = ydoc_load(&d, "settings", (const unsigned char *)text, len);

	if (rc == 0)
		rc = config_overlay_node(cfg, &d, ydoc_root(&d), "settings");
	if (rc != 0 && errors != NULL)
		*errors = xstrdup(ydoc_errors(&d));
	ydoc_free(&d);
	return rc ? -1 : 0;
}
