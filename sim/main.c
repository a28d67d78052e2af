/*
 * main.c - command line, configuration and the server's life.
 *
 * Exit status: 0 after a clean shutdown, 1 when the configuration or the
 * start-up fails (with a message saying where), 2 for a bad command line.
 */
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "health_cmd.h"
#include "log.h"
#include "profiles.h"
#include "scenario.h"
#include "scenario_engine.h"
#include "server.h"
#include "ses_credentials.h"
#include "util.h"

static void usage(FILE *out)
{
	fprintf(out, "usage: edsim [--config FILE] [--smtp HOST:PORT] [--smtps HOST:PORT] [--https "
	             "HOST:PORT]\n"
	             "             [--control HOST:PORT] [--state-dir DIR] [--store PATH]\n"
	             "             [--log-level debug|info|warn|error] [--scenario FILE]\n"
	             "             [--profile NAME]\n"
	             "       edsim play SCENARIO.yaml [flags]  play a scenario by hand, live log\n"
	             "       edsim check FILE...    check scenario files (file:line:col errors)\n"
	             "       edsim health [--control HOST:PORT | --config FILE | --state-dir DIR]\n"
	             "                    [--wait DURATION] [--quiet]\n"
	             "                    is a running edsim up? Asks its control API only, so\n"
	             "                    no scenario counter moves (exit 0 yes, 1 no)\n"
	             "       edsim ses-smtp-password [REGION] < SECRET\n"
	             "                    the SES SMTP password of a secret access key for\n"
	             "                    REGION (default us-east-1), as SES derives it\n"
	             "       edsim --version | --help\n"
	             "\n"
	             "Starts the Email Delivery simulator. With no --config the embedded defaults\n"
	             "serve (SMTP 127.0.0.1:2525 with STARTTLS, SMTPS 127.0.0.1:2465, control API\n"
	             "127.0.0.1:8025, state in ./var). Flags override the file. A listen address\n"
	             "of 'off' disables that listener; port 0 picks a free port (see\n"
	             "STATE_DIR/edsim.ready for the ports chosen).\n");
}

struct overrides {
	const char *smtp, *smtps, *https, *control, *state_dir, *store, *log_level, *scenario;
	const char *profile;
};

static void apply_listen(char **slot, const char *value)
{
	if (value != NULL)
		config_set_string(slot, strcmp(value, "off") == 0 ? NULL : value);
}

static void apply_overrides(struct config *cfg, const struct overrides *o)
{
	apply_listen(&cfg->listen_smtp, o->smtp);
	apply_listen(&cfg->listen_smtps, o->smtps);
	apply_listen(&cfg->listen_https, o->https);
	apply_listen(&cfg->listen_control, o->control);
	if (o->state_dir)
		config_set_string(&cfg->state_dir, o->state_dir);
	if (o->store)
		config_set_string(&cfg->store_path, o->store);
	if (o->log_level)
		config_set_string(&cfg->log_level, o->log_level);
	if (o->profile)
		config_set_string(&cfg->profile, o->profile);
}

/* `edsim ses-smtp-password [REGION] < SECRET`: the secret is read from
 * standard input (one line), so that it stays out of the process list. */
static int ses_password_main(int argc, char **argv)
{
	char secret[256], password[SES_SMTP_PASSWORD_LEN + 1];
	size_t len;

	if (argc > 2 || (argc == 2 && argv[1][0] == '-')) {
		fprintf(stderr, "usage: edsim ses-smtp-password [REGION] < SECRET\n");
		return 2;
	}
	if (fgets(secret, sizeof secret, stdin) == NULL) {
		fprintf(stderr, "edsim: ses-smtp-password: expected the secret access key on "
		                "standard input\n");
		return 2;
	}
	len = strcspn(secret, "\r\n");
	secret[len] = '\0';
	if (len == 0) {
		fprintf(stderr, "edsim: ses-smtp-password: the secret access key is empty\n");
		return 2;
	}
	ses_smtp_password(secret, argc == 2 ? argv[1] : "us-east-1", password);
	printf("%s\n", password);
	return 0;
}

/* The defaults, the profile's own defaults, the file, the flags: the
 * profile is known only once the file and the flags are read. */
static int load_config(struct config *cfg, const char *file, const struct overrides *o)
{
	const struct profile *p;
	char *errors = NULL;
	int rc = config_load(cfg, file, &errors);

	if (rc == 0) {
		apply_overrides(cfg, o);
		p = profile_find(cfg->profile);
		if (p != NULL && p->defaults != NULL) {
			config_free(cfg);
			rc = config_load_layered(cfg, p->defaults_file, (const char *)p->defaults,
			                         p->defaults_len(), file, &errors);
			apply_overrides(cfg, o);
		}
	}
	if (rc < 0) {
		fprintf(stderr, "%s", errors ? errors : "edsim: invalid configuration\n");
		free(errors);
		config_free(cfg);
	}
	return rc;
}

static int set_log_level(const char *name)
{
	static const char *const names[] = {"debug", "info", "warn", "error"};

	for (int i = 0; i < 4; i++)
		if (strcmp(name, names[i]) == 0) {
			log_set_level((enum log_level)i);
			return 0;
		}
	return -1;
}

/* Returns 0, or 2 after printing what is wrong with the command line. */
static int parse_args(int argc, char **argv, const char **config_file, struct overrides *o)
{
	struct {
		const char *flag;
		const char **slot;
	} flags[] = {{"--config", config_file},    {"--smtp", &o->smtp},
	             {"--smtps", &o->smtps},       {"--https", &o->https},
	             {"--control", &o->control},   {"--state-dir", &o->state_dir},
	             {"--store", &o->store},       {"--log-level", &o->log_level},
	             {"--scenario", &o->scenario}, {"--profile", &o->profile}};

	for (int i = 1; i < argc; i++) {
		size_t f;
		for (f = 0; f < sizeof flags / sizeof flags[0]; f++)
			if (strcmp(argv[i], flags[f].flag) == 0)
				break;
		if (f == sizeof flags / sizeof flags[0]) {
			fprintf(stderr, "edsim: unknown argument '%s'\n", argv[i]);
			usage(stderr);
			return 2;
		}
		if (i + 1 >= argc) {
			fprintf(stderr, "edsim: %s needs a value\n", argv[i]);
			return 2;
		}
		*flags[f].slot = argv[++i];
	}
	return 0;
}

/* The host part of a listen address, for commands a person can paste. */
static void listen_host(const char *listen, char *out, size_t outlen)
{
	const char *colon = listen ? strrchr(listen, ':') : NULL;

	snprintf(out, outlen, "%.*s", colon ? (int)(colon - listen) : 9,
	         colon ? listen : "127.0.0.1");
}

/* `edsim play`: a live log on standard output and commands to try at once. */
static void start_play(struct server *srv, const struct config *cfg)
{
	const struct scenario *sc = engine_scenario(srv->engine);
	int colour = isatty(STDOUT_FILENO) && getenv("NO_COLOR") == NULL;
	char host[256], ca[4200];

	listen_host(cfg->listen_smtp ? cfg->listen_smtp : cfg->listen_smtps, host, sizeof host);
	if (cfg->tls_cert != NULL)
		snprintf(ca, sizeof ca, "%s", cfg->tls_cert);
	else
		snprintf(ca, sizeof ca, "%s/edsim-cert.pem", cfg->state_dir);
	printf("edsim play: scenario %s (%zu rule%s)%s%s\n", sc->name, sc->nrules,
	       sc->nrules == 1 ? "" : "s", sc->title ? ": " : "", sc->title ? sc->title : "");
	if (srv->smtp_port)
		printf("  SMTP with STARTTLS  %s:%d\n", host, srv->smtp_port);
	if (srv->smtps_port)
		printf("  SMTP over TLS       %s:%d\n", host, srv->smtps_port);
	if (srv->control_port)
		printf("  control API         http://%s:%d/api/v1/\n", host, srv->control_port);
	printf("\nTry it:\n");
	if (srv->smtp_port) {
		printf("  swaks --server %s:%d --tls --tls-ca-path %s --auth PLAIN \\\n"
		       "        --auth-user ocid1.user.oc1..me --auth-password secret \\\n"
		       "        --from noreply@example.com --to someone@example.net\n",
		       host, srv->smtp_port, ca);
		printf("  openssl s_client -starttls smtp -crlf -quiet -CAfile %s -connect %s:%d\n",
		       ca, host, srv->smtp_port);
	}
	if (srv->control_port)
		printf("  curl -s http://%s:%d/api/v1/events\n", host, srv->control_port);
	printf("\nEvery line in (C:) and out (S:) follows; ** marks notes and the rules that act.\n"
	       "Ctrl-C stops edsim.\n\n");
	fflush(stdout);
	events_set_live(srv->events, stdout, colour);
}

/* `edsim check FILE...`, each file against the catalog of the profile it
 * names (`profile:`; none: the default profile's). */
static int check_scenarios(int nfiles, char **files)
{
	struct profile_catalogs pc = {0};
	int rc = scenario_check_files_by_profile(nfiles, files, profile_catalog, &pc);

	profile_catalogs_free(&pc);
	return rc;
}

int main(int argc, char **argv)
{
	const char *config_file = NULL;
	struct overrides o = {0};
	struct config cfg;
	struct server srv;
	char err[8192];
	int play = 0;
	int rc;

	if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		usage(stdout);
		return 0;
	}
	if (argc == 2 && strcmp(argv[1], "--version") == 0) {
		printf("edsim %s\n", EDSIM_VERSION);
		return 0;
	}
	if (argc >= 2 && strcmp(argv[1], "check") == 0) {
		if (argc == 2) {
			fprintf(stderr, "usage: edsim check FILE...\n");
			return 2;
		}
		return check_scenarios(argc - 2, argv + 2);
	}
	if (argc >= 2 && strcmp(argv[1], "health") == 0)
		return health_main(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "ses-smtp-password") == 0)
		return ses_password_main(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "play") == 0) {
		if (argc < 3) {
			fprintf(stderr, "usage: edsim play SCENARIO.yaml [flags as for edsim]\n");
			return 2;
		}
		play = 1;
		o.scenario = argv[2];
		argc -= 2; /* the flags after the file, with the file as argv[0] */
		argv += 2;
	}
	if ((rc = parse_args(argc, argv, &config_file, &o)) != 0)
		return rc;
	if (load_config(&cfg, config_file, &o) < 0)
		return 1;
	if (set_log_level(cfg.log_level) < 0) {
		fprintf(stderr, "edsim: --log-level: expected debug, info, warn or error\n");
		config_free(&cfg);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	/* A small idle footprint: SQLite allocates its page cache as pages are
	 * used, not 20 pages (320 KB with 16 KB pages) per connection ahead. */
	sqlite3_config(SQLITE_CONFIG_PAGECACHE, NULL, 0, 0);
	if (server_init(&srv, &cfg, o.scenario, err, sizeof err) < 0) {
		fprintf(stderr, "edsim: %s\n", err);
		rc = 1;
	} else {
		if (play)
			start_play(&srv, &cfg);
		rc = server_run(&srv) < 0 ? 1 : 0;
		log_info("stopped");
	}
	server_free(&srv);
	config_free(&cfg);
	return rc;
}
