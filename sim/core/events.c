/*
 * events.c - the event log (memory ring + JSON-lines file) and transcripts.
 *
 * Events are serialised once, when they happen; the ring keeps their JSON
 * text, so serving them is a concatenation. Transcript records are packed
 * into one growing buffer per connection: time, direction, length, bytes.
 * Every transcript is on one list (newest first); closed ones are also on a
 * queue (oldest first), so the oldest closed one is evicted first.
 *
 * A transcript grows with what the client sends (up to TRANSCRIPT_MAX_BYTES),
 * and an event's text holds the client's command: those allocations are
 * checked, and a failure loses the line or the event, not edsim.
 */
#include "events.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "clock.h"
#include "jsonw.h"
#include "xmalloc.h"

struct transcript {
	struct events *ev;
	LIST_ENTRY(transcript) all;       /* all transcripts, newest first */
	STAILQ_ENTRY(transcript) closing; /* closed ones, oldest first */
	uint64_t connection;
	char client_ip[64];
	double opened;
	int closed;
	int truncated;
	char *buf;
	size_t len, cap;
};

struct events {
	FILE *file;
	char *ring[EVENTS_KEEP];
	uint64_t next_seq;                   /* sequence number of the next event */
	LIST_HEAD(, transcript) transcripts; /* newest first */
	STAILQ_HEAD(, transcript) closed;    /* oldest first */
	size_t nclosed;
	FILE *live; /* edsim play: print transcript lines as they happen */
	int live_colour;
	events_sink_fn sink;
	void *sink_arg;
	struct jsonw text; /* the event being written */
};

void events_set_sink(struct events *ev, events_sink_fn fn, void *arg)
{
	ev->sink = fn;
	ev->sink_arg = arg;
}

void events_set_live(struct events *ev, FILE *out, int colour)
{
	ev->live = out;
	ev->live_colour = colour;
}

/* One transcript line for a person: "12:00:01.123 #3 C: MAIL FROM:<a@b>". */
static void print_live(struct events *ev, uint64_t connection, char dir, const char *line,
                       size_t len)
{
	const char *colour = "", *reset = ev->live_colour ? "\033[0m" : "";
	const char *who = dir == 'i' ? "C:" : dir == 'o' ? "S:" : "**";
	char stamp[40];

	if (ev->live_colour) {
		if (dir == 'i')
			colour = "\033[36m"; /* cyan: the client */
		else if (dir == 'n')
			colour = "\033[35m"; /* magenta: notes, rules that act */
		else if (len > 0 && line[0] == '5')
			colour = "\033[31m";
		else if (len > 0 && line[0] == '4')
			colour = "\033[33m";
		else
			colour = "\033[32m";
	}
	clock_format(clock_wall(), stamp, sizeof stamp);
	fprintf(ev->live, "%s #%llu %s%s %.*s%s\n", stamp + 11, (unsigned long long)connection,
	        colour, who, (int)len, line, reset);
	fflush(ev->live);
}

struct events *events_new(const char *state_dir, char *err, size_t errlen)
{
	struct events *ev = xcalloc(1, sizeof *ev);
	char path[4096];

	ev->next_seq = 1;
	LIST_INIT(&ev->transcripts);
	STAILQ_INIT(&ev->closed);
	if (state_dir != NULL) {
		snprintf(path, sizeof path, "%s/events.jsonl", state_dir);
		ev->file = fopen(path, "a");
		if (ev->file == NULL) {
			snprintf(err, errlen, "cannot open %s for appending", path);
			free(ev);
			return NULL;
		}
	}
	return ev;
}

static void transcript_free(struct transcript *t)
{
	free(t->buf);
	free(t);
}

static void evict_oldest_closed(struct events *ev)
{
	struct transcript *t = STAILQ_FIRST(&ev->closed);

	if (t == NULL)
		return;
	STAILQ_REMOVE_HEAD(&ev->closed, closing);
	LIST_REMOVE(t, all);
	transcript_free(t);
	ev->nclosed--;
}

void events_clear(struct events *ev)
{
	for (size_t i = 0; i < EVENTS_KEEP; i++) {
		free(ev->ring[i]);
		ev->ring[i] = NULL;
	}
	while (!STAILQ_EMPTY(&ev->closed))
		evict_oldest_closed(ev);
}

void events_free(struct events *ev)
{
	struct transcript *t;

	if (ev == NULL)
		return;
	events_clear(ev);
	while ((t = LIST_FIRST(&ev->transcripts)) != NULL) {
		LIST_REMOVE(t, all);
		transcript_free(t);
	}
	if (ev->file != NULL)
		fclose(ev->file);
	jsonw_free(&ev->text);
	free(ev);
}

json_t *json_text(const char *s, size_t len)
{
	json_t *str = json_stringn(s, len);
	char *copy;

	if (str != NULL)
		return str;
	copy = malloc(len + 1);
	if (copy == NULL)
		return json_null();
	for (size_t i = 0; i < len; i++)
		copy[i] = ((unsigned char)s[i] < 0x80 && s[i] != '\0') ? s[i] : '?';
	str = json_stringn(copy, len);
	free(copy);
	return str ? str : json_null();
}

/* ", \"key\": " before one field's value. */
static void put_key(struct jsonw *w, const char *key, size_t keylen)
{
	jsonw_lit(w, ", \"");
	jsonw_raw(w, key, keylen);
	jsonw_lit(w, "\": ");
}
/* A field whose value is a JSON string (or null), or a number. */
#define put(w, key, value)     (put_key((w), (key), sizeof(key) - 1), jsonw_str((w), (value)))
#define put_num(w, key, value) (put_key((w), (key), sizeof(key) - 1), jsonw_int((w), (value)))

/* The event's JSON text into ev->text. */
static void format_event(struct events *ev, uint64_t seq, const struct event_record *rec)
{
	struct jsonw *w = &ev->text;

	jsonw_reset(w);
	jsonw_lit(w, "{\"id\": ");
	jsonw_uint(w, seq);
	jsonw_lit(w, ", \"time\": ");
	jsonw_time(w, clock_wall());
	put(w, "type", rec->type);
	put_num(w, "connection", (long long)rec->connection);
	put(w, "client_ip", rec->client_ip);
	put(w, "user", rec->user);
	put(w, "stage", rec->stage);
	put(w, "command", rec->command);
	put_num(w, "code", rec->code);
	put(w, "reply", rec->reply);
	put(w, "message", rec->message);
	put(w, "rule", rec->rule);
	if (rec->recipient != NULL)
		put(w, "recipient", rec->recipient);
	if (rec->destination != NULL)
		put(w, "destination", rec->destination);
	if (rec->attempt > 0)
		put_num(w, "attempt", rec->attempt);
	if (rec->next_attempt != NULL)
		put(w, "next_attempt", rec->next_attempt);
	if (rec->dsn != NULL)
		put(w, "dsn", rec->dsn);
	jsonw_lit(w, "}\n");
}

uint64_t events_emit(struct events *ev, const struct event_record *rec)
{
	uint64_t seq = ev->next_seq++;
	char *text;
	size_t len;

	format_event(ev, seq, rec);
	if (ev->text.failed || (text = malloc(ev->text.len)) == NULL)
		return seq;
	len = ev->text.len - 1; /* without the newline */
	if (ev->file != NULL)
		fwrite(ev->text.buf, 1, len + 1, ev->file);
	memcpy(text, ev->text.buf, len);
	text[len] = '\0';
	if (ev->sink != NULL)
		ev->sink(ev->sink_arg, rec->type, text, len);
	free(ev->ring[seq % EVENTS_KEEP]);
	ev->ring[seq % EVENTS_KEEP] = text;
	return seq;
}

void events_flush(struct events *ev)
{
	if (ev->file != NULL)
		fflush(ev->file);
}

json_t *events_since(struct events *ev, uint64_t since)
{
	json_t *list = json_array();
	uint64_t first = ev->next_seq > EVENTS_KEEP ? ev->next_seq - EVENTS_KEEP : 1;

	if (since >= ev->next_seq)
		return list;
	if (since + 1 > first)
		first = since + 1;
	for (uint64_t seq = first; seq < ev->next_seq; seq++) {
		const char *text = ev->ring[seq % EVENTS_KEEP];
		json_t *obj = text ? json_loads(text, 0, NULL) : NULL;
		if (obj != NULL)
			json_array_append_new(list, obj);
	}
	return list;
}

struct transcript *transcript_open(struct events *ev, uint64_t connection, const char *client_ip)
{
	struct transcript *t = xcalloc(1, sizeof *t);

	t->ev = ev;
	t->connection = connection;
	snprintf(t->client_ip, sizeof t->client_ip, "%s", client_ip);
	t->opened = clock_wall();
	LIST_INSERT_HEAD(&ev->transcripts, t, all);
	return t;
}

static int buf_reserve(struct transcript *t, size_t more)
{
	size_t cap = t->cap ? t->cap : 1024;
	char *grown;

	while (cap < t->len + more)
		cap *= 2;
	if (cap == t->cap)
		return 0;
	grown = realloc(t->buf, cap);
	if (grown == NULL)
		return -1;
	t->buf = grown;
	t->cap = cap;
	return 0;
}

void transcript_note(struct transcript *t, const char *fmt, ...)
{
	char text[400];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	if (n >= 0)
		transcript_add(t, "note", text, strlen(text));
}

void transcript_add(struct transcript *t, const char *dir, const char *line, size_t len)
{
	static const char note[] =
	    "transcript truncated here: the rest of this connection is not kept";
	double now = clock_wall();
	unsigned int n;
	char d = dir[0];

	if (t == NULL)
		return;
	if (t->ev->live != NULL)
		print_live(t->ev, t->connection, dir[0], line, len);
	if (t->truncated)
		return;
	if (t->len + len > TRANSCRIPT_MAX_BYTES) {
		t->truncated = 1;
		d = 'n';
		line = note;
		len = sizeof note - 1;
	}
	if (buf_reserve(t, sizeof now + 1 + sizeof n + len) < 0)
		return;
	n = (unsigned int)len;
	memcpy(t->buf + t->len, &now, sizeof now);
	t->buf[t->len + sizeof now] = d;
	memcpy(t->buf + t->len + sizeof now + 1, &n, sizeof n);
	memcpy(t->buf + t->len + sizeof now + 1 + sizeof n, line, len);
	t->len += sizeof now + 1 + sizeof n + len;
}

void transcript_close(struct events *ev, struct transcript *t)
{
	if (t == NULL)
		return;
	t->closed = 1;
	STAILQ_INSERT_TAIL(&ev->closed, t, closing);
	ev->nclosed++;
	if (ev->nclosed > TRANSCRIPTS_KEEP)
		evict_oldest_closed(ev);
}

static const char *dir_name(char d)
{
	return d == 'i' ? "in" : d == 'o' ? "out" : "note";
}

json_t *transcript_json(struct events *ev, uint64_t connection)
{
	struct transcript *t;
	json_t *lines;
	char stamp[40];

	for (t = LIST_FIRST(&ev->transcripts); t != NULL && t->connection != connection;
	     t = LIST_NEXT(t, all))
		;
	if (t == NULL)
		return NULL;
	lines = json_array();
	for (size_t off = 0; off < t->len;) {
		double when;
		unsigned int n;
		memcpy(&when, t->buf + off, sizeof when);
		memcpy(&n, t->buf + off + sizeof when + 1, sizeof n);
		clock_format(when, stamp, sizeof stamp);
		json_array_append_new(
		    lines, json_pack("{s:s, s:s, s:o}", "time", stamp, "dir",
		                     dir_name(t->buf[off + sizeof when]), "line",
		                     json_text(t->buf + off + sizeof when + 1 + sizeof n, n)));
		off += sizeof when + 1 + sizeof n + n;
	}
	clock_format(t->opened, stamp, sizeof stamp);
	return json_pack("{s:I, s:s, s:s, s:b, s:o}", "connection", (json_int_t)connection,
	                 "client_ip", t->client_ip, "opened", stamp, "open", !t->closed, "lines",
	                 lines);
}
