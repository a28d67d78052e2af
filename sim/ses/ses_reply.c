/*
 * ses_reply.c - SES's answers on the wire (see ses_reply.h).
 */
#include "ses_reply.h"

#include <event2/http.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "env.h"
#include "https_front.h"
#include "ses_https.h"
#include "util.h"
#include "xmalloc.h"

/* The reason phrase AWS's front ends send with each status. */
static const char *reason_of(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 400:
		return "Bad Request";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 413:
		return "Request Entity Too Large";
	case 429:
		return "Too Many Requests";
	case 500:
		return "Internal Server Error";
	case 503:
		return "Service Unavailable";
	default:
		return "Error";
	}
}

int ses_refuse(const struct catalog *c, enum ses_proto proto, const char *name,
               struct provider_reply *r)
{
	char id[96];

	snprintf(id, sizeof id, "ses.%s.%s", proto == SES_V1 ? "v1" : "v2", name);
	r->entry = catalog_find(c, id);
	return r->entry != NULL;
}

void ses_xml_text(struct jsonw *w, const char *s)
{
	for (; s != NULL && *s != '\0'; s++) {
		switch (*s) {
		case '&':
			jsonw_lit(w, "&amp;");
			break;
		case '<':
			jsonw_lit(w, "&lt;");
			break;
		case '>':
			jsonw_lit(w, "&gt;");
			break;
		case '"':
			jsonw_lit(w, "&quot;");
			break;
		case '\'':
			jsonw_lit(w, "&apos;");
			break;
		default:
			jsonw_raw(w, s, 1);
		}
	}
}

void ses_xml_elem(struct jsonw *w, const char *name, const char *text)
{
	jsonw_lit(w, "<");
	jsonw_raw(w, name, strlen(name));
	jsonw_lit(w, ">");
	ses_xml_text(w, text);
	jsonw_lit(w, "</");
	jsonw_raw(w, name, strlen(name));
	jsonw_lit(w, ">");
}

static void send_xml(struct https_req *rq, int status, struct jsonw *w)
{
	char *text = jsonw_take(w);

	https_front_send(rq, status, reason_of(status), "text/xml", text ? text : "",
	                 text ? strlen(text) : 0);
	free(text);
}

void ses_reply_fields(struct https_req *rq, enum ses_proto proto, int status, const char *code,
                      const char *tmpl, const struct cat_var *vars, size_t nvars)
{
	char message[4096];
	struct jsonw w = {0};

	catalog_fill(tmpl ? tmpl : "", vars, nvars, message, sizeof message);
	if (proto == SES_V2) {
		json_t *body = json_pack("{s:s}", "message", message);
		char *text = json_dumps(body, JSON_COMPACT);
		evhttp_add_header(evhttp_request_get_output_headers(rq->req), "x-amzn-ErrorType",
		                  code ? code : "");
		https_front_send(rq, status, reason_of(status), "application/json",
		                 text ? text : "{}", text ? strlen(text) : 2);
		free(text);
		json_decref(body);
		return;
	}
	jsonw_lit(&w, "<ErrorResponse xmlns=\"" SES_XMLNS "\">\n  <Error>\n    ");
	ses_xml_elem(&w, "Type", status >= 500 ? "Receiver" : "Sender");
	jsonw_lit(&w, "\n    ");
	ses_xml_elem(&w, "Code", code ? code : "");
	jsonw_lit(&w, "\n    ");
	ses_xml_elem(&w, "Message", message);
	jsonw_lit(&w, "\n  </Error>\n  ");
	ses_xml_elem(&w, "RequestId", rq->request_id);
	jsonw_lit(&w, "\n</ErrorResponse>\n");
	send_xml(rq, status, &w);
}

void ses_reply_refusal(struct ses_api *api, struct https_req *rq, enum ses_proto proto,
                       const struct provider_reply *r)
{
	const struct cat_entry *e = r->entry;
	struct provider_reply internal = {0};

	if (e == NULL && ses_refuse(api->env->catalog, proto, "internal-failure", &internal))
		e = internal.entry;
	if (e == NULL) {
		ses_reply_fields(rq, proto, 500, "InternalFailure", "", NULL, 0);
		return;
	}
	https_front_record(api->front, rq->req, NULL, "rejected", e->status, e->error_code, NULL);
	ses_reply_fields(rq, proto, e->status, e->error_code, e->message, r->vars, r->nvars);
}

void ses_reply_error(struct ses_api *api, struct https_req *rq, enum ses_proto proto,
                     const char *name, const char *var, const char *value)
{
	struct provider_reply r = {0};

	ses_refuse(api->env->catalog, proto, name, &r);
	if (var != NULL)
		provider_reply_var(&r, var, value);
	ses_reply_refusal(api, rq, proto, &r);
}

void ses_reply_json(struct https_req *rq, json_t *body)
{
	char *text = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);

	https_front_send(rq, 200, "OK", "application/json", text ? text : "{}",
	                 text ? strlen(text) : 2);
	free(text);
	json_decref(body);
}

static void put_document(struct jsonw *w, const char *action, const char *result,
                         const char *request_id)
{
	size_t n = strlen(action);

	jsonw_lit(w, "<");
	jsonw_raw(w, action, n);
	jsonw_lit(w, "Response xmlns=\"" SES_XMLNS "\">\n  <");
	jsonw_raw(w, action, n);
	if (result == NULL || *result == '\0') {
		jsonw_lit(w, "Result/>\n");
	} else {
		jsonw_lit(w, "Result>\n");
		jsonw_raw(w, result, strlen(result));
		jsonw_lit(w, "  </");
		jsonw_raw(w, action, n);
		jsonw_lit(w, "Result>\n");
	}
	jsonw_lit(w, "  <ResponseMetadata>\n    ");
	ses_xml_elem(w, "RequestId", request_id);
	jsonw_lit(w, "\n  </ResponseMetadata>\n</");
	jsonw_raw(w, action, n);
	jsonw_lit(w, "Response>\n");
}

char *ses_xml_document(const char *action, const char *result, const char *request_id)
{
	struct jsonw w = {0};

	put_document(&w, action, result, request_id);
	return jsonw_take(&w);
}

void ses_reply_xml(struct https_req *rq, const char *action, const char *result)
{
	struct jsonw w = {0};

	put_document(&w, action, result, rq->request_id);
	send_xml(rq, 200, &w);
}
