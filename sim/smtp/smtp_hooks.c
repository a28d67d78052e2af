/*
 * smtp_hooks.c - where the SMTP session meets the scenario engine.
 *
 * At every stage the session asks smtp_hook() before its native policy. A
 * matching rule may reply in the native reply's place (a catalog entry with
 * its placeholders filled, or literal lines), close after replying, drop
 * the connection without a word, wait before acting, or let the stage pass
 * its native checks. The rule that acted is named in the transcript and in
 * the events of that command.
 *
 * With smtp_session.c this is one concern, the SMTP dialogue under a
 * scenario, in two files: the session asks smtp_hook() at each command, and
 * when a rule's delay ends on_resume() hands the held command (or the
 * greeting, the final dot, a data line, the idle timeout) back to the
 * session to run again with the rule acting. That call back up is the only
 * reason the pair calls each other.
 */
#include <event2/buffer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtp_session_priv.h"

static const char *limit_for(const struct session *s, const struct cat_entry *e, char *buf,
                             size_t len)
{
	snprintf(buf, len, "%llu", policy_limit_for(s->env->policy, e->id));
	return buf;
}

static int reply_code(const char *line)
{
	return atoi(line);
}

static void record_forced(struct session *s, int code, const char *line)
{
	int message = strncmp(s->stage, "data-", 5) == 0; /* data-body, data-end */

	if (code >= 400)
		session_record_event(s, message ? "rejected" : "refused", code, line, NULL);
}

static int reply_from_catalog(struct session *s, const struct cat_entry *e,
                              const struct hook_ctx *ctx)
{
	char limit[32], line[1024], shown[300];
	const char *recipient = ctx->nrecipients ? ctx->recipients[0] : "";
	/* The address a reply speaks of: the recipient at RCPT, else the sender. */
	const char *address =
	    ctx->stage == STAGE_RCPT || ctx->sender == NULL ? recipient : ctx->sender;
	struct cat_var vars[] = {{"user", s->authed ? s->user : "anonymous"},
	                         {"recipient", recipient},
	                         {"address", address},
	                         {"sender", ctx->sender ? ctx->sender : ""},
	                         {"hostname", s->env->cfg->hostname},
	                         {"limit", limit_for(s, e, limit, sizeof limit)},
	                         {"helo", ctx->helo ? ctx->helo : s->helo_name},
	                         {"challenge", ""},
	                         {"id", ctx->stored_id ? ctx->stored_id : "-"}};
	size_t len;

	if (strcmp(e->id, "oci.smtp.invalid-address") == 0) {
		snprintf(shown, sizeof shown, "<%s>", address);
		vars[2].value = shown;
	}
	len = catalog_smtp_line(e, vars, sizeof vars / sizeof vars[0], line, sizeof line);
	session_write_line(s, line, len);
	record_forced(s, e->code, line);
	if (e->closes)
		session_close(s);
	return e->code;
}

static int reply_literal(struct session *s, const struct rule *r)
{
	char line[520];
	int code = reply_code(r->act.reply_lines[0]);

	for (size_t i = 0; i < r->act.nreply_lines; i++) {
		snprintf(line, sizeof line, "%s", r->act.reply_lines[i]);
		if (i + 1 < r->act.nreply_lines && strlen(line) > 3)
			line[3] = '-';
		else if (strlen(line) == 3)
			strcat(line, " ");
		session_write_line(s, line, strlen(line));
	}
	record_forced(s, code, r->act.reply_lines[0]);
	if (code == 421) /* RFC 5321: 421 closes the transmission channel */
		session_close(s);
	return code;
}

static void on_resume(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;
	char *line = s->resume_line;

	(void)fd;
	(void)what;
	s->resume_line = NULL;
	/* Mid-message and idle waits go back to where they were; a delayed
	 * command is read again from the command state. */
	s->state = s->resume_stage == STAGE_DATA_BODY || s->resume_stage == STAGE_IDLE
	               ? s->wait_from
	               : ST_COMMAND;
	s->resuming = 1;
	if (s->resume_stage == STAGE_CONNECT)
		session_send_greeting(s);
	else if (s->resume_stage == STAGE_DATA_END)
		session_data_end(s);
	else if (s->resume_stage == STAGE_DATA_BODY)
		session_data_body(s);
	else if (s->resume_stage == STAGE_IDLE)
		session_idle(s);
	else if (line != NULL)
		session_proceed_command(s, line);
	free(line);
	s->forced_rule = NULL;
	s->resuming = 0;
	if (s->state == ST_COMMAND || s->state == ST_DATA)
		session_read(s);
	else if (s->state != ST_CLOSING)
		session_flush_replies(s);
}

static void wait_then_resume(struct session *s, const struct rule *r, double delay,
                             enum scenario_stage stage)
{
	struct timeval tv;

	tv.tv_sec = (long)delay;
	tv.tv_usec = (long)((delay - (double)tv.tv_sec) * 1e6);
	if (s->resume_timer == NULL)
		s->resume_timer = evtimer_new(s->env->base, on_resume, s);
	free(s->resume_line);
	s->resume_line = stage != STAGE_CONNECT && stage != STAGE_DATA_END &&
	                         stage != STAGE_DATA_BODY && stage != STAGE_IDLE && s->line != NULL
	                     ? xstrdup(s->line)
	                     : NULL;
	s->resume_stage = stage;
	s->forced_rule = r;
	s->wait_from = s->state;
	s->state = ST_WAIT;
	evtimer_add(s->resume_timer, &tv);
}

void smtp_hook_scenario_changed(struct session *s)
{
	static const struct timeval now = {0, 0};

	s->tx.commit_rule = NULL;
	if (s->state == ST_WAIT && s->resume_timer != NULL) {
		/* The waiting rule belongs to the old scenario: the command runs
		 * again at once and meets the new one. */
		s->forced_rule = NULL;
		evtimer_add(s->resume_timer, &now);
	}
}

int smtp_hook_before_tls(struct session *s)
{
	struct hook_ctx ctx = {.stage = STAGE_CONNECT};
	struct verdict v;
	const struct rule *r;

	if (!engine_has_stage(s->env->engine, STAGE_CONNECT))
		return 0;
	ctx.connection = s->scenario_conn;
	ctx.client_ip = s->ip;
	/* matched now, acting at the greeting after the handshake (held) */
	v = engine_decide(s->env->engine, &ctx, NULL);
	if ((r = v.rule) == NULL)
		return 0;
	snprintf(s->rule_label, sizeof s->rule_label, "%s", v.label);
	transcript_note(s->transcript, "%s acts at stage connect", s->rule_label);
	if (r->act.tls_fail) {
		transcript_note(s->transcript, "%s fails the TLS handshake", s->rule_label);
		session_record_event(s, "dropped", 0, NULL, NULL);
		return 1;
	}
	s->forced_rule = r; /* it acts at the greeting, after the handshake */
	return 0;
}

void smtp_hook_cancel(struct session *s)
{
	if (s->trickle_timer != NULL)
		event_free(s->trickle_timer);
	s->trickle_timer = NULL;
	if (s->trickle_buf != NULL)
		evbuffer_free(s->trickle_buf);
	s->trickle_buf = NULL;
	if (s->resume_timer != NULL)
		event_free(s->resume_timer);
	s->resume_timer = NULL;
	free(s->resume_line);
	s->resume_line = NULL;
}

/* Sends what the trickle buffer holds, a tenth of the rate every 100 ms. */
static void on_trickle(evutil_socket_t fd, short what, void *arg)
{
	static const struct timeval tick = {0, 100000};
	struct session *s = arg;
	char buf[4096];
	size_t n = s->forced_trickle / 10 ? s->forced_trickle / 10 : 1;
	int got;

	(void)fd;
	(void)what;
	got = evbuffer_remove(s->trickle_buf, buf, n < sizeof buf ? n : sizeof buf);
	if (got > 0)
		bufferevent_write(s->bev, buf, (size_t)got);
	if (evbuffer_get_length(s->trickle_buf) > 0) {
		evtimer_add(s->trickle_timer, &tick);
		return;
	}
	s->trickling = 0;
	if (s->close_after_trickle) {
		s->close_after_trickle = 0;
		session_close(s);
	} else if (s->state == ST_COMMAND || s->state == ST_DATA) {
		session_read(s);
	}
}

static void start_trickle(struct session *s, unsigned long long rate)
{
	static const struct timeval now = {0, 0};

	if (s->trickle_buf == NULL)
		s->trickle_buf = evbuffer_new();
	if (s->trickle_timer == NULL)
		s->trickle_timer = evtimer_new(s->env->base, on_trickle, s);
	s->forced_trickle = rate;
	evbuffer_add_buffer(s->trickle_buf, s->replies);
	evtimer_add(s->trickle_timer, &now);
}

int smtp_hook_send(struct session *s, const struct rule *r, const struct hook_ctx *ctx)
{
	int code;

	if (r->act.trickle) {
		session_flush_replies(s); /* earlier replies leave at full speed */
		s->trickling = 1;         /* a close now waits for the trickle */
	}
	code = r->act.reply_entry ? reply_from_catalog(s, r->act.reply_entry, ctx)
	                          : reply_literal(s, r);
	if (r->act.trickle)
		start_trickle(s, r->act.trickle);

	if (r->act.close && s->state != ST_CLOSING)
		session_close(s);
	return code;
}

struct hook_outcome smtp_hook(struct session *s, struct hook_ctx *ctx, int defer_success)
{
	struct hook_outcome out = {HOOK_NATIVE, NULL, 0};
	const struct rule *held = s->forced_rule;
	struct verdict v;

	s->forced_rule = NULL;
	ctx->connection = s->scenario_conn;
	ctx->command = s->ncommands;
	ctx->user = s->authed ? s->user : NULL;
	ctx->client_ip = s->ip;
	v = engine_decide(s->env->engine, ctx, held);
	if (v.kind == V_NATIVE)
		return out;
	if (held == NULL) {
		snprintf(s->rule_label, sizeof s->rule_label, "%s", v.label);
		transcript_note(s->transcript, "%s acts at stage %s", s->rule_label,
		                scenario_stage_name(ctx->stage));
	}
	if (v.kind == V_WAIT) {
		wait_then_resume(s, v.rule, v.delay, ctx->stage);
		out.result = HOOK_WAIT;
		return out;
	}
	out.rule = v.rule;
	env_apply_effects(s->env, &v.rule->act, s->authed ? s->user : NULL);
	switch (v.kind) {
	case V_DROP:
		transcript_note(s->transcript, "%s drops the connection", s->rule_label);
		session_record_event(s, "dropped", 0, NULL, NULL);
		session_drop(s);
		out.result = HOOK_DONE;
		break;
	case V_REPLY:
		out.code = v.code;
		out.result = HOOK_DONE;
		if (!(defer_success && out.code < 400))
			smtp_hook_send(s, v.rule, ctx);
		break;
	default:
		s->close_after_reply = v.rule->act.close;
		out.result = v.kind == V_ACCEPT ? HOOK_ACCEPT : HOOK_NATIVE;
	}
	return out;
}
