/*
 * relay.h - the queue behind the store: every accepted message is
 * delivered (to the capture mailbox, a smarthost or each domain's MX),
 * retried, bounced or expired, recipient by recipient.
 *
 * Recipient states: queued -> sending -> delivered | deferred -> ... |
 * bounced, and suppressed (never sent). A message's state is "sending"
 * while any recipient is, else "deferred" or "queued" while any is, else
 * the one final state all its recipients share ("delivered", "bounced",
 * "suppressed"; "delivered" also when the others were suppressed), else
 * "completed". Every change is written to the store's delivery record;
 * after a crash, recipients that were sending or queued are sent again
 * (at least once) and counted as resumed.
 *
 * A 2xx from the next hop delivers; a 5xx (or a permanent failure such as
 * a domain that does not exist) bounces, adds the address to the
 * suppression list and sends a DSN to the envelope sender, into the capture
 * mailbox; anything else (4xx, refused, dropped, timed out) defers on the
 * retry schedule (first, factor, cap) on the virtual clock, until the
 * maximum age bounces the recipient as expired (DSN, not suppressed).
 * Scenario rules at stage relay decide a recipient's next-hop reply
 * without a network.
 */
#ifndef EDSIM_RELAY_H
#define EDSIM_RELAY_H

#include <jansson.h>
#include <stddef.h>

struct event_base;
struct config;
struct vclock;
struct store;
struct events;
struct engine;
struct store_message;
struct relay;

/* The handles the relay uses, and where it reports a bounce (the mail
 * flow puts the address on the suppression list): the relay talks down to
 * the next hop and reports up only through bounced(). */
struct relay_env {
	struct event_base *base;
	const struct config *cfg; /* in force: its contents change with the scenario */
	const struct vclock *clock;
	struct store *store;
	struct events *events;
	struct engine *engine; /* rules at stage relay */
	void (*bounced)(void *arg, const char *address, const char *reply);
	void *arg;
};

struct relay *relay_new(const struct relay_env *env, char *err, size_t errlen);
/* Closes every connection; what was in flight stays unfinished in the store. */
void relay_free(struct relay *r);
/* Takes up the store's unfinished messages (at start); returns how many. */
long relay_recover(struct relay *r);
/* Before the commit: in capture mode, with no scenario rule at stage relay,
 * the outcome is known, so the message is stored delivered at once (one
 * write instead of two). Returns 1 when it did so. */
int relay_capture_now(struct relay *r, struct store_message *m);
/* A message was committed: queue it (m stays the caller's). */
void relay_accept(struct relay *r, const struct store_message *m);
/* The store was emptied: forget every message and connection. */
void relay_forget_all(struct relay *r);
/* GET /api/v1/queue: counts by state, connections, totals. */
json_t *relay_stats(const struct relay *r);

#endif
