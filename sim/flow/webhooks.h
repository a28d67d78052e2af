/*
 * webhooks.h - posts events to configured HTTP(S) receivers with libcurl
 * (loaded at run time: curl_lazy.h).
 *
 * Every event whose type a webhook asks for (all types when its `events`
 * list is empty) is POSTed as its JSON object, with the headers
 *   Content-Type: application/json
 *   X-Edsim-Event: <type>
 *   X-Edsim-Delivery: <unique id of this event for this webhook>
 *   X-Edsim-Timestamp: <Unix seconds when first sent>
 *   X-Edsim-Signature: sha256=<hex HMAC-SHA256(secret, timestamp "." body)>
 * (the signature only when the webhook has a secret). A 2xx answer ends the
 * delivery; anything else (other status, refused, timeout after 10 s) is
 * retried with exponential backoff (1 s, 2 s, 4 s ... capped at 60 s, at
 * most WEBHOOK_ATTEMPTS attempts), then dropped with a warning in the log.
 * Transfers run on the event loop through curl's multi interface, so
 * posting never blocks SMTP or HTTPS intake; at most WEBHOOK_BACKLOG
 * deliveries wait per webhook (the oldest is dropped beyond that, counted).
 */
#ifndef EDSIM_WEBHOOKS_H
#define EDSIM_WEBHOOKS_H

#include <stddef.h>

#define WEBHOOK_ATTEMPTS 8
#define WEBHOOK_BACKLOG  10000

struct event_base;
struct config_webhook;
struct webhooks;

/* NULL when n is 0 (no webhooks: webhooks_post() accepts NULL); NULL with
 * a message in err when libcurl cannot be loaded (curl_lazy.h: it is
 * dlopen()ed here, so a start with webhooks fails at once without it) or
 * memory runs out. */
struct webhooks *webhooks_new(struct event_base *base, const struct config_webhook *hooks, size_t n,
                              char *err, size_t errlen);
/* Queues the event (json: the event as one JSON object, copied). */
void webhooks_post(struct webhooks *w, const char *type, const char *json, size_t len);
/* Counters for GET /api/v1/health: {"sent":N,"failed_attempts":N,"dropped":N,"pending":N}
 * as a malloc'ed JSON text. */
char *webhooks_stats(const struct webhooks *w);
/* Stops every transfer and frees everything (pending deliveries are lost). */
void webhooks_free(struct webhooks *w);

#endif
