/*
 * smtp_session.c - the SMTP server state machine (RFC 5321, 3207, 4954).
 *
 * One session per connection. The state says what the next input line is:
 * a command, an AUTH response, or message data; while a message is being
 * committed (ST_COMMIT) input waits in the buffer, which keeps pipelined
 * replies in order. Every reply goes through reply(), which takes a catalog
 * id, writes the transcript, records refusals as events and closes the
 * connection when the catalog says the reply closes it.
 *
 * Invariants: a 250/254 after DATA is written only from the store's commit
 * callback; a session with a commit in flight is never freed before that
 * callback (it is marked dead instead).
 */
#include "smtp_session.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "clock.h"
#include "log.h"
#include "message.h"
#include "server.h"
#include "smtp_auth.h"
#include "smtp_parse.h"

enum state {
	ST_TLS_HANDSHAKE, /* implicit TLS or STARTTLS handshake in progress */
	ST_COMMAND,
	ST_AUTH_PLAIN,      /* waiting for the PLAIN response */
	ST_AUTH_LOGIN_USER, /* waiting for the LOGIN user name */
	ST_AUTH_LOGIN_PASS, /* waiting for the LOGIN password */
	ST_DATA,
	ST_COMMIT, /* message handed to the store, reply pending */
	ST_CLOSING,
};

#define ADDR_MAX 256

struct session {
	struct session *prev, *next;
	struct server *srv;
	struct bufferevent *bev;
	evutil_socket_t fd;
	int bev_owns_fd; /* the TLS bufferevent closes fd; the plain one does not */
	enum state state;
	uint64_t id;
	char ip[64];
	int counted; /* holds a connection slot for its IP */
	int refused; /* over the per-IP limit: 421 instead of the greeting */
	int implicit_tls;
	int tls;
	int helo; /* EHLO or HELO seen (since the last TLS start) */
	int authed;
	int draining;  /* close with 421 4.3.0 after the current transaction */
	int dead;      /* freed as soon as the pending commit calls back */
	int skip_line; /* discarding the rest of an over-long line */
	char user[AUTH_FIELD_MAX];
	char login_user[AUTH_FIELD_MAX];
	char stored_id[40]; /* id of the message being committed */
	struct transcript *transcript;
	struct evbuffer *replies; /* replies not yet handed to the bufferevent */
	const char *command;      /* verb of the command being answered */
	const char *stage;        /* scenario stage of that command: connect, ehlo, mail, ... */
	/* transaction */
	int has_mail;
	char mail_from[ADDR_MAX];
	struct store_rcpt *rcpts;
	size_t nrcpt;
	/* message data */
	char *data;
	size_t data_len, data_cap, data_total, data_lines;
	int data_line_start;
};

#define VARS(...)                                                                                  \
	((const struct cat_var[]){__VA_ARGS__}),                                                   \
	    (sizeof((const struct cat_var[]){__VA_ARGS__}) / sizeof(struct cat_var))
#define NOVARS NULL, 0

static void session_read(struct session *s);
static void session_close(struct session *s);
static void session_free(struct session *s);
static void start_tls(struct session *s);

int smtp_resolve_replies(struct server *srv, char *err, size_t errlen)
{
#define SMTP_REPLY_ID(name, id) id,
	static const char *const ids[] = {SMTP_REPLIES(SMTP_REPLY_ID)};

	for (size_t i = 0; i < R_COUNT; i++) {
		srv->replies[i] = catalog_find(&srv->catalog, ids[i]);
		if (srv->replies[i] == NULL || srv->replies[i]->protocol != CAT_SMTP) {
			snprintf(err, errlen, "the catalog has no SMTP condition '%s'", ids[i]);
			return -1;
		}
	}
	return 0;
}

static const char *user_label(const struct session *s)
{
	return s->authed ? s->user : "anonymous";
}

static void write_line(struct session *s, const char *line, size_t len)
{
	evbuffer_add(s->replies, line, len);
	evbuffer_add(s->replies, "\r\n", 2);
	transcript_add(s->transcript, "out", line, len);
}

/* Sends the replies gathered while the input was processed. On a plain
 * socket with nothing queued they are written at once, which saves the
 * event loop a round of write-readiness bookkeeping per reply. */
static void flush_replies(struct session *s)
{
	struct evbuffer *out = bufferevent_get_output(s->bev);

	if (evbuffer_get_length(s->replies) == 0)
		return;
	if (!s->bev_owns_fd && evbuffer_get_length(out) == 0)
		evbuffer_write(s->replies, s->fd);
	if (evbuffer_get_length(s->replies) > 0)
		evbuffer_add_buffer(out, s->replies);
}

static void record_event(struct session *s, const char *type, int code, const char *text,
                         const char *message)
{
	struct event_record rec = {type,     s->id,      s->ip, s->authed ? s->user : NULL,
	                           s->stage, s->command, code,  text,
	                           message};

	events_emit(s->srv->events, &rec);
}

/* Sends one catalog reply, possibly as several lines (vars sets, one a line). */
static void reply_lines(struct session *s, enum smtp_reply r, const struct cat_var *vars,
                        size_t nvars_per_line, size_t nlines)
{
	const struct cat_entry *e = s->srv->replies[r];
	char line[1024];

	for (size_t i = 0; i < nlines; i++) {
		size_t len = catalog_smtp_line(e, vars + i * nvars_per_line, nvars_per_line, line,
		                               sizeof line);
		if (i + 1 < nlines && len > 3)
			line[3] = '-';
		write_line(s, line, len);
		if (e->code >= 400 && i == 0)
			record_event(s,
			             s->stage && strcmp(s->stage, "data-end") == 0 ? "rejected"
			                                                           : "refused",
			             e->code, line, NULL);
	}
	if (e->closes)
		session_close(s);
}

static void reply(struct session *s, enum smtp_reply r, const struct cat_var *vars, size_t nvars)
{
	reply_lines(s, r, vars, nvars, 1);
}

static void reset_transaction(struct session *s)
{
	for (size_t i = 0; i < s->nrcpt; i++)
		free(s->rcpts[i].address);
	free(s->rcpts);
	s->rcpts = NULL;
	s->nrcpt = 0;
	s->has_mail = 0;
	s->mail_from[0] = '\0';
	free(s->data);
	s->data = NULL;
	s->data_len = s->data_cap = s->data_total = s->data_lines = 0;
}

/* ---- greeting, EHLO, STARTTLS ------------------------------------------ */

static void send_greeting(struct session *s)
{
	s->state = ST_COMMAND;
	s->command = NULL;
	s->stage = "connect";
	if (s->refused) {
		reply(s, R_TOO_MANY_CONNECTIONS, NOVARS);
		return;
	}
	reply(s, R_GREETING, VARS({"hostname", s->srv->cfg->hostname}));
	flush_replies(s);
}

static void add_capability(struct session *s, const char *fmt, unsigned long long value)
{
	char line[128];
	int n = snprintf(line, sizeof line, "250-");

	n += snprintf(line + n, sizeof line - (size_t)n, fmt, value);
	write_line(s, line, (size_t)n);
}

static void proceed_ehlo(struct session *s, const char *arg, int extended)
{
	const struct cat_entry *e = s->srv->replies[extended ? R_EHLO_OK : R_HELO_OK];
	const struct cat_var vars[] = {{"hostname", s->srv->cfg->hostname}, {"helo", arg}};
	char line[1024];
	size_t len;

	if (*arg == '\0') {
		reply(s, R_SYNTAX_ERROR, NOVARS);
		return;
	}
	reset_transaction(s);
	s->helo = 1;
	len = catalog_smtp_line(e, vars, 2, line, sizeof line);
	if (!extended) {
		write_line(s, line, len);
		return;
	}
	line[3] = '-';
	write_line(s, line, len);
	add_capability(s, "PIPELINING", 0);
	add_capability(s, "SIZE %llu", s->srv->cfg->limits.message_bytes);
	add_capability(s, "8BITMIME", 0);
	if (!s->tls && s->srv->tls != NULL)
		add_capability(s, "STARTTLS", 0);
	if (s->tls)
		add_capability(s, "AUTH PLAIN LOGIN", 0);
	write_line(s, "250 ENHANCEDSTATUSCODES", 23);
}

static void proceed_starttls(struct session *s, const char *arg)
{
	if (s->tls)
		reply(s, R_TLS_ALREADY, NOVARS);
	else if (*arg != '\0')
		reply(s, R_SYNTAX_ERROR, NOVARS);
	else if (s->srv->tls == NULL)
		reply(s, R_TLS_UNAVAILABLE, NOVARS);
	else {
		reply(s, R_STARTTLS_GO, NOVARS);
		start_tls(s);
	}
}

/* ---- AUTH ----------------------------------------------------------------- */

static void auth_fail(struct session *s)
{
	policy_auth_failure(s->srv->policy, s->ip, clock_now());
	reply(s, R_AUTH_INVALID, NOVARS);
}

static void auth_finish(struct session *s, const char *user, const char *password)
{
	s->state = ST_COMMAND;
	if (!policy_check_credentials(s->srv->policy, user, password)) {
		auth_fail(s);
		return;
	}
	s->authed = 1;
	snprintf(s->user, sizeof s->user, "%s", user);
	reply(s, R_AUTH_OK, NOVARS);
}

static int reply_decode_error(struct session *s, enum auth_decode result)
{
	s->state = ST_COMMAND;
	switch (result) {
	case AUTH_BAD_BASE64:
		reply(s, R_AUTH_BAD_BASE64, NOVARS);
		return 1;
	case AUTH_NO_NUL:
		reply(s, R_AUTH_NO_NUL, NOVARS);
		return 1;
	case AUTH_NO_SECOND_NUL:
		reply(s, R_AUTH_NO_SECOND_NUL, NOVARS);
		return 1;
	case AUTH_DECODED:
		break;
	}
	return 0;
}

static void auth_plain(struct session *s, const char *payload)
{
	struct auth_credentials cred;

	if (reply_decode_error(s, auth_decode_plain(payload, &cred)))
		return;
	auth_finish(s, cred.user, cred.password);
}

static void auth_login_user(struct session *s, const char *payload)
{
	if (reply_decode_error(s, auth_decode_login(payload, s->login_user, sizeof s->login_user)))
		return;
	s->state = ST_AUTH_LOGIN_PASS;
	reply(s, R_AUTH_CHALLENGE, VARS({"challenge", "UGFzc3dvcmQ6"}));
}

static void auth_login_password(struct session *s, const char *payload)
{
	char password[AUTH_FIELD_MAX];

	if (reply_decode_error(s, auth_decode_login(payload, password, sizeof password)))
		return;
	auth_finish(s, s->login_user, password);
}

static void proceed_auth_response(struct session *s, const char *line)
{
	if (strcmp(line, "*") == 0) {
		s->state = ST_COMMAND;
		reply(s, R_AUTH_CANCELLED, NOVARS);
	} else if (s->state == ST_AUTH_PLAIN) {
		auth_plain(s, line);
	} else if (s->state == ST_AUTH_LOGIN_USER) {
		auth_login_user(s, line);
	} else {
		auth_login_password(s, line);
	}
}

static void proceed_auth(struct session *s, const char *arg)
{
	char mech[32] = "", initial[4 * AUTH_FIELD_MAX] = "", extra[8] = "";
	int fields = sscanf(arg, "%31s %2047s %7s", mech, initial, extra);

	if (!s->helo || s->has_mail)
		reply(s, R_BAD_SEQUENCE, NOVARS);
	else if (!s->tls)
		reply(s, R_TLS_REQUIRED, NOVARS);
	else if (s->authed)
		reply(s, R_ALREADY_AUTHENTICATED, NOVARS);
	else if (policy_auth_blocked(s->srv->policy, s->ip, clock_now()))
		reply(s, R_TOO_MANY_AUTH_FAILURES, NOVARS);
	else if (fields < 1 || fields > 2 || strlen(arg) > 2 * AUTH_FIELD_MAX)
		reply(s, R_AUTH_MECHANISM_MISMATCH, NOVARS);
	else if (strcasecmp(mech, "PLAIN") == 0 && fields == 2)
		auth_plain(s, initial);
	else if (strcasecmp(mech, "PLAIN") == 0) {
		s->state = ST_AUTH_PLAIN;
		reply(s, R_AUTH_CHALLENGE, VARS({"challenge", ""}));
	} else if (strcasecmp(mech, "LOGIN") == 0 && fields == 2)
		auth_login_user(s, initial);
	else if (strcasecmp(mech, "LOGIN") == 0) {
		s->state = ST_AUTH_LOGIN_USER;
		reply(s, R_AUTH_CHALLENGE, VARS({"challenge", "VXNlcm5hbWU6"}));
	} else
		reply(s, R_AUTH_METHOD_UNSUPPORTED, NOVARS);
}

/* ---- MAIL, RCPT, DATA ------------------------------------------------------ */

static int needs_auth(struct session *s)
{
	if (!s->srv->cfg->auth_required || s->authed)
		return 0;
	reply(s, R_AUTH_REQUIRED, NOVARS);
	return 1;
}

/* Parses a path; replies and returns -1 when it is not acceptable. */
static int take_path(struct session *s, const char *arg, const char *prefix, char *addr,
                     const char **params, int allow_empty)
{
	char shown[ADDR_MAX + 2];

	switch (smtp_parse_path(arg, prefix, addr, ADDR_MAX, params)) {
	case PATH_SYNTAX:
		reply(s, R_SYNTAX_ERROR, NOVARS);
		return -1;
	case PATH_OK:
		if ((allow_empty && addr[0] == '\0') || address_is_valid(addr))
			return 0;
		/* fall through */
	case PATH_INVALID_ADDRESS:
		snprintf(shown, sizeof shown, "<%s>", addr);
		reply(s, R_INVALID_ADDRESS, VARS({"address", shown}));
		return -1;
	}
	return -1;
}

static int check_quota(struct session *s)
{
	unsigned long long limit = 0;
	char text[32];

	switch (
	    policy_quota_check(s->srv->policy, s->authed ? s->user : NULL, clock_now(), &limit)) {
	case QUOTA_OK:
		return 0;
	case QUOTA_MINUTE:
		snprintf(text, sizeof text, "%llu", limit);
		reply(s, R_RATE_MINUTE, VARS({"limit", text}));
		return -1;
	case QUOTA_DAY:
		snprintf(text, sizeof text, "%llu", limit);
		reply(s, R_RATE_DAY, VARS({"limit", text}));
		return -1;
	}
	return 0;
}

static int sender_refused(struct session *s, const char *address)
{
	if (policy_sender_approved(s->srv->policy, s->authed ? s->user : NULL, address))
		return 0;
	policy_auth_failure(s->srv->policy, s->ip, clock_now());
	reply(s, R_SENDER_NOT_AUTHORIZED, VARS({"address", address}));
	return 1;
}

static void proceed_mail(struct session *s, const char *arg)
{
	char addr[ADDR_MAX];
	const char *params;
	unsigned long long size;

	if (!s->helo || s->has_mail) {
		reply(s, R_BAD_SEQUENCE, NOVARS);
		return;
	}
	if (needs_auth(s) || take_path(s, arg, "FROM:", addr, &params, 1) < 0)
		return;
	switch (smtp_parse_mail_params(params, &size)) {
	case PARAM_UNSUPPORTED:
		reply(s, R_PARAM_UNSUPPORTED, NOVARS);
		return;
	case PARAM_SYNTAX:
		reply(s, R_SYNTAX_ERROR, NOVARS);
		return;
	case PARAM_OK:
		break;
	}
	if (size > s->srv->cfg->limits.message_bytes) {
		reply(s, R_SIZE_EXCEEDED, NOVARS);
		return;
	}
	if (policy_auth_blocked(s->srv->policy, s->ip, clock_now())) {
		reply(s, R_TOO_MANY_AUTH_FAILURES, NOVARS);
		return;
	}
	if (sender_refused(s, addr) || check_quota(s) < 0)
		return;
	s->has_mail = 1;
	snprintf(s->mail_from, sizeof s->mail_from, "%s", addr);
	reply(s, R_MAIL_OK, NOVARS);
}

static void proceed_rcpt(struct session *s, const char *arg)
{
	char addr[ADDR_MAX];
	const char *params;
	struct store_rcpt *grown;

	if (needs_auth(s))
		return;
	if (!s->has_mail) {
		reply(s, R_BAD_SEQUENCE, NOVARS);
		return;
	}
	if (take_path(s, arg, "TO:", addr, &params, 0) < 0)
		return;
	if (smtp_parse_rcpt_params(params) != PARAM_OK) {
		reply(s, R_PARAM_UNSUPPORTED, NOVARS);
		return;
	}
	if (s->nrcpt >= s->srv->cfg->limits.recipients ||
	    (grown = realloc(s->rcpts, (s->nrcpt + 1) * sizeof *s->rcpts)) == NULL) {
		reply(s, R_TOO_MANY_RECIPIENTS, NOVARS);
		return;
	}
	s->rcpts = grown;
	s->rcpts[s->nrcpt].address = strdup(addr);
	s->rcpts[s->nrcpt].suppressed = policy_is_suppressed(s->srv->policy, addr);
	s->nrcpt++;
	reply(s, R_RCPT_OK, NOVARS);
}

static void proceed_data(struct session *s, const char *arg)
{
	if (needs_auth(s))
		return;
	if (s->nrcpt == 0) {
		reply(s, R_NEED_RCPT, NOVARS);
		return;
	}
	if (*arg != '\0') {
		reply(s, R_SYNTAX_ERROR, NOVARS);
		return;
	}
	reply(s, R_DATA_GO, NOVARS);
	s->state = ST_DATA;
	s->data_line_start = 1;
}

/* ---- the end of DATA: checks, commit, reply -------------------------------- */

static int header_from_refused(struct session *s, const struct header_info *h)
{
	size_t shown = h->nfrom < HDR_FROM_MAX ? h->nfrom : HDR_FROM_MAX;
	int matches_envelope = 0;

	if (policy_is_open(s->srv->policy))
		return 0;
	if (h->nfrom == 0) { /* RFC 5322 requires From; nothing to approve */
		reply(s, R_PARSE_ERROR, NOVARS);
		return 1;
	}
	for (size_t i = 0; i < shown; i++) {
		if (sender_refused(s, h->from[i]))
			return 1;
		if (strcasecmp(h->from[i], s->mail_from) == 0)
			matches_envelope = 1;
	}
	if (h->nfrom > 1)
		transcript_add(s->transcript, "note", "From holds several addresses (discouraged)",
		               42);
	if (matches_envelope)
		return 0;
	policy_auth_failure(s->srv->policy, s->ip, clock_now());
	reply(s, R_SENDER_NOT_AUTHORIZED, VARS({"address", h->from[0]}));
	return 1;
}

static void finish_transaction(struct session *s)
{
	reset_transaction(s);
	s->state = ST_COMMAND;
	if (s->draining)
		reply(s, R_MAIL_SYSTEM_FAILURE, NOVARS);
}

static void reply_accepted(struct session *s, const char *id)
{
	struct cat_var vars[2 * 50];
	size_t nsup = 0;
	char line[1024];
	enum smtp_reply r = R_ACCEPTED;

	for (size_t i = 0; i < s->nrcpt && nsup < 50; i++)
		if (s->rcpts[i].suppressed) {
			vars[2 * nsup] = (struct cat_var){"user", user_label(s)};
			vars[2 * nsup + 1] = (struct cat_var){"recipient", s->rcpts[i].address};
			nsup++;
		}
	if (nsup > 0)
		r = R_SUPPRESSED;
	else
		vars[nsup++] = (struct cat_var){"id", id};
	catalog_smtp_line(s->srv->replies[r], vars, r == R_SUPPRESSED ? 2 : 1, line, sizeof line);
	record_event(s, "accepted", s->srv->replies[r]->code, line, id);
	reply_lines(s, r, vars, r == R_SUPPRESSED ? 2 : 1, r == R_SUPPRESSED ? nsup : 1);
}

static void on_committed(void *arg, int ok)
{
	struct session *s = arg;

	if (s->dead) {
		s->state = ST_CLOSING;
		session_free(s);
		return;
	}
	if (!ok) {
		reply(s, R_STORAGE_ERROR, NOVARS);
	} else {
		policy_quota_charge(s->srv->policy, s->authed ? s->user : NULL,
		                    policy_quota_units(s->srv->policy, s->nrcpt, s->data_total),
		                    clock_now());
		reply_accepted(s, s->stored_id);
	}
	if (s->state == ST_CLOSING)
		return;
	finish_transaction(s);
	if (s->state == ST_COMMAND)
		session_read(s);
}

static struct store_message *build_message(struct session *s, const struct header_info *h)
{
	struct store_message *m = calloc(1, sizeof *m);

	if (m == NULL)
		return NULL;
	store_assign_id(s->srv->store, m);
	m->received = clock_wall();
	snprintf(m->client_ip, sizeof m->client_ip, "%s", s->ip);
	m->connection = s->id;
	m->user = s->authed ? strdup(s->user) : NULL;
	m->mail_from = strdup(s->mail_from);
	m->rcpts = s->rcpts;
	m->nrcpt = s->nrcpt;
	s->rcpts = calloc(s->nrcpt, sizeof *s->rcpts);
	for (size_t i = 0; i < s->nrcpt; i++) {
		s->rcpts[i].address = strdup(m->rcpts[i].address);
		s->rcpts[i].suppressed = m->rcpts[i].suppressed;
	}
	m->message_id = h->message_id[0] ? strdup(h->message_id) : NULL;
	m->subject = h->subject[0] ? strdup(h->subject) : NULL;
	m->raw = s->data;
	m->raw_len = s->data_len;
	s->data = NULL;
	s->data_len = s->data_cap = 0;
	return m;
}

static void data_end(struct session *s)
{
	const struct config_limits *l = &s->srv->cfg->limits;
	struct header_info h;
	struct store_message *m;
	char note[96];

	s->stage = "data-end";
	snprintf(note, sizeof note, "message data: %zu bytes in %zu lines", s->data_total,
	         s->data_lines);
	transcript_add(s->transcript, "note", note, strlen(note));
	if (s->data_total > l->message_bytes) {
		reply(s, R_SIZE_EXCEEDED, NOVARS);
		goto done;
	}
	if (message_parse_headers(s->data ? s->data : "", s->data_len, l->header_bytes, &h) !=
	    HDR_OK) {
		reply(s, R_PARSE_ERROR, NOVARS);
		goto done;
	}
	if (header_from_refused(s, &h))
		goto done;
	if (l->store_bytes > 0 && store_bytes_used(s->srv->store) + s->data_len > l->store_bytes) {
		reply(s, R_STORAGE_ERROR, NOVARS);
		goto done;
	}
	m = build_message(s, &h);
	if (m == NULL) {
		reply(s, R_STORAGE_ERROR, NOVARS);
		goto done;
	}
	snprintf(s->stored_id, sizeof s->stored_id, "%s", m->id);
	s->state = ST_COMMIT;
	if (store_submit(s->srv->store, m, on_committed, s) == 0)
		return;
	store_message_free(m);
	reply(s, R_STORAGE_ERROR, NOVARS);
done:
	if (s->state != ST_CLOSING)
		finish_transaction(s);
}

/* Appends n bytes of message data, keeping at most message_bytes. */
static void data_append(struct session *s, struct evbuffer *in, size_t n, int add_crlf)
{
	size_t limit = s->srv->cfg->limits.message_bytes, want = n + (add_crlf ? 2 : 0);

	s->data_total += want;
	if (s->data_total > limit) {
		evbuffer_drain(in, n);
		return;
	}
	if (s->data_len + want > s->data_cap) {
		size_t cap = s->data_cap ? s->data_cap : 4096;
		char *grown;
		while (cap < s->data_len + want)
			cap *= 2;
		if ((grown = realloc(s->data, cap)) == NULL) {
			s->data_total = limit + 1;
			evbuffer_drain(in, n);
			return;
		}
		s->data = grown;
		s->data_cap = cap;
	}
	evbuffer_remove(in, s->data + s->data_len, n);
	s->data_len += n;
	if (add_crlf) {
		memcpy(s->data + s->data_len, "\r\n", 2);
		s->data_len += 2;
	}
}

/* Consumes message data; returns 0 when it needs more input. */
static int read_data(struct session *s, struct evbuffer *in)
{
	for (;;) {
		size_t eol_len = 0, avail = evbuffer_get_length(in);
		struct evbuffer_ptr p = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_CRLF);
		unsigned char first[2];

		if (p.pos < 0) {
			if (avail < 8192)
				return 0;
			data_append(s, in, avail - 1, 0); /* a long line: keep its last byte */
			s->data_line_start = 0;
			continue;
		}
		evbuffer_copyout(in, first, p.pos >= 2 ? 2 : (size_t)p.pos);
		if (s->data_line_start && p.pos == 1 && first[0] == '.') {
			evbuffer_drain(in, 1 + eol_len);
			data_end(s);
			return 1;
		}
		if (s->data_line_start && p.pos > 0 && first[0] == '.') {
			evbuffer_drain(in, 1);
			p.pos--;
		}
		data_append(s, in, (size_t)p.pos, 1);
		evbuffer_drain(in, eol_len);
		s->data_lines++;
		s->data_line_start = 1;
	}
}

/* ---- dispatch ---------------------------------------------------------------- */

static const char *verb_stage(enum smtp_verb verb)
{
	switch (verb) {
	case VERB_EHLO:
	case VERB_HELO:
		return "ehlo";
	case VERB_STARTTLS:
		return "starttls";
	case VERB_AUTH:
		return "auth";
	case VERB_MAIL:
		return "mail";
	case VERB_RCPT:
		return "rcpt";
	case VERB_DATA:
		return "data";
	case VERB_RSET:
		return "rset";
	case VERB_QUIT:
		return "quit";
	default:
		return "command";
	}
}

static void proceed_command(struct session *s, const char *line)
{
	struct smtp_command cmd;

	smtp_parse_command(line, &cmd);
	s->command = cmd.verb == VERB_UNKNOWN ? "unknown" : smtp_verb_name(cmd.verb);
	s->stage = verb_stage(cmd.verb);
	switch (cmd.verb) {
	case VERB_EHLO:
		proceed_ehlo(s, cmd.arg, 1);
		break;
	case VERB_HELO:
		proceed_ehlo(s, cmd.arg, 0);
		break;
	case VERB_STARTTLS:
		proceed_starttls(s, cmd.arg);
		break;
	case VERB_AUTH:
		proceed_auth(s, cmd.arg);
		break;
	case VERB_MAIL:
		proceed_mail(s, cmd.arg);
		break;
	case VERB_RCPT:
		proceed_rcpt(s, cmd.arg);
		break;
	case VERB_DATA:
		proceed_data(s, cmd.arg);
		break;
	case VERB_RSET:
		reset_transaction(s);
		reply(s, R_RSET_OK, NOVARS);
		break;
	case VERB_NOOP:
		reply(s, R_NOOP_OK, NOVARS);
		break;
	case VERB_QUIT:
		reply(s, R_BYE, NOVARS);
		break;
	case VERB_VRFY:
	case VERB_EXPN:
	case VERB_HELP:
		reply(s, R_NOT_IMPLEMENTED, NOVARS);
		break;
	case VERB_UNKNOWN:
		reply(s, R_UNKNOWN_COMMAND, NOVARS);
		break;
	}
}

static void proceed_line(struct session *s, const char *line, size_t len)
{
	transcript_add(s->transcript, "in", line, len);
	if (s->state == ST_COMMAND)
		proceed_command(s, line);
	else
		proceed_auth_response(s, line);
}

/* Reads one command line into line; returns 0 when none is complete yet. */
static int take_line(struct session *s, struct evbuffer *in, char *line, size_t max)
{
	size_t eol_len = 0;
	struct evbuffer_ptr p = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_CRLF);

	if (p.pos < 0) {
		if (evbuffer_get_length(in) <= max)
			return 0;
		evbuffer_drain(in, evbuffer_get_length(in));
		if (!s->skip_line) {
			s->skip_line = 1;
			s->command = NULL;
			s->stage = "command";
			reply(s, R_LINE_TOO_LONG, NOVARS);
		}
		return 0;
	}
	if (s->skip_line || (size_t)p.pos > max) {
		evbuffer_drain(in, (size_t)p.pos + eol_len);
		if (!s->skip_line) {
			s->command = NULL;
			s->stage = "command";
			reply(s, R_LINE_TOO_LONG, NOVARS);
		}
		s->skip_line = 0;
		return -1;
	}
	evbuffer_remove(in, line, (size_t)p.pos);
	line[p.pos] = '\0';
	evbuffer_drain(in, eol_len);
	return 1;
}

static void session_read(struct session *s)
{
	struct evbuffer *in = bufferevent_get_input(s->bev);
	size_t max = s->srv->cfg->limits.line_bytes;
	char *line = malloc(max + 1);
	int got;

	while (line != NULL &&
	       (s->state == ST_COMMAND || s->state == ST_DATA || s->state == ST_AUTH_PLAIN ||
	        s->state == ST_AUTH_LOGIN_USER || s->state == ST_AUTH_LOGIN_PASS)) {
		if (s->state == ST_DATA) {
			if (!read_data(s, in))
				break;
			continue;
		}
		got = take_line(s, in, line, max);
		if (got == 0)
			break;
		if (got > 0)
			proceed_line(s, line, strlen(line));
	}
	free(line);
	if (s->state != ST_CLOSING)
		flush_replies(s);
}

/* ---- connection life ----------------------------------------------------------- */

static void on_read(struct bufferevent *bev, void *arg)
{
	(void)bev;
	session_read(arg);
}

static void on_drained(struct bufferevent *bev, void *arg)
{
	struct session *s = arg;

	if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		session_free(s);
}

static void note_tls_error(struct session *s, const char *what)
{
	char msg[300];
	unsigned long e = bufferevent_get_openssl_error(s->bev);

	if (e == 0)
		e = ERR_peek_last_error();
	snprintf(msg, sizeof msg, "%s: %s", what,
	         e ? ERR_reason_error_string(e) : "connection closed");
	transcript_add(s->transcript, "note", msg, strlen(msg));
	log_info("connection %llu from %s: %s", (unsigned long long)s->id, s->ip, msg);
	ERR_clear_error();
}

static void note_tls_established(struct session *s)
{
	SSL *ssl = bufferevent_openssl_get_ssl(s->bev);
	char msg[200];

	snprintf(msg, sizeof msg, "TLS established: %s %s", SSL_get_version(ssl),
	         SSL_get_cipher_name(ssl));
	transcript_add(s->transcript, "note", msg, strlen(msg));
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	struct session *s = arg;

	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		s->tls = 1;
		note_tls_established(s);
		if (s->implicit_tls && !s->helo && s->state == ST_TLS_HANDSHAKE)
			send_greeting(s);
		else
			s->state = ST_COMMAND;
		session_read(s);
		return;
	}
	if ((what & BEV_EVENT_TIMEOUT) && s->state == ST_COMMIT) {
		bufferevent_enable(s->bev, EV_READ | EV_WRITE); /* the reply is on its way */
		return;
	}
	if ((what & BEV_EVENT_TIMEOUT) && s->state != ST_CLOSING && s->state != ST_COMMIT &&
	    s->state != ST_TLS_HANDSHAKE) {
		s->command = NULL;
		s->stage = "idle";
		reply(s, R_TIMEOUT, NOVARS);
		return;
	}
	if (s->state == ST_TLS_HANDSHAKE && (what & BEV_EVENT_ERROR))
		note_tls_error(s, "TLS handshake failed");
	else if (what & BEV_EVENT_EOF)
		transcript_add(s->transcript, "note", "client closed the connection", 28);
	if (s->state == ST_COMMIT) {
		s->dead = 1;
		bufferevent_disable(s->bev, EV_READ | EV_WRITE);
		return;
	}
	session_free(s);
}

static void set_callbacks(struct session *s)
{
	struct timeval tv;
	double t = s->srv->cfg->limits.command_timeout;

	tv.tv_sec = (long)t;
	tv.tv_usec = (long)((t - (double)tv.tv_sec) * 1e6);
	bufferevent_setcb(s->bev, on_read, NULL, on_event, s);
	bufferevent_set_timeouts(s->bev, &tv, &tv);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
}

/* The 220 for STARTTLS has left: switch the socket to a TLS bufferevent. */
static void on_starttls_flushed(struct bufferevent *bev, void *arg)
{
	struct session *s = arg;
	SSL *ssl;

	if (evbuffer_get_length(bufferevent_get_output(bev)) > 0)
		return;
	ssl = SSL_new(s->srv->tls);
	bufferevent_free(s->bev);
	s->bev =
	    ssl ? bufferevent_openssl_socket_new(s->srv->base, s->fd, ssl,
	                                         BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE)
	        : NULL;
	if (s->bev == NULL) {
		SSL_free(ssl);
		s->state = ST_CLOSING;
		session_free(s);
		return;
	}
	s->bev_owns_fd = 1;
	bufferevent_openssl_set_allow_dirty_shutdown(s->bev, 1);
	set_callbacks(s);
}

static void start_tls(struct session *s)
{
	struct evbuffer *in = bufferevent_get_input(s->bev);

	flush_replies(s);
	/* Anything pipelined after STARTTLS is plaintext injection: drop it. */
	evbuffer_drain(in, evbuffer_get_length(in));
	bufferevent_disable(s->bev, EV_READ);
	s->state = ST_TLS_HANDSHAKE;
	s->helo = 0;
	reset_transaction(s);
	bufferevent_setcb(s->bev, NULL, on_starttls_flushed, on_event, s);
	bufferevent_setwatermark(s->bev, EV_WRITE, 0, 0);
	bufferevent_trigger(s->bev, EV_WRITE,
	                    BEV_TRIG_DEFER_CALLBACKS | BEV_TRIG_IGNORE_WATERMARKS);
}

static void session_close(struct session *s)
{
	flush_replies(s);
	s->state = ST_CLOSING;
	bufferevent_disable(s->bev, EV_READ);
	bufferevent_setcb(s->bev, NULL, on_drained, on_event, s);
	bufferevent_setwatermark(s->bev, EV_WRITE, 0, 0);
	if (evbuffer_get_length(bufferevent_get_output(s->bev)) == 0)
		bufferevent_trigger(s->bev, EV_WRITE,
		                    BEV_TRIG_DEFER_CALLBACKS | BEV_TRIG_IGNORE_WATERMARKS);
}

static void session_free(struct session *s)
{
	struct server *srv = s->srv;

	if (s->state == ST_COMMIT) {
		s->dead = 1;
		return;
	}
	if (s->prev)
		s->prev->next = s->next;
	else
		srv->sessions = s->next;
	if (s->next)
		s->next->prev = s->prev;
	srv->nsessions--;
	if (s->counted)
		policy_connection_close(srv->policy, s->ip);
	transcript_close(srv->events, s->transcript);
	bufferevent_free(s->bev);
	evbuffer_free(s->replies);
	if (!s->bev_owns_fd)
		evutil_closesocket(s->fd);
	reset_transaction(s);
	free(s);
	server_session_gone(srv);
}

void smtp_session_start(struct server *srv, evutil_socket_t fd, const struct sockaddr *sa,
                        int implicit_tls)
{
	struct session *s = calloc(1, sizeof *s);
	const void *addr = sa->sa_family == AF_INET6
	                       ? (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr
	                       : (const void *)&((const struct sockaddr_in *)sa)->sin_addr;
	SSL *ssl = NULL;

	if (s == NULL || (s->replies = evbuffer_new()) == NULL ||
	    (implicit_tls && (ssl = SSL_new(srv->tls)) == NULL)) {
		if (s != NULL && s->replies != NULL)
			evbuffer_free(s->replies);
		free(s);
		evutil_closesocket(fd);
		return;
	}
	/* Replies are whole lines written at once: never hold one back. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){1}, sizeof(int));
	s->srv = srv;
	s->id = ++srv->next_connection;
	s->implicit_tls = implicit_tls;
	evutil_inet_ntop(sa->sa_family, addr, s->ip, sizeof s->ip);
	s->counted = policy_connection_open(srv->policy, s->ip) == 0;
	s->refused = !s->counted;
	s->transcript = transcript_open(srv->events, s->id, s->ip);
	s->bev = implicit_tls
	             ? bufferevent_openssl_socket_new(srv->base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
	                                              BEV_OPT_CLOSE_ON_FREE)
	             : bufferevent_socket_new(srv->base, fd, 0);
	s->fd = fd;
	s->bev_owns_fd = implicit_tls;
	s->next = srv->sessions;
	if (srv->sessions)
		srv->sessions->prev = s;
	srv->sessions = s;
	srv->nsessions++;
	if (s->bev == NULL) {
		SSL_free(ssl);
		evbuffer_free(s->replies);
		evutil_closesocket(fd);
		s->state = ST_CLOSING;
		transcript_close(srv->events, s->transcript);
		s->transcript = NULL;
		srv->nsessions--;
		srv->sessions = s->next;
		if (s->next)
			s->next->prev = NULL;
		if (s->counted)
			policy_connection_close(srv->policy, s->ip);
		free(s);
		return;
	}
	if (implicit_tls)
		bufferevent_openssl_set_allow_dirty_shutdown(s->bev, 1);
	set_callbacks(s);
	if (implicit_tls)
		s->state = ST_TLS_HANDSHAKE;
	else
		send_greeting(s);
}

void smtp_session_drain(struct session *s)
{
	s->draining = 1;
	if (s->state == ST_TLS_HANDSHAKE)
		session_free(s);
	else if (s->state == ST_COMMAND || s->state == ST_AUTH_PLAIN ||
	         s->state == ST_AUTH_LOGIN_USER || s->state == ST_AUTH_LOGIN_PASS) {
		s->command = NULL;
		s->stage = "shutdown";
		reply(s, R_MAIL_SYSTEM_FAILURE, NOVARS);
	}
}

void smtp_session_abort(struct session *s)
{
	if (s->state == ST_CLOSING || s->state == ST_COMMIT)
		return;
	s->command = NULL;
	s->stage = "shutdown";
	reply(s, R_MAIL_SYSTEM_FAILURE, NOVARS);
}

struct session *smtp_session_next(struct session *s)
{
	return s->next;
}
