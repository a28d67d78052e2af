/*
 * clients.h - the clients a run grades: ready-made definitions from
 * conformance/clients/NAME.yaml, or a command given on the command line.
 *
 * A definition:
 *   name: swaks
 *   description: "..."
 *   kind: command | mta | expect
 *   protocols: [smtp, https]      # the cases it can take part in
 *   profiles: [ses]               # the providers whose cases it takes part in
 *                                 # (default: every one; an SDK speaks one API)
 *   requires: [swaks]             # programs on PATH, or paths (with a /) relative
 *                                 # to the definition's directory, or absolute paths
 *                                 # (a package's files), that must exist
 *   command: "swaks --server {smtp_host}:{smtp_port} ..."   # command, expect
 *   script: expect-script.exp     # expect: run as `expect -f SCRIPT` (next to the definition)
 *   start: "...", submit: "...", stop: "..."                # mta
 *   settle: 5s                    # mta: how long to watch after the outcome is decided
 *                                 # (a retry or a duplicate), default 1.5s; more than
 *                                 # the MTA's longest retry interval
 * Placeholders {smtp_host} {smtp_port} {smtps_port} {https_url} {user}
 * {password} {from} {to} {subject} {message_id} {eml} {ca} {workdir}
 * {control_url} {protocol} (smtp or https: the case's) {clients_dir} {profile}
 * {case} {api} (smtp, oci, ses-v2 or ses-v1: the API the case is about)
 * {aws_access_key_id} {aws_secret_access_key} {aws_region} (SES cases) are
 * filled in per case, and given to the program as EDSIM_SMTP_HOST,
 * EDSIM_SMTP_PORT, ... as well.
 */
#ifndef EDSIM_CONFORM_CLIENTS_H
#define EDSIM_CONFORM_CLIENTS_H

#include <stddef.h>

enum client_kind { CLIENT_COMMAND, CLIENT_MTA, CLIENT_EXPECT };

struct conform_client {
	char *name, *description;
	enum client_kind kind;
	int smtp, https; /* protocols it speaks */
	char **requires;
	size_t nrequires;
	char **profiles; /* the profiles whose cases it takes part in; none: every one */
	size_t nprofiles;
	char *command, *script, *start, *submit, *stop;
	double settle; /* mta: seconds watched after the outcome is decided */
	char *dir;     /* where its definition lives (scripts are found there) */
};

/* NAME (a definition in clients_dir) or a command line (anything with a
 * space). -1 with a message naming the file, line and column on error. */
int client_load(const char *spec, const char *clients_dir, struct conform_client *c, char *err,
                size_t errlen);
void client_free(struct conform_client *c);
/* The first required program missing (from the definition's directory and
 * PATH, where the clients look), or NULL. */
const char *client_missing(const struct conform_client *c);
/* Whether the client takes part in cases of profile (its profiles: list). */
int client_speaks_profile(const struct conform_client *c, const char *profile);
/* Lists the definitions in clients_dir: "name  protocols  description". */
void clients_list(const char *clients_dir);

#endif
