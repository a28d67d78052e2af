/*
 * scenario.h - a scenario file, parsed and checked.
 *
 * A scenario is YAML: metadata, rules (`when` a stage and its counters and
 * matchers hold, `do` these actions) and `expect` (what a well-behaved
 * client does, kept for the conformance runner). scenario_load() refuses a
 * file whole and reports every problem as "file:line:column: message".
 * A loaded scenario is immutable except for its rules' fire counters, which
 * belong to the scenario engine (scenario_engine.c).
 */
#ifndef EDSIM_SCENARIO_H
#define EDSIM_SCENARIO_H

#include <stddef.h>

#include "catalog.h"

/* Stages where rules hook in: SMTP stages first, then HTTPS, then relay. */
enum scenario_stage {
	STAGE_CONNECT,
	STAGE_EHLO,
	STAGE_STARTTLS,
	STAGE_AUTH,
	STAGE_MAIL,
	STAGE_RCPT,
	STAGE_DATA,
	STAGE_DATA_BODY, /* while the message data arrives, at a byte offset */
	STAGE_DATA_END,
	STAGE_RSET,
	STAGE_QUIT,
	STAGE_IDLE,       /* the client stays silent past the command timeout */
	STAGE_REQUEST,    /* HTTPS: any request, before anything is checked */
	STAGE_SUBMIT,     /* HTTPS: submitEmail, its JSON body parsed */
	STAGE_SUBMIT_RAW, /* HTTPS: submitRawEmail, its envelope headers read */
	STAGE_RELAY,      /* the relay: one recipient about to go to the next hop */
	STAGE_COUNT
};

const char *scenario_stage_name(enum scenario_stage stage);

#define WHEN_ANY 0ULL /* a counter matcher that is not set */

struct rule_when {
	enum scenario_stage stage;
	unsigned long long connection;       /* nth connection since the scenario started */
	unsigned long long command;          /* nth command of the connection */
	unsigned long long attempt;          /* nth time this message reached data-end;
	                                        relay: nth delivery attempt of the recipient */
	unsigned long long times;            /* the rule fires at most this often (0: no bound) */
	char *sender, *recipient;            /* glob patterns, case-insensitive */
	char *user, *client_ip;              /* exact */
	char *mechanism;                     /* AUTH mechanism, case-insensitive */
	double probability;                  /* 1.0 unless set */
	unsigned long long offset;           /* data-body: bytes of message data received */
	char *method;                        /* HTTPS: the request method, case-insensitive */
	char *path;                          /* HTTPS: a glob on the request path */
	char **header_names, **header_globs; /* HTTPS: each named header matches its glob */
	size_t nheaders;
};

struct rule_do {
	const struct cat_entry *reply_entry; /* a catalog reply ... */
	char **reply_lines;                  /* ... or literal lines */
	size_t nreply_lines;
	double delay;     /* seconds before acting */
	int close;        /* close after the reply */
	int drop;         /* close without a reply */
	int accept;       /* the stage's native checks pass */
	int discard;      /* data-end: answer as accepted, store nothing */
	int suppress;     /* rcpt: treat the recipient as suppressed */
	char *set_text;   /* settings laid over the running configuration, as YAML */
	int https_status; /* HTTPS: a literal answer: status, code, message */
	char *https_code, *https_message;
	char **header_names, **header_values; /* HTTPS: extra response headers */
	size_t nheaders;
	int tls_fail;                 /* abort the TLS handshake (starttls, connect) */
	char *downstream;             /* relay: the next hop's reply ("550 5.1.1 ...") ... */
	int downstream_drop;          /* ... or the next hop drops the connection */
	unsigned long long trickle;   /* send the reply at this many bytes a second */
	unsigned long long use_quota; /* count this many messages against the user's quotas */
};

struct rule {
	struct rule_when when;
	struct rule_do act;
	int line; /* where the rule starts in the file */
};

struct scenario_expect {
	char *outcome;
	unsigned long long attempts_min, attempts_max;
	double min_gap;
	char *backoff;
	int gives_up;       /* -1 unset */
	int report_failure; /* -1 unset */
	int report_code;    /* 0 unset */
};

struct scenario {
	char *file;
	char *text; /* the YAML as loaded, for GET /api/v1/scenario */
	char *name, *title, *profile, *description;
	char **exercises;
	size_t nexercises;
	unsigned long long seed;
	char *settings_text; /* configuration overrides for the scenario's run, as YAML */
	double clock_speed;  /* virtual clock: quotas, windows and timeouts run this much faster */
	struct rule *rules;
	size_t nrules;
	struct scenario_expect expect;
};

/* Parses and checks text; on failure returns NULL and *errors (malloc'ed)
 * holds one "file:line:col: message" line per problem. */
struct scenario *scenario_load(const char *file, const char *text, size_t len,
                               const struct catalog *catalog, char **errors);
void scenario_free(struct scenario *sc);
/* `edsim check FILE...` against the profile's catalog: prints every error;
 * returns the exit status. */
int scenario_check_files(int nfiles, char **files, const struct catalog *cat);

/* The catalog of the profile a scenario names (profile NULL: it names none,
 * the default profile's), or NULL with the reason in err when there is no
 * such profile. arg is the caller's (sim/profiles.c keeps the catalogs). */
typedef const struct catalog *(*scenario_catalog_fn)(void *arg, const char *profile, char *err,
                                                     size_t errlen);
/* scenario_load() against the catalog of the profile the text names in
 * `profile:`; *cat (may be NULL) gets that catalog. An unknown profile is
 * an error at its line and column. */
struct scenario *scenario_load_for_profile(const char *file, const char *text, size_t len,
                                           scenario_catalog_fn catalog_for, void *arg,
                                           const struct catalog **cat, char **errors);
/* scenario_check_files(), each file against its own profile's catalog. */
int scenario_check_files_by_profile(int nfiles, char **files, scenario_catalog_fn catalog_for,
                                    void *arg);

#endif
