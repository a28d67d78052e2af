/*
 * smtp_replies.h - the replies the SMTP engine sends natively.
 *
 * The engine names each by a profile-neutral name; smtp_server_new() looks
 * up the profile's catalog entry (prefix + name) for each, so a provider's
 * catalog must hold every name below (edsim refuses to start otherwise).
 */
#ifndef EDSIM_SMTP_REPLIES_H
#define EDSIM_SMTP_REPLIES_H

/* Every reply the SMTP engine sends natively, by its name in the catalog:
 * the running profile's prefix ("oci.smtp.") + the name makes its id. */
#define SMTP_REPLIES(X)                                                                            \
	X(R_GREETING, "greeting")                                                                  \
	X(R_EHLO_OK, "ehlo-ok")                                                                    \
	X(R_HELO_OK, "helo-ok")                                                                    \
	X(R_MAIL_OK, "mail-ok")                                                                    \
	X(R_RCPT_OK, "rcpt-ok")                                                                    \
	X(R_DATA_GO, "data-go")                                                                    \
	X(R_ACCEPTED, "accepted")                                                                  \
	X(R_RSET_OK, "rset-ok")                                                                    \
	X(R_NOOP_OK, "noop-ok")                                                                    \
	X(R_BYE, "bye")                                                                            \
	X(R_STARTTLS_GO, "starttls-go")                                                            \
	X(R_AUTH_OK, "auth-ok")                                                                    \
	X(R_AUTH_CHALLENGE, "auth-challenge")                                                      \
	X(R_AUTH_CANCELLED, "auth-cancelled")                                                      \
	X(R_TLS_REQUIRED, "tls-required")                                                          \
	X(R_ALREADY_AUTHENTICATED, "already-authenticated")                                        \
	X(R_BAD_SEQUENCE, "bad-sequence")                                                          \
	X(R_UNKNOWN_COMMAND, "unknown-command")                                                    \
	X(R_SYNTAX_ERROR, "syntax-error")                                                          \
	X(R_LINE_TOO_LONG, "line-too-long")                                                        \
	X(R_NOT_IMPLEMENTED, "not-implemented")                                                    \
	X(R_PARAM_UNSUPPORTED, "param-unsupported")                                                \
	X(R_TOO_MANY_RECIPIENTS, "too-many-recipients")                                            \
	X(R_TLS_UNAVAILABLE, "tls-unavailable")                                                    \
	X(R_TLS_ALREADY, "tls-already")                                                            \
	X(R_SUPPRESSED, "suppressed")                                                              \
	X(R_TIMEOUT, "timeout")                                                                    \
	X(R_TOO_MANY_CONNECTIONS, "too-many-connections")                                          \
	X(R_TOO_MANY_AUTH_FAILURES, "too-many-auth-failures")                                      \
	X(R_MAIL_SYSTEM_FAILURE, "mail-system-failure")                                            \
	X(R_STORAGE_ERROR, "storage-error")                                                        \
	X(R_RATE_MINUTE, "rate-minute")                                                            \
	X(R_RATE_DAY, "rate-day")                                                                  \
	X(R_AUTH_BAD_BASE64, "auth-bad-base64")                                                    \
	X(R_AUTH_NO_NUL, "auth-no-nul")                                                            \
	X(R_AUTH_NO_SECOND_NUL, "auth-no-second-nul")                                              \
	X(R_NEED_RCPT, "need-rcpt")                                                                \
	X(R_AUTH_METHOD_UNSUPPORTED, "auth-method-unsupported")                                    \
	X(R_AUTH_MECHANISM_MISMATCH, "auth-mechanism-mismatch")                                    \
	X(R_SIZE_EXCEEDED, "size-exceeded")                                                        \
	X(R_AUTH_INVALID, "auth-invalid")                                                          \
	X(R_AUTH_REQUIRED, "auth-required")                                                        \
	X(R_SENDER_NOT_AUTHORIZED, "sender-not-authorized")                                        \
	X(R_INVALID_ADDRESS, "invalid-address")                                                    \
	X(R_INVALID_RECIPIENT, "invalid-recipient")                                                \
	X(R_PARSE_ERROR, "parse-error")

#define SMTP_REPLY_ENUM(name, id) name,
enum smtp_reply { SMTP_REPLIES(SMTP_REPLY_ENUM) R_COUNT };

#endif
