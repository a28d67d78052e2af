/*
 * https_front.h - the provider-neutral part of a provider's HTTPS API: the
 * TLS evhttp listener, request ids, the request-rate window, the scenario
 * engine's verdict at every HTTPS stage (forced replies, drops, the
 * requests a rule's delay holds and their release when the scenario
 * changes), events, and the commit of an accepted message (the answer is
 * sent once the store has it).
 *
 * A provider (sim/oci/https_oci.c, sim/ses/https_ses.c) gives a table of
 * callbacks for what differs: its request id header and format, its
 * routing (handle), and how a rule's forced reply and a failed commit are
 * rendered in its protocol. It answers through https_front_send() so that
 * every answer carries the request id and leaves in one TLS record.
 *
 * Invariants: a request held by a rule's delay is on the front's waiting
 * list until its timer fires or the front is freed; when it resumes,
 * handle() runs again with r->resumed set, and hooks of stages that ran
 * before the wait are skipped (https_front_hook answers 0 for them). A
 * request whose connection closes while it waits or commits is forgotten
 * (a committed message stays stored).
 */
#ifndef EDSIM_HTTPS_FRONT_H
#define EDSIM_HTTPS_FRONT_H

#include <stddef.h>
#include <stdint.h>

struct env;
struct evhttp_request;
struct hook_ctx;
struct cat_entry;
struct store_message;
struct https_front;
struct https_wait;

/* One request as the provider's handler sees it. */
struct https_req {
	struct https_front *front;
	struct evhttp_request *req;
	struct https_wait *resumed; /* the wait it resumes from, or NULL */
	char request_id[80];
};

struct https_front_ops {
	/* The answer header that carries the request id ("opc-request-id"). */
	const char *request_id_header;
	/* The request header whose value is the same on every retry of one
	 * call, for counting attempts ("opc-request-id"); NULL: none. */
	const char *attempt_header;
	/* The request id of req: the client's, or a new one (seq counts up). */
	void (*request_id)(void *arg, struct evhttp_request *req, uint64_t seq, char *out,
	                   size_t len);
	/* Routes a request (after the request stage's hook has let it go on:
	 * h is that hook's answer, 0 native or 2 native rejections lifted). */
	void (*handle)(void *arg, struct https_req *r, int h);
	/* A rule answers: its catalog entry (entry set), or its literal
	 * status, code and message. The front has added the rule's headers. */
	void (*send_forced)(void *arg, struct https_req *r, const struct cat_entry *entry,
	                    int status, const char *code, const char *message,
	                    const struct hook_ctx *ctx);
	/* The store could not commit an accepted message. */
	void (*commit_failed)(void *arg, struct https_req *r);
};

/* Binds listen (host:port) with TLS; the bound port in *port. max_body
 * bounds a request body (evhttp answers a larger one itself). arg, the
 * provider's state (malloc'ed), is the front's from then on: freed with
 * it, or at once when the front cannot be made. */
struct https_front *https_front_new(const struct env *env, const char *listen, int *port,
                                    size_t max_body, const struct https_front_ops *ops, void *arg,
                                    char *err, size_t errlen);
void https_front_free(struct https_front *f);
/* Requests a rule's delay holds resume now, natively. */
void https_front_scenario_changed(struct https_front *f);
const struct env *https_front_env(const struct https_front *f);

/* limits.requests_per_second, counted in one-second windows of the virtual
 * clock: 1 when this request is over the limit. */
int https_front_rate_limited(struct https_front *f);

/* The scenario at an HTTPS stage (ctx->stage, with what the provider knows
 * filled in): 0 native, 1 answered (or dropped, or waiting), 2 the stage's
 * native rejections are lifted. */
int https_front_hook(struct https_req *r, struct hook_ctx *ctx);

/* Sends an answer with the request id header (after any headers the caller
 * added to the request's output headers). reason NULL: "OK" for 200, else
 * "Error". */
void https_front_send(struct https_req *r, int status, const char *reason, const char *content_type,
                      const char *body, size_t len);

/* An event for a request: stage "https", the method, the status as code. */
void https_front_record(struct https_front *f, struct evhttp_request *req, const char *user,
                        const char *type, int status, const char *text, const char *message);

/* A request's header (arg: the evhttp_request), or NULL. */
const char *https_front_header(void *arg, const char *name);
const char *https_front_peer(struct evhttp_request *req);
const char *https_front_path(struct evhttp_request *req);
/* "get", "post", "put", "delete", "head". */
const char *https_front_method(struct evhttp_request *req);
/* The request body, NUL-terminated (malloc'ed, as long as the client sent:
 * NULL when it cannot be allocated), its length in *len. */
char *https_front_body(struct evhttp_request *req, size_t *len);

/* A store record for a request: a new id, the time, the peer, sender and
 * recipients (each marked when it is on the suppression list). */
struct store_message *https_front_message(struct https_front *f, struct evhttp_request *req,
                                          const char *sender, const char *const *rcpts, size_t n);
/* Stores m (owned; m->raw set) for user and, once it is committed, sends
 * status 200 with body (owned, malloc'ed) as content_type and records an
 * "accepted" event; -1 (nothing sent, m and body freed) when the mail flow
 * refuses it at once. */
int https_front_commit(struct https_req *r, struct store_message *m, const char *user, char *body,
                       const char *content_type);

#endif
