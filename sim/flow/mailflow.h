/*
 * mailflow.h - the way of a message after the checks: DKIM signature,
 * store, relay, and the suppression list it may end on.
 *
 * A struct mailflow owns the relay, the DKIM keys and the webhooks. Both
 * intakes (SMTP and HTTPS) hand an accepted message to mailflow_submit();
 * the relay is told only after the store has committed it. Suppressions
 * change in one place, here: in memory (policy), on disk (store) and as an
 * event; the relay reports a bounce through its callbacks and the mail flow
 * adds the address.
 */
#ifndef EDSIM_MAILFLOW_H
#define EDSIM_MAILFLOW_H

#include <jansson.h>
#include <stddef.h>

#include "store.h"

struct env;
struct mailflow;

/* The relay, DKIM keys, webhooks and the store's suppression list, from
 * env's handles (env->flow is not used); then the unfinished messages of
 * the store are taken up again. NULL with err filled in. */
struct mailflow *mailflow_new(const struct env *env, char *err, size_t errlen);
void mailflow_free(struct mailflow *f);
/* Signs m (when a DKIM key applies), stores it, and once committed calls
 * done and queues it for the relay. Owns m. */
int mailflow_submit(struct mailflow *f, struct store_message *m, store_done_fn done, void *arg);
/* Adds address to the suppression list (source: "api", "bounce"). */
void mailflow_suppress(struct mailflow *f, const char *address, const char *reason,
                       const char *source);
/* Removes address (NULL: every entry); returns how many were removed. */
size_t mailflow_unsuppress(struct mailflow *f, const char *address);
/* The store was emptied: the relay forgets every message and connection. */
void mailflow_forget_all(struct mailflow *f);
/* GET /api/v1/queue: the relay's counts. */
json_t *mailflow_queue_stats(const struct mailflow *f);
/* GET /api/v1/health: the webhooks' counts (a JSON text to free, or NULL). */
char *mailflow_webhook_stats(const struct mailflow *f);

#endif
