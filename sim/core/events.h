/*
 * events.h - what happened, for tests and people: events and transcripts.
 *
 * An event is one accepted or rejected message, one refused command, or one
 * step of the relay (relayed, delivered, deferred, bounced, suppressed). Each
 * gets a sequence number (from 1), is appended to state_dir/events.jsonl and
 * kept in memory (the newest EVENTS_KEEP) for GET /api/v1/events.
 * A transcript is every line in and out of one connection, with times; the
 * transcripts of open connections and of the newest TRANSCRIPTS_KEEP closed
 * ones are kept in memory.
 */
#ifndef EDSIM_EVENTS_H
#define EDSIM_EVENTS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define EVENTS_KEEP          20000
#define TRANSCRIPTS_KEEP     1000
#define TRANSCRIPT_MAX_BYTES (256 * 1024)

struct events;
struct transcript;

struct event_record {
	const char *type; /* accepted | rejected | refused */
	uint64_t connection;
	const char *client_ip;
	const char *user;
	const char *stage;
	const char *command;
	int code;
	const char *reply;
	const char *message; /* stored message id, when there is one */
	const char *rule;    /* the scenario rule that acted, when one did */
	/* the relay's steps (left out of the event when NULL or 0) */
	const char *recipient;
	const char *destination;
	unsigned attempt;
	const char *next_attempt;
	const char *dsn; /* the id of the bounce report */
};

/* Called with every event as it is emitted (webhooks). */
typedef void (*events_sink_fn)(void *arg, const char *type, const char *json, size_t len);

/* state_dir NULL: no events file (unit tests). */
struct events *events_new(const char *state_dir, char *err, size_t errlen);
/* `edsim play`: every transcript line is also printed to out as it happens,
 * coloured when colour is set. */
void events_set_live(struct events *ev, FILE *out, int colour);
void events_set_sink(struct events *ev, events_sink_fn fn, void *arg);
void events_free(struct events *ev);
uint64_t events_emit(struct events *ev, const struct event_record *rec);
void events_flush(struct events *ev);
/* Events with a sequence number above since, oldest first. */
json_t *events_since(struct events *ev, uint64_t since);
void events_clear(struct events *ev);

struct transcript *transcript_open(struct events *ev, uint64_t connection, const char *client_ip);
/* dir: "in" (client to edsim), "out" (edsim to client) or "note". */
void transcript_add(struct transcript *t, const char *dir, const char *line, size_t len);
/* A note in the transcript (what edsim did or saw, not a line on the wire),
 * printf-style; longer than 400 bytes is cut. */
void transcript_note(struct transcript *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void transcript_close(struct events *ev, struct transcript *t);
json_t *transcript_json(struct events *ev, uint64_t connection);

/* A JSON string of len bytes; bytes that are not valid UTF-8 become '?'. */
json_t *json_text(const char *s, size_t len);

#endif
