/*
 * store.h - the durable message store, behind a small table of operations.
 *
 * Contract: store_submit() takes ownership of a message and calls back on
 * the event loop's thread exactly once: ok=1 only after the message and its
 * envelope are committed to disk (for a file store), ok=0 when they could not
 * be. Many concurrent submissions share one commit (group commit). Reads are
 * for the control API and run on the loop's thread.
 */
#ifndef EDSIM_STORE_H
#define EDSIM_STORE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;

struct store_rcpt {
	char *address;
	int suppressed;
};

struct store_message {
	uint64_t seq;    /* the id as a number: increasing, derived from the time */
	char id[40];     /* seq as 16 hex digits */
	double received; /* Unix time */
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
};

struct store_filter {
	const char *to, *from, *subject; /* substrings, case-insensitive; NULL = any */
	long limit;
};

typedef void (*store_done_fn)(void *arg, int ok);

struct store;

struct store_ops {
	int (*submit)(struct store *st, struct store_message *m, store_done_fn done, void *arg);
	json_t *(*list)(struct store *st, const struct store_filter *f);
	json_t *(*get)(struct store *st, const char *id);
	int (*raw)(struct store *st, const char *id, char **raw, size_t *len);
	long (*delete_all)(struct store *st);
	unsigned long long (*bytes_used)(struct store *st);
	void (*close)(struct store *st);
};

struct store {
	const struct store_ops *ops;
	uint64_t last_seq; /* the highest id handed out or found in the store */
};

struct store *store_sqlite_open(struct event_base *base, const char *path, char *err,
                                size_t errlen);

/* Gives m a new id: (Unix time in ms << 20), or one more than the last id
 * when that is not higher, so ids always increase, even across restarts. */
void store_assign_id(struct store *st, struct store_message *m);
/* Parses a 16-hex-digit id back into its number; -1 when it is not one. */
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

#endif
