/*
 * sns.h - the Amazon SNS edsim plays for SES's notifications: topics,
 * HTTP(S) subscriptions with SNS's confirmation handshake, and delivery of
 * signed SNS envelopes (SignatureVersion 1: SHA1withRSA, 2: SHA256withRSA)
 * with edsim's own signing key, whose certificate is served at the
 * envelope's SigningCertURL so a consumer's real signature check passes.
 *
 * Topics exist when named (an ARN arn:aws:sns:<region>:<account>:<name>);
 * a subscription is PendingConfirmation until its endpoint GETs the
 * SubscribeURL (or calls ConfirmSubscription), and only then receives
 * Notifications. Deliveries are POSTed on the event loop (libcurl, through
 * the same transport as the webhooks), retried as SNS's default policy
 * does (3 retries, 20 s apart; a status outside 200-4xx or no answer is a
 * failed attempt), with the same x-amz-sns-message-id on every retry.
 *
 * Invariants: sns_publish() never blocks; every envelope sent is recorded
 * (GET /api/v1/ses/sns) with its endpoint's answers, so tests and the
 * conformance grader read what the endpoint did from edsim's records.
 */
#ifndef EDSIM_SNS_H
#define EDSIM_SNS_H

#include <jansson.h>
#include <stddef.h>

struct env;
struct sns;
struct https_req;

/* region and account_id name the topics' ARNs. NULL with err filled in. */
struct sns *sns_new(const struct env *env, const char *region, const char *account_id, char *err,
                    size_t errlen);
void sns_free(struct sns *s);
/* The HTTPS API's base URL ("https://127.0.0.1:8443"): SubscribeURL,
 * UnsubscribeURL and SigningCertURL point there. */
void sns_set_base_url(struct sns *s, const char *base_url);

/* Subscribes endpoint (http:// or https://) to topic_arn and sends the
 * SubscriptionConfirmation; the subscription's ARN in arn_out. -1 with
 * err filled in (a bad URL or ARN). */
int sns_subscribe(struct sns *s, const char *topic_arn, const char *endpoint, char *arn_out,
                  size_t arnlen, char *err, size_t errlen);
/* Publishes message (a JSON text for SES's records) to every confirmed
 * subscription of topic_arn; subject NULL: none. Returns the SNS MessageId
 * (a static buffer until the next call) or NULL when the topic has no
 * confirmed subscription. */
const char *sns_publish(struct sns *s, const char *topic_arn, const char *subject,
                        const char *message);

/* The unsigned requests SNS answers on edsim's HTTPS port: GET of the
 * signing certificate, ?Action=ConfirmSubscription and ?Action=Unsubscribe.
 * Returns 1 when it answered r, 0 when r is not one of them. */
int sns_http_handle(struct sns *s, struct https_req *r);

/* Every subscription and every envelope sent with the endpoint's answers
 * (GET /api/v1/ses/sns). */
json_t *sns_state_json(const struct sns *s);
/* POST /api/v1/reset: subscriptions from the API and the records go. */
void sns_reset(struct sns *s);

#endif
