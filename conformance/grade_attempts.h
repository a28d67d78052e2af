/*
 * grade_attempts.h - the client's attempts, rebuilt from edsim's records in
 * the evidence (conformance/SCHEMA.md section 1); internal to the grader.
 *
 * grade.c collects the attempts once per case, grades them, and describes
 * them with the functions below. Times are seconds since the case's origin
 * (attempts_origin()). Strings an attempt borrows point into the evidence,
 * which must outlive the attempts; each attempt owns its replies array.
 */
#ifndef EDSIM_CONFORM_GRADE_ATTEMPTS_H
#define EDSIM_CONFORM_GRADE_ATTEMPTS_H

#include <math.h>
#include <stddef.h>

#include <jansson.h>

struct attempt {
	double t, end;   /* seconds since the case started */
	long connection; /* 0 for HTTPS */
	int tls, commands, dropped, waiting, accepted;
	int handshake_failed; /* the client's TLS handshake on the smtps port */
	int rule_acted;       /* a scenario rule acted on this attempt */
	int code;             /* the decisive (or accepting) reply; 0 none */
	/* AUTH mechanism fallback: another mechanism tried on the same session
	 * after a refused AUTH (not a new attempt). mechs: those tried, in order. */
	int fallbacks, fallback_code, reopened;
	char mechs[64];
	/* waiting: the oldest reply still due (its command's stage, and when the
	 * command was sent), and cut: the budget stopped the client then */
	const char *pending_stage;
	double pending_t;
	int cut;
	const char *last_stage;   /* of the latest refusal or acceptance */
	const char *text, *stage; /* that reply, borrowed */
	const char *outcome;
	json_t *replies;
	const json_t *lines;     /* the transcript's lines; NULL for HTTPS */
	size_t first, last, key; /* this attempt's lines and its decisive one */
};

static inline const char *str_of(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static inline double num_of(const json_t *o, const char *key)
{
	return json_number_value(json_object_get(o, key));
}

/* Seconds rounded to the millisecond, as results report them. */
static inline double ms(double t)
{
	return round(t * 1000.0) / 1000.0;
}

/* Unix time of the case's start: run.started, else the earliest record. */
double attempts_origin(const json_t *evidence);
/* The attempts in the evidence, into a new array *out of *n: from the events
 * when https (in their order), else from the transcripts (sorted by start).
 * 0, or -1 when memory runs out (then *out is NULL and *n 0). */
int attempts_collect(const json_t *evidence, double origin, int https, struct attempt **out,
                     size_t *n);
void attempts_free(struct attempt *a, size_t n);

/* One line of evidence for attempt a, the i-th (from 0). */
json_t *attempt_line(const struct attempt *a, size_t i);
/* The attempt's object in the result (SCHEMA.md section 2); retry_after is
 * reported on a 429 when it is > 0. */
json_t *attempt_json(const struct attempt *a, size_t i, double retry_after);
/* Transcript lines around each attempt's decisive reply, credentials masked. */
json_t *attempts_excerpt(const struct attempt *a, size_t n, double origin);

/* The reply code of an "out" line, 0 when it has none; *cont: more lines follow. */
int transcript_reply_code(const char *line, int *cont);
/* The stage of an "in" line's command: "ehlo", "auth", "mail", ..., "other". */
const char *transcript_command_stage(const char *line);

#endif
