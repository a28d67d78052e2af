/*
 * smtp_session.c - the SMTP server state machine (RFC 5321, 3207, 4954):
 * the command table and one function per command, AUTH, the final dot and
 * the commit, replies and their events. Below it: the transaction and its
 * message data (smtp_tx.c), the connection (smtp_conn.c, which reports
 * through conn_events), parsing (smtp_parse.c, smtp_auth.c). Beside it,
 * smtp_hooks.c renders the scenario's verdicts; the two call each other
 * because a delayed rule resumes the very command it held (see there).
 *
 * Each command has a row in `commands`: its check (syntax and sequence,
 * before any rule is asked), the scenario stage asked once for every
 * command in session_proceed_command(), and its proceed (the native checks
 * and reply, or what a forced reply implies).
 *
 * One session per connection. The state says what the next input line is:
 * a command, an AUTH response, or message data; while a message is being
 * committed (ST_COMMIT) or a rule delays (ST_WAIT), input waits in the
 * buffer, which keeps pipelined replies in order. Every native reply goes
 * through session_reply(), which takes a catalog id, writes the transcript,
 * records refusals as events and closes the connection when the catalog
 * says the reply closes it.
 */
#include "smtp_session.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "clock.h"
#include "log.h"
#include "mailflow.h"
#include "message.h"
#include "profile.h"
#include "smtp_auth.h"
#include "smtp_parse.h"
#include "util.h"

#include "smtp_session_priv.h"

static void session_honour_close_after(struct session *s);
static const struct conn_events conn_events;

/* A command's arguments, parsed by its check, and what the scenario's rules
 * match on (ctx). */
struct cmd_args {
	enum smtp_verb verb;
	const char *arg; /* the text after the verb */
	struct hook_ctx ctx;
	char addr[ADDR_MAX];              /* MAIL, RCPT: the path's address */
	const char *params;               /* MAIL, RCPT: the parameters after it */
	const char *one[1];               /* RCPT: the recipient, as a list */
	unsigned long long size;          /* MAIL: SIZE= */
	const char **rcpts;               /* DATA: the envelope's recipients (freed after) */
	char mech[32];                    /* AUTH: the mechanism */
	char initial[4 * AUTH_FIELD_MAX]; /* AUTH: the initial response */
	int fields;                       /* AUTH: how many words the command had */
};

/* The catalog id of an engine reply: the profile's own name for it, else
 * its prefix and the reply's name. */
static void reply_id(const struct profile *p, const char *name, char *id, size_t len)
{
	for (size_t i = 0; p->smtp_reply_ids != NULL && p->smtp_reply_ids[i][0] != NULL; i++)
		if (strcmp(p->smtp_reply_ids[i][0], name) == 0) {
			snprintf(id, len, "%s", p->smtp_reply_ids[i][1]);
			return;
		}
	snprintf(id, len, "%s%s", p->smtp_reply_prefix, name);
}

struct smtp_server *smtp_server_new(const struct env *env, void (*drained)(void *arg), void *arg,
                                    char *err, size_t errlen)
{
#define SMTP_REPLY_NAME(name, id) id,
	static const char *const names[] = {SMTP_REPLIES(SMTP_REPLY_NAME)};
	struct smtp_server *ss = xcalloc(1, sizeof *ss);
	char id[128];

	ss->env = *env;
	TAILQ_INIT(&ss->sessions);
	ss->conn_events = &conn_events;
	ss->drained = drained;
	ss->arg = arg;
	for (size_t i = 0; i < R_COUNT; i++) {
		reply_id(env->profile, names[i], id, sizeof id);
		ss->replies[i] = catalog_find(env->catalog, id);
		if (ss->replies[i] == NULL || ss->replies[i]->protocol != CAT_SMTP) {
			snprintf(err, errlen, "the catalog has no SMTP condition '%s'", id);
			free(ss);
			return NULL;
		}
	}
	return ss;
}

void smtp_server_free(struct smtp_server *ss)
{
	free(ss);
}

const char *session_user_label(const struct session *s)
{
	return s->authed ? s->user : "anonymous";
}

void session_write_line(struct session *s, const char *line, size_t len)
{
	evbuffer_add(s->replies, line, len);
	evbuffer_add(s->replies, "\r\n", 2);
	transcript_add(s->transcript, "out", line, len);
}

/* Sends the replies gathered while the input was processed. On a plain
 * socket with nothing queued they are written at once, which saves the
 * event loop a round of write-readiness bookkeeping per reply. */
void session_record_event(struct session *s, const char *type, int code, const char *text,
                          const char *message)
{
	struct event_record rec = {.type = type,
	                           .connection = s->id,
	                           .client_ip = s->ip,
	                           .user = s->authed ? s->user : NULL,
	                           .stage = s->stage,
	                           .command = s->command,
	                           .code = code,
	                           .reply = text,
	                           .message = message,
	                           .rule = s->rule_label[0] ? s->rule_label : NULL};

	events_emit(s->env->events, &rec);
}

/* Sends one catalog reply, possibly as several lines (vars sets, one a line). */
/* Any catalog entry's reply: one line per nvars_per_line variables. */
static void reply_entry_lines(struct session *s, const struct cat_entry *e,
                              const struct cat_var *vars, size_t nvars_per_line, size_t nlines)
{
	char line[1024];

	for (size_t i = 0; i < nlines; i++) {
		size_t len = catalog_smtp_line(e, vars + i * nvars_per_line, nvars_per_line, line,
		                               sizeof line);
		if (i + 1 < nlines && len > 3)
			line[3] = '-';
		session_write_line(s, line, len);
		if (e->code >= 400 && i == 0)
			session_record_event(
			    s,
			    s->stage && strcmp(s->stage, "data-end") == 0 ? "rejected" : "refused",
			    e->code, line, NULL);
	}
	if (e->closes)
		session_close(s);
}

void session_reply_lines(struct session *s, enum smtp_reply r, const struct cat_var *vars,
                         size_t nvars_per_line, size_t nlines)
{
	reply_entry_lines(s, s->srv->replies[r], vars, nvars_per_line, nlines);
}

void session_reply_entry(struct session *s, const struct cat_entry *e, const struct cat_var *vars,
                         size_t nvars)
{
	reply_entry_lines(s, e, vars, nvars, 1);
}

void session_reply(struct session *s, enum smtp_reply r, const struct cat_var *vars, size_t nvars)
{
	session_reply_lines(s, r, vars, nvars, 1);
}

void session_reset_transaction(struct session *s)
{
	for (size_t i = 0; i < s->tx.nrcpt; i++)
		free(s->tx.rcpts[i].address);
	free(s->tx.rcpts);
	s->tx.rcpts = NULL;
	s->tx.nrcpt = 0;
	s->tx.has_mail = 0;
	s->tx.mail_from[0] = '\0';
	free(s->tx.data);
	s->tx.data = NULL;
	s->tx.data_len = s->tx.data_cap = s->tx.data_total = s->tx.data_lines = 0;
}

/* ---- greeting, EHLO, STARTTLS ------------------------------------------ */

void session_send_greeting(struct session *s)
{
	struct hook_ctx ctx = {.stage = STAGE_CONNECT};
	struct hook_outcome h;

	s->state = ST_COMMAND;
	s->command = NULL;
	s->stage = "connect";
	h = smtp_hook(s, &ctx, 0);
	if (h.rule != NULL && h.rule->act.tls_fail && h.result != HOOK_WAIT) {
		session_drop(s); /* plain port: no TLS to fail, the line goes dead */
		return;
	}
	if (h.result == HOOK_WAIT || h.result == HOOK_DONE) {
		if (s->state != ST_CLOSING)
			session_flush_replies(s);
		return;
	}
	if (s->refused && h.result != HOOK_ACCEPT) {
		session_reply(s, R_TOO_MANY_CONNECTIONS, NOVARS);
		return;
	}
	session_reply(s, R_GREETING, VARS({"hostname", s->env->cfg->hostname}));
	session_flush_replies(s);
}

/* One EHLO line after the first (see struct profile's ehlo_lines); 0 when
 * the session has nothing to say for it. */
static size_t capability_line(struct session *s, const char *name, char *line, size_t len)
{
	if (strcmp(name, "SIZE") == 0)
		return (size_t)snprintf(line, len, "SIZE %llu", s->env->cfg->limits.message_bytes);
	if (strcmp(name, "STARTTLS") == 0)
		return !s->tls && s->env->tls != NULL ? (size_t)snprintf(line, len, "STARTTLS") : 0;
	if (strcmp(name, "AUTH") == 0)
		return s->tls ? (size_t)snprintf(line, len, "AUTH PLAIN LOGIN") : 0;
	return (size_t)snprintf(line, len, "%s", name);
}

static void write_capabilities(struct session *s)
{
	const char *const *names = s->env->profile->ehlo_lines;
	char line[128];
	size_t len;

	for (size_t i = 0; names[i] != NULL; i++) {
		if ((len = capability_line(s, names[i], line + 4, sizeof line - 4)) == 0)
			continue;
		memcpy(line, names[i + 1] == NULL ? "250 " : "250-", 4);
		session_write_line(s, line, len + 4);
	}
}

static int check_ehlo(struct session *s, struct cmd_args *a)
{
	if (*a->arg == '\0') {
		session_reply(s, R_SYNTAX_ERROR, NOVARS);
		return -1;
	}
	a->ctx.helo = a->arg;
	return 0;
}

static void proceed_ehlo(struct session *s, struct cmd_args *a, const struct hook_outcome *hp)
{
	int extended = a->verb == VERB_EHLO;
	const char *arg = a->arg;
	const struct cat_entry *e = s->srv->replies[extended ? R_EHLO_OK : R_HELO_OK];
	const struct cat_var vars[] = {{"hostname", s->env->cfg->hostname}, {"helo", arg}};
	char line[1024];
	size_t len;
	struct hook_outcome h = *hp;

	if (h.result == HOOK_WAIT || h.result == HOOK_DONE) {
		if (h.result == HOOK_DONE && h.code > 0 && h.code < 400) {
			session_reset_transaction(s);
			s->helo = 1;
		}
		return;
	}
	session_reset_transaction(s);
	s->helo = 1;
	snprintf(s->helo_name, sizeof s->helo_name, "%s", arg);
	len = catalog_smtp_line(e, vars, 2, line, sizeof line);
	if (!extended) {
		session_write_line(s, line, len);
		return;
	}
	line[3] = '-';
	session_write_line(s, line, len);
	write_capabilities(s);
}

/* RFC 3207: after the handshake the client knows nothing it was told
 * before it: EHLO again, no transaction. */
static void start_tls(struct session *s)
{
	s->helo = 0;
	session_reset_transaction(s);
	session_start_tls(s);
}

static void proceed_starttls(struct session *s, struct cmd_args *a, const struct hook_outcome *hp)
{
	const char *arg = a->arg;
	struct hook_outcome h = *hp;

	if (h.rule != NULL && h.rule->act.tls_fail && h.result != HOOK_WAIT) {
		/* "Go ahead", then the line goes dead: the client's handshake fails. */
		session_reply(s, R_STARTTLS_GO, NOVARS);
		transcript_note(s->transcript, "the scenario fails the TLS handshake");
		session_close(s);
		return;
	}
	if (h.result == HOOK_WAIT || h.result == HOOK_DONE) {
		if (h.code == 220 && !s->tls && s->env->tls != NULL && s->state != ST_CLOSING)
			start_tls(s);
		return;
	}
	if (s->tls)
		session_reply(s, R_TLS_ALREADY, NOVARS);
	else if (*arg != '\0')
		session_reply(s, R_SYNTAX_ERROR, NOVARS);
	else if (s->env->tls == NULL)
		session_reply(s, R_TLS_UNAVAILABLE, NOVARS);
	else {
		session_reply(s, R_STARTTLS_GO, NOVARS);
		start_tls(s);
	}
}

/* ---- AUTH ----------------------------------------------------------------- */

static void auth_fail(struct session *s)
{
	policy_auth_failure(s->env->policy, s->ip, vclock_now(s->env->clock));
	session_reply(s, R_AUTH_INVALID, NOVARS);
}

static int credentials_good(const struct session *s, const char *user, const char *password)
{
	const struct profile *p = s->env->profile;

	if (p->smtp_login != NULL)
		return p->smtp_login(s->env->account, user, password);
	return policy_check_credentials(s->env->policy, user, password);
}

static void auth_finish(struct session *s, const char *user, const char *password)
{
	s->state = ST_COMMAND;
	if (!s->accept_auth && !credentials_good(s, user, password)) {
		auth_fail(s);
		return;
	}
	s->authed = 1;
	snprintf(s->user, sizeof s->user, "%s", user);
	session_reply(s, R_AUTH_OK, NOVARS);
}

static int reply_decode_error(struct session *s, enum auth_decode result)
{
	s->state = ST_COMMAND;
	switch (result) {
	case AUTH_BAD_BASE64:
		session_reply(s, R_AUTH_BAD_BASE64, NOVARS);
		return 1;
	case AUTH_NO_NUL:
		session_reply(s, R_AUTH_NO_NUL, NOVARS);
		return 1;
	case AUTH_NO_SECOND_NUL:
		session_reply(s, R_AUTH_NO_SECOND_NUL, NOVARS);
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
	session_reply(s, R_AUTH_CHALLENGE, VARS({"challenge", "UGFzc3dvcmQ6"}));
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
		session_reply(s, R_AUTH_CANCELLED, NOVARS);
	} else if (s->state == ST_AUTH_PLAIN) {
		auth_plain(s, line);
	} else if (s->state == ST_AUTH_LOGIN_USER) {
		auth_login_user(s, line);
	} else {
		auth_login_password(s, line);
	}
}

static int check_auth(struct session *s, struct cmd_args *a)
{
	char extra[8] = "";

	(void)s;
	a->fields = sscanf(a->arg, "%31s %2047s %7s", a->mech, a->initial, extra);
	a->ctx.mechanism = a->mech;
	return 0;
}

static void proceed_auth(struct session *s, struct cmd_args *a, const struct hook_outcome *hp)
{
	const char *arg = a->arg, *mech = a->mech, *initial = a->initial;
	int fields = a->fields;
	struct hook_outcome h = *hp;

	if (h.result == HOOK_WAIT || h.result == HOOK_DONE) {
		if (h.code == 235) {
			s->authed = 1;
			snprintf(s->user, sizeof s->user, "%s", "scenario");
		}
		return;
	}
	s->accept_auth = h.result == HOOK_ACCEPT;
	if (!s->helo || s->tx.has_mail)
		session_reply(s, R_BAD_SEQUENCE, NOVARS);
	else if (!s->tls)
		session_reply(s, R_TLS_REQUIRED, NOVARS);
	else if (s->authed)
		session_reply(s, R_ALREADY_AUTHENTICATED, NOVARS);
	else if (!s->accept_auth &&
	         policy_auth_blocked(s->env->policy, s->ip, vclock_now(s->env->clock)))
		session_reply(s, R_TOO_MANY_AUTH_FAILURES, NOVARS);
	else if (fields < 1 || fields > 2 || strlen(arg) > 2 * AUTH_FIELD_MAX)
		session_reply(s, R_AUTH_MECHANISM_MISMATCH, NOVARS);
	else if (strcasecmp(mech, "PLAIN") == 0 && fields == 2)
		auth_plain(s, initial);
	else if (strcasecmp(mech, "PLAIN") == 0) {
		s->state = ST_AUTH_PLAIN;
		session_reply(s, R_AUTH_CHALLENGE, VARS({"challenge", ""}));
	} else if (strcasecmp(mech, "LOGIN") == 0 && fields == 2)
		auth_login_user(s, initial);
	else if (strcasecmp(mech, "LOGIN") == 0) {
		s->state = ST_AUTH_LOGIN_USER;
		session_reply(s, R_AUTH_CHALLENGE, VARS({"challenge", "VXNlcm5hbWU6"}));
	} else
		session_reply(s, R_AUTH_METHOD_UNSUPPORTED, NOVARS);
}

/* ---- MAIL, RCPT, DATA ------------------------------------------------------ */

static int needs_auth(struct session *s)
{
	if (!s->env->cfg->auth_required || s->authed)
		return 0;
	session_reply(s, R_AUTH_REQUIRED, NOVARS);
	return 1;
}

/* Parses a path; replies and returns -1 when it is not acceptable. */
static int take_path(struct session *s, const char *arg, const char *prefix, char *addr,
                     const char **params, int allow_empty)
{
	char shown[ADDR_MAX + 2];

	switch (smtp_parse_path(arg, prefix, addr, ADDR_MAX, params)) {
	case PATH_SYNTAX:
		session_reply(s, R_SYNTAX_ERROR, NOVARS);
		return -1;
	case PATH_OK:
		if ((allow_empty && addr[0] == '\0') || address_is_valid(addr))
			return 0;
		/* fall through */
	case PATH_INVALID_ADDRESS:
		snprintf(shown, sizeof shown, "<%s>", addr);
		session_reply(s, allow_empty ? R_INVALID_ADDRESS : R_INVALID_RECIPIENT,
		              VARS({"address", shown}));
		return -1;
	}
	return -1;
}

static int check_quota(struct session *s)
{
	unsigned long long limit = 0;
	char text[32];

	switch (policy_quota_check(s->env->policy, s->authed ? s->user : NULL,
	                           vclock_now(s->env->clock), &limit)) {
	case QUOTA_OK:
		return 0;
	case QUOTA_MINUTE:
		snprintf(text, sizeof text, "%llu", limit);
		session_reply(s, R_RATE_MINUTE, VARS({"limit", text}));
		return -1;
	case QUOTA_DAY:
		snprintf(text, sizeof text, "%llu", limit);
		session_reply(s, R_RATE_DAY, VARS({"limit", text}));
		return -1;
	}
	return 0;
}

int session_sender_refused(struct session *s, const char *address)
{
	if (policy_sender_approved(s->env->policy, s->authed ? s->user : NULL, address))
		return 0;
	policy_auth_failure(s->env->policy, s->ip, vclock_now(s->env->clock));
	session_reply(s, R_SENDER_NOT_AUTHORIZED,
	              VARS({"address", address}, {"user", session_user_label(s)}));
	return 1;
}

static void accept_mail(struct session *s, const char *addr)
{
	s->tx.has_mail = 1;
	snprintf(s->tx.mail_from, sizeof s->tx.mail_from, "%s", addr);
}

/* The native checks of MAIL, in the order the service applies them. */
static int mail_refused(struct session *s, const char *addr, unsigned long long size)
{
	if (needs_auth(s))
		return 1;
	if (size > s->env->cfg->limits.message_bytes) {
		session_reply(s, R_SIZE_EXCEEDED, NOVARS);
		return 1;
	}
	if (policy_auth_blocked(s->env->policy, s->ip, vclock_now(s->env->clock))) {
		session_reply(s, R_TOO_MANY_AUTH_FAILURES, NOVARS);
		return 1;
	}
	return session_sender_refused(s, addr) || check_quota(s) < 0;
}

static int check_mail(struct session *s, struct cmd_args *a)
{
	if (!s->helo || s->tx.has_mail) {
		session_reply(s, R_BAD_SEQUENCE, NOVARS);
		return -1;
	}
	if (take_path(s, a->arg, "FROM:", a->addr, &a->params, 1) < 0)
		return -1;
	switch (smtp_parse_mail_params(a->params, &a->size)) {
	case PARAM_UNSUPPORTED:
		session_reply(s, R_PARAM_UNSUPPORTED, NOVARS);
		return -1;
	case PARAM_SYNTAX:
		session_reply(s, R_SYNTAX_ERROR, NOVARS);
		return -1;
	case PARAM_OK:
		break;
	}
	a->ctx.sender = a->addr;
	return 0;
}

static void proceed_mail(struct session *s, struct cmd_args *a, const struct hook_outcome *h)
{
	if (h->result == HOOK_WAIT || h->result == HOOK_DONE) {
		if (h->code > 0 && h->code < 400)
			accept_mail(s, a->addr);
		return;
	}
	if (h->result != HOOK_ACCEPT && mail_refused(s, a->addr, a->size))
		return;
	accept_mail(s, a->addr);
	session_reply(s, R_MAIL_OK, NOVARS);
}

static void add_recipient(struct session *s, const char *addr, int suppressed)
{
	smtp_tx_add_rcpt(&s->tx, addr, suppressed || policy_is_suppressed(s->env->policy, addr));
}

static int check_rcpt(struct session *s, struct cmd_args *a)
{
	if (take_path(s, a->arg, "TO:", a->addr, &a->params, 0) < 0)
		return -1;
	a->one[0] = a->addr;
	a->ctx.sender = s->tx.mail_from;
	a->ctx.recipients = a->one;
	a->ctx.nrecipients = 1;
	return 0;
}

static void proceed_rcpt(struct session *s, struct cmd_args *a, const struct hook_outcome *hp)
{
	const char *addr = a->addr, *params = a->params;
	struct hook_outcome h = *hp;
	int override;

	if (h.result == HOOK_WAIT || h.result == HOOK_DONE) {
		if (h.code > 0 && h.code < 400 && s->tx.has_mail)
			add_recipient(s, addr, 0);
		return;
	}
	override = h.result == HOOK_ACCEPT && h.rule->act.accept;
	if (!override && needs_auth(s))
		return;
	if (!s->tx.has_mail) {
		session_reply(s, R_BAD_SEQUENCE, NOVARS);
		return;
	}
	if (smtp_parse_rcpt_params(params) != PARAM_OK) {
		session_reply(s, R_PARAM_UNSUPPORTED, NOVARS);
		return;
	}
	if (!override && s->tx.nrcpt >= s->env->cfg->limits.recipients) {
		session_reply(s, R_TOO_MANY_RECIPIENTS, NOVARS);
		return;
	}
	add_recipient(s, addr, h.rule != NULL && h.rule->act.suppress);
	session_reply(s, R_RCPT_OK, NOVARS);
}

static void enter_data(struct session *s)
{
	s->state = ST_DATA;
	smtp_tx_start_data(&s->tx, engine_has_stage(s->env->engine, STAGE_DATA_BODY));
}

/* The context of a stage about the whole envelope (DATA, data-body,
 * data-end): its sender and recipients. Returns the recipient list to free
 * after the hook (NULL, and no recipients, when no scenario is active:
 * only rules read it, so no allocation per message without them). */
static const char **envelope_ctx(const struct session *s, struct hook_ctx *ctx,
                                 enum scenario_stage stage)
{
	const char **list = NULL;

	ctx->stage = stage;
	ctx->sender = s->tx.mail_from;
	if (engine_scenario(s->env->engine) != NULL) {
		list = xcalloc(s->tx.nrcpt ? s->tx.nrcpt : 1, sizeof *list);
		for (size_t i = 0; i < s->tx.nrcpt; i++)
			list[i] = s->tx.rcpts[i].address;
	}
	ctx->recipients = list;
	ctx->nrecipients = list ? s->tx.nrcpt : 0;
	return list;
}

static int check_data(struct session *s, struct cmd_args *a)
{
	a->rcpts = envelope_ctx(s, &a->ctx, STAGE_DATA);
	return 0;
}

static void proceed_data(struct session *s, struct cmd_args *a, const struct hook_outcome *hp)
{
	const char *arg = a->arg;
	struct hook_outcome h = *hp;

	if (h.result == HOOK_WAIT || h.result == HOOK_DONE) {
		if (h.code == 354)
			enter_data(s);
		return;
	}
	if (h.result != HOOK_ACCEPT && needs_auth(s))
		return;
	if (s->tx.nrcpt == 0) {
		session_reply(s, R_NEED_RCPT, NOVARS);
		return;
	}
	if (*arg != '\0') {
		session_reply(s, R_SYNTAX_ERROR, NOVARS);
		return;
	}
	session_reply(s, R_DATA_GO, NOVARS);
	enter_data(s);
}

/* ---- dispatch ---------------------------------------------------------------- */

static void proceed_rset(struct session *s, struct cmd_args *a, const struct hook_outcome *hp)
{
	struct hook_outcome h = *hp;

	(void)a;
	if (h.result == HOOK_WAIT || (h.result == HOOK_DONE && (h.code == 0 || h.code >= 400)))
		return;
	session_reset_transaction(s);
	if (h.result != HOOK_DONE)
		session_reply(s, R_RSET_OK, NOVARS);
}

static void proceed_quit(struct session *s, struct cmd_args *a, const struct hook_outcome *hp)
{
	struct hook_outcome h = *hp;

	(void)a;
	if (h.result == HOOK_WAIT)
		return;
	if (h.result == HOOK_DONE) {
		if (s->state != ST_CLOSING)
			session_close(s);
		return;
	}
	session_reply(s, R_BYE, NOVARS);
}

static void proceed_noop(struct session *s, struct cmd_args *a, const struct hook_outcome *h)
{
	(void)a;
	(void)h;
	session_reply(s, R_NOOP_OK, NOVARS);
}

static void proceed_not_implemented(struct session *s, struct cmd_args *a,
                                    const struct hook_outcome *h)
{
	(void)a;
	(void)h;
	session_reply(s, R_NOT_IMPLEMENTED, NOVARS);
}

static void proceed_unknown(struct session *s, struct cmd_args *a, const struct hook_outcome *h)
{
	(void)a;
	(void)h;
	session_reply(s, R_UNKNOWN_COMMAND, NOVARS);
}

/* The commands: the stage their events name, the scenario stage whose
 * rules are asked (STAGE_COUNT: none), what must hold before the rules are
 * asked (check replies and returns -1 when it does not), and what the
 * command does with the rules' answer (proceed). */
static const struct smtp_cmd {
	enum smtp_verb verb;
	const char *stage;
	enum scenario_stage hook;
	int (*check)(struct session *s, struct cmd_args *a);
	void (*proceed)(struct session *s, struct cmd_args *a, const struct hook_outcome *h);
} commands[] = {
    {VERB_EHLO, "ehlo", STAGE_EHLO, check_ehlo, proceed_ehlo},
    {VERB_HELO, "ehlo", STAGE_EHLO, check_ehlo, proceed_ehlo},
    {VERB_STARTTLS, "starttls", STAGE_STARTTLS, NULL, proceed_starttls},
    {VERB_AUTH, "auth", STAGE_AUTH, check_auth, proceed_auth},
    {VERB_MAIL, "mail", STAGE_MAIL, check_mail, proceed_mail},
    {VERB_RCPT, "rcpt", STAGE_RCPT, check_rcpt, proceed_rcpt},
    {VERB_DATA, "data", STAGE_DATA, check_data, proceed_data},
    {VERB_RSET, "rset", STAGE_RSET, NULL, proceed_rset},
    {VERB_NOOP, "command", STAGE_COUNT, NULL, proceed_noop},
    {VERB_QUIT, "quit", STAGE_QUIT, NULL, proceed_quit},
    {VERB_VRFY, "command", STAGE_COUNT, NULL, proceed_not_implemented},
    {VERB_EXPN, "command", STAGE_COUNT, NULL, proceed_not_implemented},
    {VERB_HELP, "command", STAGE_COUNT, NULL, proceed_not_implemented},
    {VERB_UNKNOWN, "command", STAGE_COUNT, NULL, proceed_unknown},
};

static const struct smtp_cmd *command_for(enum smtp_verb verb)
{
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (commands[i].verb == verb)
			return &commands[i];
	return &commands[sizeof commands / sizeof commands[0] - 1];
}

/* One command: its checks, the scenario asked once at its stage, then
 * what the command does. */
void session_proceed_command(struct session *s, const char *line)
{
	struct smtp_command cmd;
	const struct smtp_cmd *c;
	struct cmd_args a;
	struct hook_outcome h = {HOOK_NATIVE, NULL, 0};

	if (!s->resuming) { /* not a delayed command acting at last */
		s->ncommands++;
		s->rule_label[0] = '\0';
	}
	s->line = line;
	smtp_parse_command(line, &cmd);
	c = command_for(cmd.verb);
	s->command = cmd.verb == VERB_UNKNOWN ? "unknown" : smtp_verb_name(cmd.verb);
	s->stage = c->stage;
	/* field by field: zeroing the whole struct (AUTH's 2 KB buffer) for
	 * every command is work the hot path does not need */
	a.verb = cmd.verb;
	a.arg = cmd.arg;
	a.ctx = (struct hook_ctx){.stage = c->hook};
	a.addr[0] = a.mech[0] = a.initial[0] = '\0';
	a.params = NULL;
	a.one[0] = NULL;
	a.size = 0;
	a.rcpts = NULL;
	a.fields = 0;
	if (c->check == NULL || c->check(s, &a) == 0) {
		if (c->hook != STAGE_COUNT)
			h = smtp_hook(s, &a.ctx, 0);
		c->proceed(s, &a, &h);
	}
	free(a.rcpts);
	session_honour_close_after(s);
}

static void proceed_line(struct session *s, const char *line, size_t len)
{
	transcript_add(s->transcript, "in", line, len);
	if (s->state == ST_COMMAND)
		session_proceed_command(s, line);
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
			session_reply(s, R_LINE_TOO_LONG, NOVARS);
		}
		return 0;
	}
	if (s->skip_line || (size_t)p.pos > max) {
		evbuffer_drain(in, (size_t)p.pos + eol_len);
		if (!s->skip_line) {
			s->command = NULL;
			s->stage = "command";
			session_reply(s, R_LINE_TOO_LONG, NOVARS);
		}
		s->skip_line = 0;
		return -1;
	}
	evbuffer_remove(in, line, (size_t)p.pos);
	line[p.pos] = '\0';
	evbuffer_drain(in, eol_len);
	return 1;
}

/* Consumes message data; returns 0 when it needs more input (or a
 * data-body rule stopped the reading). */
static int read_data(struct session *s, struct evbuffer *in)
{
	for (;;) {
		switch (smtp_tx_read(&s->tx, in, s->env->cfg->limits.message_bytes)) {
		case TX_MORE:
			return 0;
		case TX_END:
			session_data_end(s);
			return 1;
		case TX_LINE:
			session_data_body(s);
			if (s->state != ST_DATA)
				return 0;
		}
	}
}

void session_read(struct session *s)
{
	struct evbuffer *in = bufferevent_get_input(s->bev);
	size_t max = s->env->cfg->limits.line_bytes;
	char *line = xmalloc(max + 1);
	int got;

	while (!s->trickling &&
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
	s->line = NULL; /* the buffer is gone */
	if (s->state != ST_CLOSING)
		session_flush_replies(s);
}

/* ---- the end of DATA: checks, commit, reply -------------------------------- */

static int header_from_refused(struct session *s, const struct header_info *h)
{
	size_t shown = h->nfrom < HDR_FROM_MAX ? h->nfrom : HDR_FROM_MAX;
	int matches_envelope = 0;

	if (policy_is_open(s->env->policy))
		return 0;
	if (h->nfrom == 0) { /* RFC 5322 requires From; nothing to approve */
		session_reply(s, R_PARSE_ERROR, NOVARS);
		return 1;
	}
	for (size_t i = 0; i < shown; i++) {
		if (session_sender_refused(s, h->from[i]))
			return 1;
		if (strcasecmp(h->from[i], s->tx.mail_from) == 0)
			matches_envelope = 1;
	}
	if (h->nfrom > 1)
		transcript_note(s->transcript, "From holds several addresses (discouraged)");
	if (matches_envelope)
		return 0;
	policy_auth_failure(s->env->policy, s->ip, vclock_now(s->env->clock));
	session_reply(s, R_SENDER_NOT_AUTHORIZED,
	              VARS({"address", h->from[0]}, {"user", session_user_label(s)}));
	return 1;
}

/* A rule asked to close after the native reply: do it now. */
static void session_honour_close_after(struct session *s)
{
	if (!s->close_after_reply || s->state == ST_CLOSING || s->state == ST_COMMIT ||
	    s->state == ST_WAIT)
		return;
	s->close_after_reply = 0;
	session_close(s);
}

static void finish_transaction(struct session *s)
{
	session_reset_transaction(s);
	s->state = ST_COMMAND;
	if (s->draining)
		session_reply(s, R_MAIL_SYSTEM_FAILURE, NOVARS);
	session_honour_close_after(s);
}

static void reply_accepted(struct session *s, const char *id)
{
	struct cat_var vars[3 * 50];
	size_t nsup = 0;
	char line[1024];
	enum smtp_reply r = R_ACCEPTED;

	for (size_t i = 0; i < s->tx.nrcpt && nsup < 50; i++)
		if (s->tx.rcpts[i].suppressed) {
			vars[3 * nsup] = (struct cat_var){"user", session_user_label(s)};
			vars[3 * nsup + 1] = (struct cat_var){"recipient", s->tx.rcpts[i].address};
			vars[3 * nsup + 2] = (struct cat_var){"id", id};
			nsup++;
		}
	if (nsup > 0)
		r = R_SUPPRESSED;
	else
		vars[nsup++] = (struct cat_var){"id", id};
	catalog_smtp_line(s->srv->replies[r], vars, r == R_SUPPRESSED ? 3 : 1, line, sizeof line);
	session_record_event(s, "accepted", s->srv->replies[r]->code, line, id);
	session_reply_lines(s, r, vars, r == R_SUPPRESSED ? 3 : 1, r == R_SUPPRESSED ? nsup : 1);
}

/* A rule's 2xx at data-end, sent once the message is stored. */
static void reply_forced_after_commit(struct session *s)
{
	struct hook_ctx ctx = {0};
	const char **rcpts = envelope_ctx(s, &ctx, STAGE_DATA_END);
	const struct rule *r = s->tx.commit_rule;

	ctx.stored_id = s->tx.stored_id;
	s->tx.commit_rule = NULL;
	session_record_event(s, "accepted", engine_reply_code(r, STAGE_DATA_END), NULL,
	                     s->tx.stored_id);
	smtp_hook_send(s, r, &ctx);
	free(rcpts);
}

/* What the provider sees of the transaction (free the result); h is NULL
 * once the message is stored. */
static const char **submission_of(struct session *s, const struct header_info *h,
                                  struct smtp_submission *m)
{
	size_t nfrom = h == NULL ? 0 : h->nfrom < HDR_FROM_MAX ? h->nfrom : HDR_FROM_MAX;
	const char **list = xcalloc(s->tx.nrcpt + nfrom + 1, sizeof *list);

	for (size_t i = 0; i < s->tx.nrcpt; i++)
		list[i] = s->tx.rcpts[i].address;
	for (size_t i = 0; i < nfrom; i++)
		list[s->tx.nrcpt + i] = h->from[i];
	*m = (struct smtp_submission){.user = s->authed ? s->user : NULL,
	                              .mail_from = s->tx.mail_from,
	                              .from = list + s->tx.nrcpt,
	                              .nfrom = nfrom,
	                              .rcpts = list,
	                              .nrcpt = s->tx.nrcpt,
	                              .raw = s->tx.data,
	                              .raw_len = &s->tx.data_len,
	                              .header_bytes = h ? h->header_bytes : 0};
	return list;
}

/* The provider's turn (SES: sending state, identities, quotas). */
static int provider_refused(struct session *s, const struct header_info *h)
{
	const struct profile *p = s->env->profile;
	struct smtp_submission m;
	struct provider_reply r = {0};
	const char **list;
	int refused;

	if (p->smtp_data_end == NULL || s->tx.data == NULL)
		return 0;
	list = submission_of(s, h, &m);
	refused = p->smtp_data_end(s->env->account, s->env->catalog, &m, &r);
	free(list);
	if (refused)
		session_reply_entry(s, r.entry, r.vars, r.nvars);
	return refused;
}

static void provider_accepted(struct session *s)
{
	const struct profile *p = s->env->profile;
	struct smtp_submission m;
	const char **list;

	if (p->smtp_accepted == NULL)
		return;
	list = submission_of(s, NULL, &m);
	p->smtp_accepted(s->env->account, &m);
	free(list);
}

static void on_committed(void *arg, int ok, const struct store_message *m)
{
	struct session *s = arg;

	(void)m;
	if (s->dead) {
		s->state = ST_CLOSING;
		session_free(s);
		return;
	}
	if (!ok) {
		s->tx.commit_rule = NULL;
		session_reply(s, R_STORAGE_ERROR, NOVARS);
	} else {
		policy_quota_charge(
		    s->env->policy, s->authed ? s->user : NULL,
		    policy_quota_units(s->env->policy, s->tx.nrcpt, s->tx.data_total),
		    vclock_now(s->env->clock));
		provider_accepted(s);
		if (s->tx.commit_rule != NULL)
			reply_forced_after_commit(s);
		else
			reply_accepted(s, s->tx.stored_id);
	}
	if (s->state == ST_CLOSING)
		return;
	finish_transaction(s);
	if (s->state == ST_COMMAND)
		session_read(s);
}

static struct store_message *build_message(struct session *s, const struct header_info *h)
{
	struct store_message *m = xcalloc(1, sizeof *m);

	store_assign_id(s->env->store, m);
	m->received = clock_wall();
	snprintf(m->client_ip, sizeof m->client_ip, "%s", s->ip);
	m->connection = s->id;
	m->user = s->authed ? xstrdup(s->user) : NULL;
	m->mail_from = xstrdup(s->tx.mail_from);
	m->rcpts = s->tx.rcpts;
	m->nrcpt = s->tx.nrcpt;
	s->tx.rcpts = xcalloc(s->tx.nrcpt, sizeof *s->tx.rcpts);
	for (size_t i = 0; i < s->tx.nrcpt; i++) {
		s->tx.rcpts[i].address = xstrdup(m->rcpts[i].address);
		s->tx.rcpts[i].suppressed = m->rcpts[i].suppressed;
	}
	m->message_id = h->message_id[0] ? xstrdup(h->message_id) : NULL;
	m->subject = h->subject[0] ? xstrdup(h->subject) : NULL;
	m->raw = s->tx.data;
	m->raw_len = s->tx.data_len;
	s->tx.data = NULL;
	s->tx.data_len = s->tx.data_cap = 0;
	return m;
}

/* The message's identity for attempt counting: its Message-ID, else its
 * envelope (sender and recipients). */
static void message_key(const struct session *s, const struct header_info *h, char *out, size_t len)
{
	size_t used;

	if (h->message_id[0] != '\0') {
		snprintf(out, len, "id:%s", h->message_id);
		return;
	}
	used = (size_t)snprintf(out, len, "envelope:%s", s->tx.mail_from);
	for (size_t i = 0; i < s->tx.nrcpt && used < len; i++)
		used += (size_t)snprintf(out + used, len - used, " %s", s->tx.rcpts[i].address);
}

/* Native checks at the end of DATA; replies and returns 1 on a refusal. */
static int message_refused(struct session *s, enum header_result hr, const struct header_info *h)
{
	const struct config_limits *l = &s->env->cfg->limits;

	if (s->tx.data_total > l->message_bytes) {
		session_reply(s, R_SIZE_EXCEEDED, NOVARS);
		return 1;
	}
	if (hr != HDR_OK) {
		session_reply(s, R_PARSE_ERROR, NOVARS);
		return 1;
	}
	if (header_from_refused(s, h) || provider_refused(s, h))
		return 1;
	if (l->store_bytes > 0 &&
	    store_bytes_used(s->env->store) + s->tx.data_len > l->store_bytes) {
		session_reply(s, R_STORAGE_ERROR, NOVARS);
		return 1;
	}
	return 0;
}

/* Hands the message to the store; the reply comes from on_committed(). */
static void commit_message(struct session *s, const struct header_info *h)
{
	struct store_message *m = build_message(s, h);

	snprintf(s->tx.stored_id, sizeof s->tx.stored_id, "%s", m->id);
	s->state = ST_COMMIT;
	if (mailflow_submit(s->env->flow, m, on_committed, s) == 0)
		return;
	store_message_free(m);
	s->state = ST_COMMAND;
	s->tx.commit_rule = NULL;
	session_reply(s, R_STORAGE_ERROR, NOVARS);
	if (s->state != ST_CLOSING)
		finish_transaction(s);
}

/* A rule's discard: the client hears "accepted", the store gets nothing. */
static void reply_discarded(struct session *s)
{
	struct store_message unstored;

	store_assign_id(s->env->store, &unstored);
	transcript_note(s->transcript, "message discarded by the scenario");
	session_record_event(s, "discarded", 250, NULL, NULL);
	session_reply(s, R_ACCEPTED, VARS({"id", unstored.id}));
}

static struct hook_outcome data_end_hook(struct session *s)
{
	struct hook_ctx ctx = {.attempt = s->tx.attempt};
	const char **rcpts = envelope_ctx(s, &ctx, STAGE_DATA_END);
	struct hook_outcome out = smtp_hook(s, &ctx, 1);

	free(rcpts);
	return out;
}

void session_data_end(struct session *s)
{
	struct header_info h;
	enum header_result hr;
	struct hook_outcome out;
	char key[1200];

	s->stage = "data-end";
	if (s->tx.data_answered) { /* a data-body rule has answered already */
		finish_transaction(s);
		return;
	}
	hr = message_parse_headers(s->tx.data ? s->tx.data : "", s->tx.data_len,
	                           s->env->cfg->limits.header_bytes, &h);
	if (s->forced_rule == NULL) {
		transcript_note(s->transcript, "message data: %zu bytes in %zu lines",
		                s->tx.data_total, s->tx.data_lines);
		if (engine_uses_attempt(s->env->engine)) {
			message_key(s, &h, key, sizeof key);
			s->tx.attempt = engine_attempt(s->env->engine, key);
		}
	}
	out = data_end_hook(s);
	if (out.result == HOOK_WAIT)
		return;
	if (out.result == HOOK_DONE && out.code > 0 && out.code < 400 && s->state != ST_CLOSING) {
		s->tx.commit_rule = out.rule;
		commit_message(s, &h);
		return;
	}
	if (out.result == HOOK_ACCEPT && out.rule->act.discard)
		reply_discarded(s);
	else if (out.result == HOOK_DONE || (!(out.result == HOOK_ACCEPT && out.rule->act.accept) &&
	                                     message_refused(s, hr, &h)))
		;
	else {
		commit_message(s, &h);
		return;
	}
	if (s->state != ST_CLOSING)
		finish_transaction(s);
}

/* Asks the data-body rules after a line of message data: one may stall the
 * transfer, drop the connection or answer before the data has ended (the
 * rest of the data is then read and thrown away). */
void session_data_body(struct session *s)
{
	struct hook_ctx ctx = {.offset = s->tx.data_total};
	const char **rcpts = envelope_ctx(s, &ctx, STAGE_DATA_BODY);
	struct hook_outcome h;

	s->stage = "data-body";
	h = smtp_hook(s, &ctx, 0);
	free(rcpts);
	if (h.rule != NULL || h.result == HOOK_WAIT)
		s->tx.body_hooks = 0; /* one rule per message */
	if (h.result == HOOK_DONE && s->state == ST_DATA)
		s->tx.data_answered = 1;
}

/* ---- the connections ----------------------------------------------------------- */

/* The client was silent past the command timeout: 421 and close, unless a
 * scenario rule at stage idle answers otherwise or keeps the line open. */
void session_idle(struct session *s)
{
	struct hook_ctx ctx = {.stage = STAGE_IDLE};
	struct hook_outcome h;

	s->command = NULL;
	s->stage = "idle";
	h = smtp_hook(s, &ctx, 0);
	if (h.result == HOOK_WAIT)
		return;
	if (h.result == HOOK_NATIVE) {
		session_reply(s, R_TIMEOUT, NOVARS);
		return;
	}
	if (s->state != ST_CLOSING) {
		bufferevent_enable(s->bev, EV_READ);
		session_flush_replies(s);
	}
}

/* ---- what the connection reports (smtp_conn.c) ------------------------------ */

static void on_conn_input(struct session *s)
{
	session_read(s);
}

/* A TLS handshake is complete: the greeting on the smtps port, else the
 * commands go on (RFC 3207: the client starts again with EHLO). */
static void on_conn_tls_ready(struct session *s)
{
	if (s->implicit_tls && !s->helo && s->state == ST_TLS_HANDSHAKE)
		session_send_greeting(s);
	else
		s->state = ST_COMMAND;
	session_read(s);
}

static void on_conn_freeing(struct session *s)
{
	smtp_hook_cancel(s);
	session_reset_transaction(s);
}

static const struct conn_events conn_events = {
    .input = on_conn_input,
    .tls_ready = on_conn_tls_ready,
    .timeout = session_idle,
    .freeing = on_conn_freeing,
};

void smtp_accept(struct smtp_server *ss, evutil_socket_t fd, const struct sockaddr *sa,
                 int implicit_tls)
{
	const struct env *env = &ss->env;
	struct session *s = xcalloc(1, sizeof *s);
	const void *addr = sa->sa_family == AF_INET6
	                       ? (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr
	                       : (const void *)&((const struct sockaddr_in *)sa)->sin_addr;

	s->srv = ss;
	s->env = env;
	s->implicit_tls = implicit_tls;
	if ((s->replies = evbuffer_new()) == NULL || session_open_conn(s, fd) < 0) {
		if (s->replies != NULL)
			evbuffer_free(s->replies);
		free(s);
		evutil_closesocket(fd);
		return;
	}
	s->id = ++ss->next_connection;
	evutil_inet_ntop(sa->sa_family, addr, s->ip, sizeof s->ip);
	s->counted = policy_connection_open(env->policy, s->ip) == 0;
	s->scenario_conn = engine_connection_opened(env->engine);
	s->refused = !s->counted;
	s->transcript = transcript_open(env->events, s->id, s->ip);
	TAILQ_INSERT_HEAD(&ss->sessions, s, entry);
	ss->nsessions++;
	if (implicit_tls && smtp_hook_before_tls(s)) {
		session_drop(s); /* the handshake never starts */
		return;
	}
	if (implicit_tls)
		s->state = ST_TLS_HANDSHAKE;
	else
		session_send_greeting(s);
}

static void drain_session(struct session *s)
{
	s->draining = 1;
	if (s->state == ST_TLS_HANDSHAKE)
		session_free(s);
	else if (s->state == ST_COMMAND || s->state == ST_AUTH_PLAIN ||
	         s->state == ST_AUTH_LOGIN_USER || s->state == ST_AUTH_LOGIN_PASS ||
	         s->state == ST_WAIT) {
		smtp_hook_cancel(s);
		s->command = NULL;
		s->stage = "shutdown";
		session_reply(s, R_MAIL_SYSTEM_FAILURE, NOVARS);
	}
}

static void abort_session(struct session *s)
{
	if (s->state == ST_CLOSING || s->state == ST_COMMIT)
		return;
	smtp_hook_cancel(s);
	s->command = NULL;
	s->stage = "shutdown";
	session_reply(s, R_MAIL_SYSTEM_FAILURE, NOVARS);
}

void smtp_server_drain(struct smtp_server *ss)
{
	struct session *s, *next;

	ss->draining = 1;
	for (s = TAILQ_FIRST(&ss->sessions); s != NULL; s = next) {
		next = TAILQ_NEXT(s, entry);
		drain_session(s);
	}
	if (ss->nsessions == 0 && ss->drained != NULL)
		ss->drained(ss->arg);
}

void smtp_server_abort(struct smtp_server *ss)
{
	struct session *s, *next;

	for (s = TAILQ_FIRST(&ss->sessions); s != NULL; s = next) {
		next = TAILQ_NEXT(s, entry);
		abort_session(s);
	}
}

void smtp_server_scenario_changed(struct smtp_server *ss)
{
	struct session *s;

	TAILQ_FOREACH(s, &ss->sessions, entry)
	smtp_hook_scenario_changed(s);
}

size_t smtp_server_sessions(const struct smtp_server *ss)
{
	return ss->nsessions;
}
