/*
 * smtp_data.c - the message: reading DATA (dot-unstuffing, size bound),
 * the data-body and data-end hooks, the checks at the final dot, the commit
 * and the reply that follows it.
 *
 * Invariant: a 250/254 after DATA is written only from the store's commit
 * callback; a session with a commit in flight is never freed before that
 * callback (it is marked dead instead).
 */
#include <event2/buffer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "clock.h"
#include "mailflow.h"
#include "message.h"
#include "smtp_session_priv.h"

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
	session_reply(s, R_SENDER_NOT_AUTHORIZED, VARS({"address", h->from[0]}));
	return 1;
}

/* A rule asked to close after the native reply: do it now. */
void session_honour_close_after(struct session *s)
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
	struct cat_var vars[2 * 50];
	size_t nsup = 0;
	char line[1024];
	enum smtp_reply r = R_ACCEPTED;

	for (size_t i = 0; i < s->tx.nrcpt && nsup < 50; i++)
		if (s->tx.rcpts[i].suppressed) {
			vars[2 * nsup] = (struct cat_var){"user", session_user_label(s)};
			vars[2 * nsup + 1] = (struct cat_var){"recipient", s->tx.rcpts[i].address};
			nsup++;
		}
	if (nsup > 0)
		r = R_SUPPRESSED;
	else
		vars[nsup++] = (struct cat_var){"id", id};
	catalog_smtp_line(s->srv->replies[r], vars, r == R_SUPPRESSED ? 2 : 1, line, sizeof line);
	session_record_event(s, "accepted", s->srv->replies[r]->code, line, id);
	session_reply_lines(s, r, vars, r == R_SUPPRESSED ? 2 : 1, r == R_SUPPRESSED ? nsup : 1);
}

/* A rule's 2xx at data-end, sent once the message is stored. */
static void reply_forced_after_commit(struct session *s)
{
	const char **rcpts = session_recipient_list(s);
	struct hook_ctx ctx = {.stage = STAGE_DATA_END,
	                       .sender = s->tx.mail_from,
	                       .recipients = rcpts,
	                       .nrecipients = rcpts ? s->tx.nrcpt : 0};
	const struct rule *r = s->tx.commit_rule;

	ctx.stored_id = s->tx.stored_id;
	s->tx.commit_rule = NULL;
	session_record_event(s, "accepted", engine_reply_code(r, STAGE_DATA_END), NULL,
	                     s->tx.stored_id);
	smtp_hook_send(s, r, &ctx);
	free(rcpts);
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
	struct store_message *m = calloc(1, sizeof *m);

	if (m == NULL)
		return NULL;
	store_assign_id(s->env->store, m);
	m->received = clock_wall();
	snprintf(m->client_ip, sizeof m->client_ip, "%s", s->ip);
	m->connection = s->id;
	m->user = s->authed ? strdup(s->user) : NULL;
	m->mail_from = strdup(s->tx.mail_from);
	m->rcpts = s->tx.rcpts;
	m->nrcpt = s->tx.nrcpt;
	s->tx.rcpts = calloc(s->tx.nrcpt, sizeof *s->tx.rcpts);
	for (size_t i = 0; i < s->tx.nrcpt; i++) {
		s->tx.rcpts[i].address = strdup(m->rcpts[i].address);
		s->tx.rcpts[i].suppressed = m->rcpts[i].suppressed;
	}
	m->message_id = h->message_id[0] ? strdup(h->message_id) : NULL;
	m->subject = h->subject[0] ? strdup(h->subject) : NULL;
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
	if (header_from_refused(s, h))
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

	if (m != NULL) {
		snprintf(s->tx.stored_id, sizeof s->tx.stored_id, "%s", m->id);
		s->state = ST_COMMIT;
		if (mailflow_submit(s->env->flow, m, on_committed, s) == 0)
			return;
		store_message_free(m);
		s->state = ST_COMMAND;
	}
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
	const char **rcpts = session_recipient_list(s);
	struct hook_ctx ctx = {.stage = STAGE_DATA_END,
	                       .sender = s->tx.mail_from,
	                       .recipients = rcpts,
	                       .nrecipients = rcpts ? s->tx.nrcpt : 0,
	                       .attempt = s->tx.attempt};
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

/* Room for want more bytes of message data: where to write them, or NULL
 * when the message is over message_bytes (or memory ran out), in which case
 * the bytes are only counted. */
static char *data_room(struct session *s, size_t want)
{
	size_t limit = s->env->cfg->limits.message_bytes;

	s->tx.data_total += want;
	if (s->tx.data_total > limit)
		return NULL;
	if (s->tx.data_len + want > s->tx.data_cap) {
		size_t cap = s->tx.data_cap ? s->tx.data_cap : 4096;
		char *grown;
		while (cap < s->tx.data_len + want)
			cap *= 2;
		if ((grown = realloc(s->tx.data, cap)) == NULL) {
			s->tx.data_total = limit + 1;
			return NULL;
		}
		s->tx.data = grown;
		s->tx.data_cap = cap;
	}
	return s->tx.data + s->tx.data_len;
}

/* Moves n bytes of message data from the input, then CRLF if add_crlf. */
static void data_append(struct session *s, struct evbuffer *in, size_t n, int add_crlf)
{
	size_t want = n + (add_crlf ? 2 : 0);
	char *at = data_room(s, want);

	if (at == NULL) {
		evbuffer_drain(in, n);
		return;
	}
	evbuffer_remove(in, at, n);
	if (add_crlf)
		memcpy(at + n, "\r\n", 2);
	s->tx.data_len += want;
}

/* One line of message data, its terminator made CRLF. */
static void data_put_line(struct session *s, const char *line, size_t n)
{
	char *at = data_room(s, n + 2);

	if (at == NULL)
		return;
	memcpy(at, line, n);
	memcpy(at + n, "\r\n", 2);
	s->tx.data_len += n + 2;
}

enum data_line { LINE_PLAIN, LINE_STUFFED, LINE_END };

/* What a line of message data is (RFC 5321 4.5.2): the end of the data
 * (".") or a line whose leading dot is taken away, at the start of a line
 * only; len is the line's length without its end, first its first byte. */
static enum data_line data_line_kind(const struct session *s, char first, size_t len)
{
	if (!s->tx.data_line_start || len == 0 || first != '.')
		return LINE_PLAIN;
	return len == 1 ? LINE_END : LINE_STUFFED;
}

/* The complete lines at the start of the input's first chunk, read in
 * place and drained at once (data-body rules need the slow way, a line at
 * a time). Returns 1 when the data ended; *progress says whether any line
 * was consumed. */
static int read_chunk_lines(struct session *s, struct evbuffer *in, int *progress)
{
	struct evbuffer_iovec v;
	const char *p, *end, *nl;
	int ended = 0;

	*progress = 0;
	if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
		return 0;
	p = v.iov_base;
	end = p + v.iov_len;
	while (p < end && (nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		size_t len = (size_t)(nl - p);
		const char *text = p;
		enum data_line kind;
		if (len > 0 && p[len - 1] == '\r')
			len--;
		kind = data_line_kind(s, p[0], len);
		if (kind == LINE_END) {
			p = nl + 1;
			ended = 1;
			break;
		}
		if (kind == LINE_STUFFED) {
			text++;
			len--;
		}
		data_put_line(s, text, len);
		s->tx.data_lines++;
		s->tx.data_line_start = 1;
		p = nl + 1;
	}
	if (p != v.iov_base) {
		evbuffer_drain(in, (size_t)(p - (const char *)v.iov_base));
		*progress = 1;
	}
	if (ended)
		session_data_end(s);
	return ended;
}

/* One line of message data the slow way (it may span chunks, or be longer
 * than 8 KB). Returns 1 when the data ended, -1 when more input is needed
 * or a data-body rule acted, 0 to go on. */
static int read_one_line(struct session *s, struct evbuffer *in)
{
	size_t eol_len = 0, avail = evbuffer_get_length(in);
	struct evbuffer_ptr p = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_CRLF);
	char first = '\0';
	enum data_line kind;

	if (p.pos < 0) {
		if (avail < 8192)
			return -1;
		data_append(s, in, avail - 1, 0); /* a long line: keep its last byte */
		s->tx.data_line_start = 0;
		return 0;
	}
	evbuffer_copyout(in, &first, p.pos > 0 ? 1 : 0);
	kind = data_line_kind(s, first, (size_t)p.pos);
	if (kind == LINE_END) {
		evbuffer_drain(in, 1 + eol_len);
		session_data_end(s);
		return 1;
	}
	if (kind == LINE_STUFFED) {
		evbuffer_drain(in, 1);
		p.pos--;
	}
	data_append(s, in, (size_t)p.pos, 1);
	evbuffer_drain(in, eol_len);
	s->tx.data_lines++;
	s->tx.data_line_start = 1;
	if (s->tx.body_hooks) {
		session_data_body(s);
		if (s->state != ST_DATA)
			return -1;
	}
	return 0;
}

/* Consumes message data; returns 0 when it needs more input. */
int session_read_data(struct session *s, struct evbuffer *in)
{
	for (;;) {
		int progress = 0, rc;

		if (!s->tx.body_hooks) {
			if (read_chunk_lines(s, in, &progress))
				return 1;
			if (progress)
				continue;
		}
		if ((rc = read_one_line(s, in)) != 0)
			return rc > 0;
	}
}

/* Asks the data-body rules after a line of message data: one may stall the
 * transfer, drop the connection or answer before the data has ended (the
 * rest of the data is then read and thrown away). */
void session_data_body(struct session *s)
{
	const char **rcpts = session_recipient_list(s);
	struct hook_ctx ctx = {.stage = STAGE_DATA_BODY,
	                       .sender = s->tx.mail_from,
	                       .recipients = rcpts,
	                       .nrecipients = rcpts ? s->tx.nrcpt : 0,
	                       .offset = s->tx.data_total};
	struct hook_outcome h;

	s->stage = "data-body";
	h = smtp_hook(s, &ctx, 0);
	free(rcpts);
	if (h.rule != NULL || h.result == HOOK_WAIT)
		s->tx.body_hooks = 0; /* one rule per message */
	if (h.result == HOOK_DONE && s->state == ST_DATA)
		s->tx.data_answered = 1;
}
