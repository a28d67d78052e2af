/*
 * smtp_parse.h - pure parsing of SMTP command lines and addresses.
 *
 * Nothing here keeps state or replies: the session (smtp_session.c) decides
 * what a parse result means. Inputs are NUL-terminated lines without CRLF.
 */
#ifndef EDSIM_SMTP_PARSE_H
#define EDSIM_SMTP_PARSE_H

#include <stddef.h>

#include "address.h"

enum smtp_verb {
	VERB_UNKNOWN,
	VERB_EHLO,
	VERB_HELO,
	VERB_STARTTLS,
	VERB_AUTH,
	VERB_MAIL,
	VERB_RCPT,
	VERB_DATA,
	VERB_RSET,
	VERB_NOOP,
	VERB_QUIT,
	VERB_VRFY,
	VERB_EXPN,
	VERB_HELP
};

struct smtp_command {
	enum smtp_verb verb;
	const char *arg; /* text after the verb and its spaces; "" when none */
};

void smtp_parse_command(const char *line, struct smtp_command *out);
const char *smtp_verb_name(enum smtp_verb verb);

enum path_result { PATH_OK, PATH_SYNTAX, PATH_INVALID_ADDRESS };

/* Parses "FROM:<addr> params" (prefix "FROM:") or "TO:<addr> params".
 * On PATH_OK and PATH_INVALID_ADDRESS, addr holds the address as written
 * (without brackets); *params points at the parameters ("" when none). */
enum path_result smtp_parse_path(const char *arg, const char *prefix, char *addr, size_t addrlen,
                                 const char **params);

enum param_result { PARAM_OK, PARAM_UNSUPPORTED, PARAM_SYNTAX };

/* MAIL parameters: SIZE=n, BODY=7BIT|8BITMIME, AUTH=<...>. */
enum param_result smtp_parse_mail_params(const char *params, unsigned long long *size);
/* RCPT takes no parameters (DSN is not offered). */
enum param_result smtp_parse_rcpt_params(const char *params);

#endif
