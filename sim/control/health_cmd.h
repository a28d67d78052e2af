/*
 * health_cmd.h - `edsim health`: asks a running edsim whether it is up.
 *
 * The question goes to the control API (GET /api/v1/health), never to the
 * SMTP or HTTPS listeners, so no scenario counter moves: a readiness probe
 * for CI that does not use up a scenario's `connection: 1`.
 *
 * Exit status: 0 when the answer says "status": "ok", 1 when it does not
 * (draining, unreachable, not an edsim; one line on stderr naming the
 * address), 2 for a bad command line.
 */
#ifndef EDSIM_HEALTH_CMD_H
#define EDSIM_HEALTH_CMD_H

#include <stddef.h>

struct health_opts {
	const char *control;   /* --control HOST:PORT, or NULL */
	const char *config;    /* --config FILE, or NULL */
	const char *state_dir; /* --state-dir DIR, or NULL */
	const char *wait_text; /* --wait as given (for messages), or NULL */
	double wait;           /* seconds to keep trying; 0: one try */
	int quiet;
	int help;
};

/* Reads the flags after "health" (argv[0] is "health"). Returns 0, or -1
 * with what is wrong in err. */
int health_parse_args(int argc, char **argv, struct health_opts *o, char *err, size_t errlen);
/* The control port of an edsim.ready file's text; -1 when it names none
 * (malformed, or 0: edsim runs without a control API). */
int health_ready_control(const char *text);
/* Judges an answer to GET /api/v1/health: 0 when its status is "ok", else
 * -1 with the reason (draining, an HTTP error, not JSON) in reason. */
int health_judge(long http_status, const char *body, char *reason, size_t reasonlen);
/* `edsim health [flags]`, argv[0] being "health": the exit status. */
int health_main(int argc, char **argv);

#endif
