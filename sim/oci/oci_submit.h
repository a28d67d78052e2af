/*
 * oci_submit.h - the OCI submitEmail request (API 20220926): checking it as
 * the service does, and turning it into an RFC 5322 message.
 *
 * Pure functions over a parsed JSON body; the HTTPS endpoint answers with
 * the catalog entry a failed check names. Checks run in a fixed order and
 * the first failure is reported, as the service reports one error a call.
 */
#ifndef EDSIM_OCI_SUBMIT_H
#define EDSIM_OCI_SUBMIT_H

#include <jansson.h>
#include <stddef.h>

#define OCI_MAX_RECIPIENTS 50

struct oci_error {
	const char *id;  /* catalog id, e.g. "oci.https.missing-subject" */
	char value[512]; /* fills the entry's {address} or {header}, when it has one */
};

/* 0 when body is a valid submitEmail request, else -1 with err filled. */
int oci_submit_check(const json_t *body, struct oci_error *err);
/* The envelope recipients (to, cc, bcc, in that order) of a checked body:
 * a malloc'ed array of pointers into body. Returns the count. */
size_t oci_submit_recipients(const json_t *body, const char ***out);
/* The message for a checked body: headers built from its fields (To and Cc,
 * never Bcc; a Subject or name that is not ASCII as RFC 2047 words), the text
 * and HTML bodies as multipart/alternative when both are given. message_id
 * is used when the body has none. Returns malloc'ed CRLF text, or NULL when
 * memory runs out. */
char *oci_submit_message(const json_t *body, const char *message_id, double now, size_t *len);
/* RFC 5322 msg-id syntax: "<" dot-atom-text "@" (dot-atom-text | [..]) ">". */
int oci_msg_id_valid(const char *s);

#endif
