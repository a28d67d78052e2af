/*
 * store.h - the durable message store, behind a small table of operations.
 *
 * Contract: store_submit() takes ownership of a message and calls back on
 * the event loop's thread exactly once: ok=1 only after the message and its
 * envelope are committed to disk (for a file store), ok=0 when they could not
 * be. Many concurrent submissions share one commit (group commit). Reads are
 * for the control API and the relay and run on the loop's thread.
 *
 * Beside each message the store keeps its delivery record (the state of
 * every recipient and every attempt, as the relay reports them) and the
 * suppression list. Those writes join the next group commit in the order
 * they were made, but nobody waits for their sync: after a crash a
 * delivery record can be older than what happened, never newer, so the
 * relay sends again rather than forgets (at least once).
 */
#ifndef EDSIM_STORE_H
#define EDSIM_STORE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;

/* A message id, NUL included: 16 hex digits (STORE_ID_HEX), or Amazon SES's
 * shape (STORE_ID_SES: "0100" and the 12 hex digits of the time in ms, a
 * UUID whose first group carries the rest of the sequence number, and
 * "-000000"). Either parses back to its sequence number. */
#define STORE_ID_MAX 64
enum store_id_style { STORE_ID_HEX, STORE_ID_SES };

struct store_rcpt {
	char *address;
	int suppressed;
};

struct store_message {
	uint64_t seq;          /* the id as a number: increasing, derived from the time */
	char id[STORE_ID_MAX]; /* seq in the store's id style */
	double received;       /* Unix time */
	char client_ip[64];
	uint64_t connection;
	char *user; /* NULL without AUTH */
	char *mail_from;
	struct store_rcpt *rcpts;
	size_t nrcpt;
	char *message_id;
	char *subject;
	char *raw;
	size_t raw_len;
	const char *origin; /* NULL for intake; "dsn" for edsim's own bounce reports */
	int captured;       /* delivered to the capture mailbox as it is stored */
	/* the delivery record to store with the message, when its outcome is
	 * known before the commit (malloc'ed; NULL: "queued", from the envelope) */
	char *delivery_state, *delivery_recipients, *delivery_attempts;
};

/* A message's delivery record, as the relay keeps it. */
struct store_delivery {
	uint64_t seq;
	const char *state;      /* the message's state (see relay.h) */
	int final;              /* nothing is left to do */
	int captured;           /* some recipient went to the capture mailbox */
	const char *recipients; /* JSON array: each recipient's address, state, ... */
	const char *attempts;   /* JSON array: every delivery attempt */
};

/* An unfinished message, for the relay when edsim starts. */
struct store_pending {
	uint64_t seq;
	double received;
	const char *mail_from, *user, *origin;
	json_t *recipients; /* borrowed for the call */
	json_t *attempts;
};
typedef void (*store_pending_fn)(void *arg, const struct store_pending *p);

struct store_filter {
	const char *to, *from, *subject; /* substrings, case-insensitive; NULL = any */
	long limit;
	int mailbox; /* only messages delivered to the capture mailbox */
};

/* m: the message as stored (still the store's; valid during the call). */
typedef void (*store_done_fn)(void *arg, int ok, const struct store_message *m);

struct store;

struct store_ops {
	int (*submit)(struct store *st, struct store_message *m, store_done_fn done, void *arg);
	json_t *(*list)(struct store *st, const struct store_filter *f);
	json_t *(*get)(struct store *st, const char *id);
	int (*raw)(struct store *st, const char *id, char **raw, size_t *len);
	long (*delete_all)(struct store *st);
	unsigned long long (*bytes_used)(struct store *st);
	void (*close)(struct store *st);
	/* Commits what is pending, waits until every commit is durable and runs
	 * the callbacks waiting for them (at shutdown, while the front ends that
	 * own those callbacks still exist). */
	void (*drain)(struct store *st);
	int (*save_delivery)(struct store *st, const struct store_delivery *d);
	int (*load_pending)(struct store *st, store_pending_fn fn, void *arg);
	/* address NULL with suppression_delete: every entry */
	int (*suppression_save)(struct store *st, const char *address, const char *reason,
	                        double time, const char *source);
	int (*suppression_delete)(struct store *st, const char *address);
	json_t *(*suppressions)(struct store *st);
};

struct store {
	const struct store_ops *ops;
	uint64_t last_seq; /* the highest id handed out or found in the store */
	enum store_id_style id_style;
};

struct store *store_sqlite_open(struct event_base *base, const char *path, char *err,
                                size_t errlen);

/* Gives m a new id: (Unix time in ms << 20), or one more than the last id
 * when that is not higher, so ids always increase, even across restarts. */
void store_assign_id(struct store *st, struct store_message *m);
/* seq as a message id in the store's style, NUL-terminated. */
void store_format_id(const struct store *st, uint64_t seq, char out[STORE_ID_MAX]);
/* Parses a 16-hex-digit id back into its number; -1 when it is not one. */
/* Either style; -1 when id is neither. */
int store_parse_id(const char *id, uint64_t *seq);
void store_message_free(struct store_message *m);

static inline int store_submit(struct store *st, struct store_message *m, store_done_fn done,
                               void *arg)
{
	return st->ops->submit(st, m, done, arg);
}
static inline json_t *store_list(struct store *st, const struct store_filter *f)
{
	return st->ops->list(st, f);
}
static inline json_t *store_get(struct store *st, const char *id)
{
	return st->ops->get(st, id);
}
static inline int store_raw(struct store *st, const char *id, char **raw, size_t *len)
{
	return st->ops->raw(st, id, raw, len);
}
static inline long store_delete_all(struct store *st)
{
	return st->ops->delete_all(st);
}
static inline unsigned long long store_bytes_used(struct store *st)
{
	return st->ops->bytes_used(st);
}
static inline void store_close(struct store *st)
{
	st->ops->close(st);
}
static inline void store_drain(struct store *st)
{
	st->ops->drain(st);
}
static inline int store_save_delivery(struct store *st, const struct store_delivery *d)
{
	return st->ops->save_delivery(st, d);
}
static inline int store_load_pending(struct store *st, store_pending_fn fn, void *arg)
{
	return st->ops->load_pending(st, fn, arg);
}
static inline int store_suppression_save(struct store *st, const char *address, const char *reason,
                                         double time, const char *source)
{
	return st->ops->suppression_save(st, address, reason, time, source);
}
static inline int store_suppression_delete(struct store *st, const char *address)
{
	return st->ops->suppression_delete(st, address);
}
static inline json_t *store_suppressions(struct store *st)
{
	return st->ops->suppressions(st);
}

#endif
