/*
 * refclient_ses.h - the Amazon SES side of the reference client: the v2
 * SendEmail and v1 SendRawEmail requests of one message (Content.Raw, the
 * message base64-encoded), signed with AWS Signature Version 4 by libcurl
 * (CURLOPT_AWS_SIGV4), with the headers the AWS SDKs send on every attempt
 * (amz-sdk-invocation-id, the same on each retry of one call, and
 * amz-sdk-request: attempt=N; max=M), and how SES's answers are read.
 *
 * An answer is read as the SDKs read it: the v2 error code from the
 * x-amzn-ErrorType header (the part before ':'), the v1 code from the XML
 * body's <Code>, the message from "message" or <Message>. A careful client
 * retries what the SDKs call throttling or transient: HTTP 429, 500, 502,
 * 503 and 504, and the throttling error codes (Throttling,
 * TooManyRequestsException, LimitExceededException, ...), whatever their
 * status: SES's v1 Throttling is a 400.
 */
#ifndef EDSIM_REFCLIENT_SES_H
#define EDSIM_REFCLIENT_SES_H

#include <curl/curl.h>
#include <stddef.h>

enum ses_api { SES_API_V2, SES_API_V1 };

/* One call: its URL and body are the same on every attempt. */
struct ses_call {
	enum ses_api api;
	char *url, *body;
	char invocation_id[40];
};

/* The call of a message (raw, len) from `from` to the nto addresses of to,
 * against endpoint (https://host:port). -1 when memory runs out. */
int ses_call_new(struct ses_call *c, enum ses_api api, const char *endpoint, const char *from,
                 const char *const *to, size_t nto, const char *raw, size_t len);
void ses_call_free(struct ses_call *c);

/* The headers of attempt n of at most max (NULL when memory runs out). */
struct curl_slist *ses_call_headers(const struct ses_call *c, long n, long max);
/* Sets the URL, the body and SigV4 signing (region, service ses) with the
 * access key id and secret; headers must outlive the transfer. */
void ses_call_setup(CURL *h, const struct ses_call *c, struct curl_slist *headers,
                    const char *region, const char *key_id, const char *secret);

/* What an answer says: "MessageId ID" for a 2xx, else "CODE: message", into
 * text; returns 1 when a careful client retries it. */
int ses_answer(const struct ses_call *c, CURL *h, long status, const char *body, char *text,
               size_t n);

#endif
