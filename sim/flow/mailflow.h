/*
 * mailflow.h - the way of a message after the checks: DKIM signature,
 * store, relay, and the suppression list it may end on.
 *
 * Both intakes (SMTP and HTTPS) hand an accepted message to
 * mailflow_submit(); the relay is told only after the store has committed
 * it. Suppressions change in one place, here: in memory (policy), on disk
 * (store) and as an event.
 */
#ifndef EDSIM_MAILFLOW_H
#define EDSIM_MAILFLOW_H

#include <stddef.h>

#include "store.h"

struct server;

/* The relay, DKIM keys, webhooks and the store's suppression list; then
 * the unfinished messages of the store are taken up again. */
int mailflow_start(struct server *srv, char *err, size_t errlen);
void mailflow_stop(struct server *srv);
/* Signs m (when a DKIM key applies), stores it, and once committed calls
 * done and queues it for the relay. Owns m. */
int mailflow_submit(struct server *srv, struct store_message *m, store_done_fn done, void *arg);
/* Adds address to the suppression list (source: "api", "bounce"). */
void mailflow_suppress(struct server *srv, const char *address, const char *reason,
                       const char *source);
/* Removes address (NULL: every entry); returns how many were removed. */
size_t mailflow_unsuppress(struct server *srv, const char *address);

#endif
