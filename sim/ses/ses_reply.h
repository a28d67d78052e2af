/*
 * ses_reply.h - SES's answers on the wire. v2 (rest-json): JSON bodies;
 * an error is its status, an x-amzn-ErrorType header and {"message"}. v1
 * (Query): XML in the 2010-12-01 namespace, <Action>Response wrapping
 * <Action>Result and ResponseMetadata; an error is an <ErrorResponse>
 * whose Type is Sender for a 4xx status and Receiver for a 5xx. Every
 * answer carries x-amzn-RequestId (the front end adds it).
 *
 * Every refusal is a catalog row, ses.v2.<name> or ses.v1.<name>: the
 * name is the condition, the same in both APIs where the condition is the
 * same; nothing here holds a reply text.
 */
#ifndef EDSIM_SES_REPLY_H
#define EDSIM_SES_REPLY_H

#include <jansson.h>
#include <stddef.h>

#include "jsonw.h"
#include "profile.h"

struct https_req;
struct ses_api;

enum ses_proto { SES_V2, SES_V1 };

#define SES_XMLNS "http://ses.amazonaws.com/doc/2010-12-01/"

/* r->entry = the row ses.<v1|v2>.<name>; 1 when the catalog has it. */
int ses_refuse(const struct catalog *c, enum ses_proto proto, const char *name,
               struct provider_reply *r);
/* Sends the refusal r (r->entry NULL: the internal-failure row, or a bare
 * 500) and records it as a rejected request. */
void ses_reply_refusal(struct ses_api *api, struct https_req *rq, enum ses_proto proto,
                       const struct provider_reply *r);
/* A refusal by name, with up to two placeholders (name NULL: none). */
void ses_reply_error(struct ses_api *api, struct https_req *rq, enum ses_proto proto,
                     const char *name, const char *var, const char *value);
/* An error with these fields, its message template filled from vars. */
void ses_reply_fields(struct https_req *rq, enum ses_proto proto, int status, const char *code,
                      const char *tmpl, const struct cat_var *vars, size_t nvars);

/* A v2 answer: 200 and body (owned). */
void ses_reply_json(struct https_req *rq, json_t *body);
/* A v1 answer: 200 and <action>Response around result (XML, may be ""). */
void ses_reply_xml(struct https_req *rq, const char *action, const char *result);
/* The whole v1 answer document (malloc'ed), for a commit's answer. */
char *ses_xml_document(const char *action, const char *result, const char *request_id);

/* XML text content: &, <, >, " and ' escaped. */
void ses_xml_text(struct jsonw *w, const char *s);
/* <name>text</name>, text escaped. */
void ses_xml_elem(struct jsonw *w, const char *name, const char *text);

#endif
