/*
 * config.h - edsim's settings.
 *
 * The embedded defaults (sim/default.yaml) are loaded first, then the file
 * given with --config is laid over them, then the command-line flags. A bad
 * file is refused whole with "file:line:column: what was expected". After
 * start the configuration is read-only.
 */
#ifndef EDSIM_CONFIG_H
#define EDSIM_CONFIG_H

#include <stddef.h>

#include "config_ses.h"

enum quota_unit { QUOTA_MESSAGE, QUOTA_RECIPIENT_CHUNK };
/* How the HTTPS API checks request signatures: off, or a well-formed
 * Signature header required (present). */
enum https_auth { HTTPS_AUTH_OFF, HTTPS_AUTH_PRESENT, HTTPS_AUTH_VERIFY };

struct config_user {
	char *name;
	char *password;
	char **approved_senders; /* glob patterns, matched case-insensitively */
	size_t napproved;
	char *public_key; /* PEM file of the user's API signing key (https.auth: verify) */
};

struct config_limits {
	unsigned long long message_bytes;
	unsigned long long header_bytes;
	unsigned long long line_bytes;
	unsigned long long recipients;
	unsigned long long connections_per_ip;
	unsigned long long auth_failures_per_ip;
	double auth_failure_window;
	double command_timeout;
	unsigned long long per_minute;
	unsigned long long per_day;
	enum quota_unit quota_unit;
	unsigned long long store_bytes;
	unsigned long long requests_per_second; /* HTTPS API requests before 429 (0: no limit) */
	double drain_timeout;
};

enum relay_mode { RELAY_CAPTURE, RELAY_SMARTHOST, RELAY_MX };
enum relay_tls { RELAY_TLS_NONE, RELAY_TLS_MAY, RELAY_TLS_ENCRYPT };

/* Where accepted mail goes (relay.c). */
struct config_relay {
	enum relay_mode mode;
	char *host;              /* smarthost: the next hop */
	unsigned long long port; /* smarthost, mx: the next hop's port */
	enum relay_tls tls;
	char *user, *password; /* AUTH PLAIN at the smarthost, only under TLS */
	char *resolver;        /* mx: "host:port" of the DNS server (NULL: /etc/resolv.conf) */
	char *ca;              /* PEM file: verify the next hop's certificate (NULL: no check) */
	char *helo;            /* the name in EHLO (NULL: hostname) */
	unsigned long long connections; /* per destination */
	double timeout;                 /* per command and for connecting */
	double idle;                    /* an unused connection is closed after this long */
};

/* The retry schedule of deferred recipients, on the virtual clock. */
struct config_retry {
	double first, factor, cap, max_age;
};

struct config_dkim {
	char *domain, *selector, *key; /* key: a PEM file with the RSA private key */
};

struct config_webhook {
	char *url;
	char **events; /* event types to post; none: every type */
	size_t nevents;
	char *secret; /* HMAC-SHA256 key for X-Edsim-Signature (NULL: unsigned) */
};

struct config {
	char *listen_smtp; /* "host:port", NULL when disabled */
	char *listen_smtps;
	char *listen_https; /* the OCI submission API (TLS) */
	char *listen_control;
	char *profile; /* the provider edsim plays: "oci" (sim/profiles.c) */
	char *hostname;
	char *state_dir;
	char *store_path; /* relative to state_dir, absolute, or ":memory:" */
	char *tls_cert;
	char *tls_key;
	struct config_limits limits;
	struct config_user *users;
	size_t nusers;
	char **suppressions;
	size_t nsuppressions;
	int auth_required;
	enum https_auth https_auth;
	struct config_relay relay;
	struct config_retry retry;
	struct config_dkim *dkim;
	size_t ndkim;
	struct config_webhook *webhooks;
	size_t nwebhooks;
	char *log_level;
	struct config_ses ses; /* the SES account (profile: ses) */
};

/* Loads the defaults, then file (may be NULL). On error returns -1 and
 * *errors (malloc'ed) holds one "file:line:col: message" line per problem. */
int config_load(struct config *cfg, const char *file, char **errors);
/* The same with a layer between the defaults and the file: a profile's own
 * defaults (name is the layer's name in error messages). */
int config_load_layered(struct config *cfg, const char *name, const char *layer, size_t layer_len,
                        const char *file, char **errors);
void config_free(struct config *cfg);
struct ydoc;
struct yaml_node_s;
/* A deep copy of src into dst (to be freed with config_free). */
void config_copy(struct config *dst, const struct config *src);
/* Lays a mapping of runtime settings (hostname, limits, users, suppressions,
 * auth, retry) over cfg; errors are recorded in d at the node's location. */
int config_overlay_node(struct config *cfg, struct ydoc *d, struct yaml_node_s *n,
                        const char *what);
/* The same from YAML text (a scenario's settings or a rule's set). */
int config_overlay_text(struct config *cfg, const char *text, size_t len, char **errors);
/* Replaces a string setting (used for command-line overrides). */
void config_set_string(char **slot, const char *value);

#endif
