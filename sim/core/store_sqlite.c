/*
 * store_sqlite.c - the SQLite (WAL) store with a pipelined group commit.
 *
 * The event loop's thread owns the connection. Submissions made while the
 * loop handles one round of input are written at the end of that round in
 * one transaction (WAL, synchronous=NORMAL: the frames reach the file but
 * are not synced yet; no disk wait on the loop). A syncer thread then makes
 * every transaction written so far durable with one fdatasync() of the WAL
 * file, while the loop goes on, and hands the results back through a pipe.
 * The syncer also checkpoints the WAL, through its own connection, when the
 * commit hook reports it has grown, so checkpoints never stall the loop. An
 * in-memory store has nothing to sync: its results are given at once.
 *
 * Invariant: a submission's callback runs on the loop's thread after its
 * transaction was committed and the WAL synced (ok=1), or after it failed
 * (ok=0), never before.
 *
 * A job moves through three queues (STAILQ, oldest first): pending (loop
 * thread), written and done (shared with the syncer, under s->lock). Each
 * hand-over moves a whole queue at once with STAILQ_CONCAT, so a lock is
 * held only for a few pointer moves.
 */
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <unistd.h>

#include "clock.h"
#include "jsonw.h"
#include "log.h"
#include "store.h"
#include "xmalloc.h"

/* WAL frames (16 KB pages) after which the syncer checkpoints. */
#define CHECKPOINT_FRAMES 512

/* What waits for the next commit: a new message (its callback runs after
 * the sync) or a change of a delivery record or of the suppression list
 * (nobody waits for those). */
enum job_kind { JOB_MESSAGE, JOB_DELIVERY, JOB_SUPPRESS, JOB_UNSUPPRESS };

struct job {
	STAILQ_ENTRY(job) link;
	enum job_kind kind;
	struct store_message *m;
	store_done_fn done;
	void *arg;
	int ok;
	/* JOB_DELIVERY: seq, text[0] state, text[1] recipients, text[2] attempts,
	 * flags final and captured; JOB_SUPPRESS: text[0] address, text[1] reason,
	 * text[2] source, time; JOB_UNSUPPRESS: text[0] address or NULL (all). */
	uint64_t seq;
	char *text[3];
	double time;
	int final, captured;
};

STAILQ_HEAD(job_list, job);

struct sqlite_store {
	struct store base;
	sqlite3 *db;      /* the loop thread's connection */
	sqlite3 *ckpt_db; /* the syncer's connection, for checkpoints; NULL in memory */
	int memory;
	int wal_fd; /* the WAL file, synced by the syncer; -1 in memory */
	sqlite3_stmt *insert_message, *insert_delivery, *save_delivery, *select_raw;
	sqlite3_stmt *begin, *commit,
	    *rollback;                 /* prepared once: parsing them cost as much as a row */
	struct job_list pending;       /* loop thread: not yet written */
	struct event *commit_event;    /* writes pending at the end of the round */
	unsigned long long bytes_used; /* loop thread */
	/* shared with the syncer, under lock */
	pthread_t syncer;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	pthread_cond_t synced;   /* in_flight went down */
	int in_flight;           /* messages written, not yet synced */
	struct job_list written; /* committed, not yet synced */
	struct job_list done;    /* results for the loop */
	int wal_frames;          /* the WAL's length after the last commit */
	int stop;
	int notify[2];
	struct event *notify_event;
};

/* One row per message, its envelope as received; the recipients are a JSON
 * array, so that a message is one B-tree entry and a commit writes few
 * pages. The raw message is the last column: listing rows never reads it
 * (stores made before the relay have origin, and before this layout
 * attempts, after it: ALTER TABLE adds columns at the end).
 * A message the relay still has to carry gets a delivery record of its own,
 * so that the relay's updates never rewrite the message; unfinished ones
 * are indexed for the restart. A message delivered to the capture mailbox
 * as it is accepted is final at once: its row holds the whole record
 * (state, recipients with their replies, attempts) and it has no delivery
 * row, which saves a row and an index entry per message in the commit. */
static const char schema[] =
    "CREATE TABLE IF NOT EXISTS messages("
    " seq INTEGER PRIMARY KEY, received REAL NOT NULL, client_ip TEXT, connection INTEGER,"
    " user TEXT, mail_from TEXT, recipients TEXT NOT NULL, message_id TEXT, subject TEXT,"
    " size INTEGER NOT NULL, state TEXT NOT NULL, origin TEXT, attempts TEXT,"
    " raw BLOB NOT NULL);"
    "CREATE TABLE IF NOT EXISTS delivery("
    " seq INTEGER PRIMARY KEY, state TEXT NOT NULL, final INTEGER NOT NULL,"
    " captured INTEGER NOT NULL, recipients TEXT NOT NULL, attempts TEXT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS delivery_pending ON delivery(seq) WHERE final = 0;"
    "CREATE INDEX IF NOT EXISTS delivery_mailbox ON delivery(seq) WHERE captured = 1;"
    "CREATE TABLE IF NOT EXISTS suppressions("
    " address TEXT PRIMARY KEY COLLATE NOCASE, reason TEXT, time REAL, source TEXT);";

static int exec_sql(sqlite3 *db, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK)
		return 0;
	log_err("store: %s: %s", sql, msg ? msg : "error");
	sqlite3_free(msg);
	return -1;
}

/* Runs a prepared statement that returns no rows: 0, or -1 (logged). */
static int step_sql(struct sqlite_store *s, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	if (rc == SQLITE_DONE)
		return 0;
	log_err("store: %s: %s", sqlite3_sql(st), sqlite3_errmsg(s->db));
	return -1;
}

static void finalize_statements(struct sqlite_store *s)
{
	sqlite3_stmt *all[] = {s->insert_message, s->insert_delivery, s->save_delivery,
	                       s->select_raw,     s->begin,           s->commit,
	                       s->rollback};

	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
		sqlite3_finalize(all[i]);
}

static const char *first_state(const struct store_message *m, size_t i)
{
	return m->rcpts[i].suppressed ? "suppressed" : m->captured ? "delivered" : "queued";
}

static char *recipients_text(const struct store_message *m)
{
	struct jsonw w = {0};

	jsonw_lit(&w, "[");
	for (size_t i = 0; i < m->nrcpt; i++) {
		const char *state = first_state(m, i);
		if (i > 0)
			jsonw_lit(&w, ",");
		jsonw_lit(&w, "{\"address\":");
		jsonw_str(&w, m->rcpts[i].address);
		jsonw_lit(&w, ",\"state\":\"");
		jsonw_raw(&w, state, strlen(state));
		jsonw_lit(&w, "\",\"attempts\":0");
		if (m->captured)
			jsonw_lit(&w, ",\"destination\":\"capture\"");
		jsonw_lit(&w, "}");
	}
	jsonw_lit(&w, "]");
	return jsonw_take(&w);
}

/* The message's state before the relay has seen it. */
static const char *message_first_state(const struct store_message *m, int *final)
{
	size_t suppressed = 0;

	for (size_t i = 0; i < m->nrcpt; i++)
		suppressed += m->rcpts[i].suppressed != 0;
	*final = m->captured || suppressed == m->nrcpt;
	if (suppressed == m->nrcpt)
		return "suppressed";
	return m->captured ? "delivered" : "queued";
}

static int insert_delivery(struct sqlite_store *s, const struct store_message *m,
                           const char *recipients)
{
	sqlite3_stmt *st = s->insert_delivery;
	int final, rc;
	const char *state = message_first_state(m, &final);

	sqlite3_reset(st);
	sqlite3_bind_int64(st, 1, (sqlite3_int64)m->seq);
	sqlite3_bind_text(st, 2, state, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 3, final);
	sqlite3_bind_int(st, 4, m->captured);
	sqlite3_bind_text(st, 5, recipients, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, "[]", -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* The message's row; a delivery row too unless the relay has finished with
 * it already (m->delivery_state: delivered to the capture mailbox). */
static int insert_one(struct sqlite_store *s, const struct store_message *m)
{
	sqlite3_stmt *st = s->insert_message;
	int final = m->delivery_state != NULL;
	char *recipients = final ? NULL : recipients_text(m);
	int rc;

	if (!final && recipients == NULL)
		return -1;
	sqlite3_reset(st);
	sqlite3_bind_int64(st, 1, (sqlite3_int64)m->seq);
	sqlite3_bind_double(st, 2, m->received);
	sqlite3_bind_text(st, 3, m->client_ip, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)m->connection);
	sqlite3_bind_text(st, 5, m->user, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, m->mail_from, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, final ? m->delivery_recipients : recipients, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 8, m->message_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 9, m->subject, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 10, (sqlite3_int64)m->raw_len);
	sqlite3_bind_text(st, 11, final ? m->delivery_state : "queued", -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 12, final ? m->delivery_attempts : NULL, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 13, m->raw, (int)m->raw_len, SQLITE_STATIC);
	sqlite3_bind_text(st, 14, m->origin, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_clear_bindings(st);
	if (rc == SQLITE_DONE && !final)
		rc = insert_delivery(s, m, recipients) == 0 ? SQLITE_DONE : SQLITE_ERROR;
	free(recipients);
	return rc == SQLITE_DONE ? 0 : -1;
}

static int save_delivery_row(struct sqlite_store *s, const struct job *j)
{
	sqlite3_stmt *st = s->save_delivery;
	int rc;

	sqlite3_reset(st);
	sqlite3_bind_int64(st, 1, (sqlite3_int64)j->seq);
	sqlite3_bind_text(st, 2, j->text[0], -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 3, j->final);
	sqlite3_bind_int(st, 4, j->captured);
	sqlite3_bind_text(st, 5, j->text[1], -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, j->text[2], -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

static int run_sql(struct sqlite_store *s, const char *sql, const char *a, const char *b,
                   const char *c, double t)
{
	sqlite3_stmt *q;
	int rc;

	if (sqlite3_prepare_v2(s->db, sql, -1, &q, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(q, 1, a, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, b, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, c, -1, SQLITE_STATIC);
	sqlite3_bind_double(q, 4, t);
	rc = sqlite3_step(q);
	sqlite3_finalize(q);
	return rc == SQLITE_DONE ? 0 : -1;
}

static int write_job(struct sqlite_store *s, const struct job *j)
{
	switch (j->kind) {
	case JOB_MESSAGE:
		return insert_one(s, j->m);
	case JOB_DELIVERY:
		return save_delivery_row(s, j);
	case JOB_SUPPRESS:
		return run_sql(s,
		               "INSERT OR REPLACE INTO suppressions(address, reason, source, time)"
		               " VALUES(?1, ?2, ?3, ?4)",
		               j->text[0], j->text[1], j->text[2], j->time);
	case JOB_UNSUPPRESS:
		return run_sql(s, "DELETE FROM suppressions WHERE ?1 IS NULL OR address = ?1",
		               j->text[0], NULL, NULL, 0);
	}
	return -1;
}

static void free_job(struct job *j)
{
	store_message_free(j->m);
	for (size_t i = 0; i < 3; i++)
		free(j->text[i]);
	free(j);
}

static int commit_batch(struct sqlite_store *s, struct job_list *batch)
{
	int ok = step_sql(s, s->begin) == 0;

	for (struct job *j = STAILQ_FIRST(batch); j != NULL && ok; j = STAILQ_NEXT(j, link))
		if (write_job(s, j) < 0) {
			log_err("store: write failed: %s", sqlite3_errmsg(s->db));
			ok = 0;
		}
	if (ok && step_sql(s, s->commit) < 0)
		ok = 0;
	if (!ok && !sqlite3_get_autocommit(s->db))
		step_sql(s, s->rollback);
	return ok;
}

/* Runs the callbacks of finished jobs (loop thread) and frees them. */
static void run_callbacks(struct sqlite_store *s, struct job_list *list)
{
	struct job *j;

	while ((j = STAILQ_FIRST(list)) != NULL) {
		STAILQ_REMOVE_HEAD(list, link);
		if (j->kind == JOB_MESSAGE) {
			if (!j->ok && s->bytes_used >= j->m->raw_len)
				s->bytes_used -= j->m->raw_len;
			j->done(j->arg, j->ok, j->m);
		}
		free_job(j);
	}
}

/* Leaves in a committed batch only its new messages (they wait for the
 * sync) and frees the rest (nobody waits for them). */
static void keep_messages(struct job_list *batch)
{
	struct job_list all = STAILQ_HEAD_INITIALIZER(all);
	struct job *j;

	STAILQ_CONCAT(&all, batch);
	while ((j = STAILQ_FIRST(&all)) != NULL) {
		STAILQ_REMOVE_HEAD(&all, link);
		if (j->kind == JOB_MESSAGE)
			STAILQ_INSERT_TAIL(batch, j, link);
		else
			free_job(j);
	}
}

/* A checkpoint copies the WAL into the database and costs two syncs, so
 * it waits until no commit is waiting for its sync, unless the WAL has grown
 * far beyond CHECKPOINT_FRAMES under sustained load. Called with s->lock. */
static int checkpoint_due(const struct sqlite_store *s)
{
	return s->wal_frames >= CHECKPOINT_FRAMES &&
	       (STAILQ_EMPTY(&s->written) || s->wal_frames >= 16 * CHECKPOINT_FRAMES);
}

static void *syncer_main(void *arg)
{
	struct sqlite_store *s = arg;

	for (;;) {
		struct job_list list = STAILQ_HEAD_INITIALIZER(list);
		struct job *j;
		int checkpoint, ok = 1;

		pthread_mutex_lock(&s->lock);
		while (STAILQ_EMPTY(&s->written) && !checkpoint_due(s) && !s->stop)
			pthread_cond_wait(&s->wake, &s->lock);
		STAILQ_CONCAT(&list, &s->written);
		checkpoint = STAILQ_EMPTY(&list) && checkpoint_due(s);
		if (checkpoint)
			s->wal_frames = 0;
		pthread_mutex_unlock(&s->lock);
		if (STAILQ_EMPTY(&list) && !checkpoint)
			break;
		if (!STAILQ_EMPTY(&list) && fdatasync(s->wal_fd) < 0) {
			log_err("store: cannot sync the write-ahead log: %s", strerror(errno));
			ok = 0;
		}
		if (!STAILQ_EMPTY(&list)) {
			int n = 0;
			for (j = STAILQ_FIRST(&list); j != NULL; j = STAILQ_NEXT(j, link), n++)
				j->ok = ok;
			pthread_mutex_lock(&s->lock);
			STAILQ_CONCAT(&s->done, &list);
			s->in_flight -= n;
			pthread_cond_broadcast(&s->synced);
			pthread_mutex_unlock(&s->lock);
			if (write(s->notify[1], "c", 1) < 0)
				log_warn("store: cannot wake the event loop");
		}
		if (checkpoint)
			sqlite3_wal_checkpoint_v2(s->ckpt_db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL,
			                          NULL);
	}
	return NULL;
}

static void take_results(struct sqlite_store *s)
{
	struct job_list list = STAILQ_HEAD_INITIALIZER(list);

	pthread_mutex_lock(&s->lock);
	STAILQ_CONCAT(&list, &s->done);
	pthread_mutex_unlock(&s->lock);
	run_callbacks(s, &list);
}

static void on_notify(evutil_socket_t fd, short what, void *arg)
{
	char buf[256];

	(void)what;
	while (read(fd, buf, sizeof buf) > 0)
		;
	take_results(arg);
}

/* End of a round of the loop: write what was submitted in it. */
static void commit_pending(struct sqlite_store *s)
{
	struct job_list batch = STAILQ_HEAD_INITIALIZER(batch);
	struct job *j;
	int ok;

	if (STAILQ_EMPTY(&s->pending))
		return;
	STAILQ_CONCAT(&batch, &s->pending);
	ok = commit_batch(s, &batch);
	if (!ok || s->wal_fd < 0) {
		for (j = STAILQ_FIRST(&batch); j != NULL; j = STAILQ_NEXT(j, link))
			j->ok = ok;
		run_callbacks(s, &batch);
		return;
	}
	keep_messages(&batch);
	if (STAILQ_EMPTY(&batch))
		return;
	pthread_mutex_lock(&s->lock);
	for (j = STAILQ_FIRST(&batch); j != NULL; j = STAILQ_NEXT(j, link))
		s->in_flight++;
	STAILQ_CONCAT(&s->written, &batch);
	pthread_cond_signal(&s->wake);
	pthread_mutex_unlock(&s->lock);
}

static void on_commit(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	commit_pending(arg);
}

/* SQLite calls this after each commit with the WAL's length in frames. */
static int on_wal_commit(void *arg, sqlite3 *db, const char *name, int frames)
{
	struct sqlite_store *s = arg;

	(void)db;
	(void)name;
	pthread_mutex_lock(&s->lock);
	s->wal_frames = frames;
	if (frames >= CHECKPOINT_FRAMES)
		pthread_cond_signal(&s->wake);
	pthread_mutex_unlock(&s->lock);
	return SQLITE_OK;
}

static void queue_job(struct sqlite_store *s, struct job *j)
{
	STAILQ_INSERT_TAIL(&s->pending, j, link);
	event_active(s->commit_event, EV_TIMEOUT, 0);
}

static int sqlite_submit(struct store *st, struct store_message *m, store_done_fn done, void *arg)
{
	struct sqlite_store *s = (struct sqlite_store *)st;
	struct job *j = xcalloc(1, sizeof *j);

	j->kind = JOB_MESSAGE;
	j->m = m;
	j->done = done;
	j->arg = arg;
	s->bytes_used += m->raw_len;
	queue_job(s, j);
	return 0;
}

static struct job *new_job(enum job_kind kind, const char *a, const char *b, const char *c)
{
	struct job *j = xcalloc(1, sizeof *j);

	j->kind = kind;
	j->text[0] = xstrdup(a);
	j->text[1] = xstrdup(b);
	j->text[2] = xstrdup(c);
	return j;
}

static int sqlite_save_delivery(struct store *st, const struct store_delivery *d)
{
	struct job *j = new_job(JOB_DELIVERY, d->state, d->recipients, d->attempts);

	j->seq = d->seq;
	j->final = d->final;
	j->captured = d->captured;
	queue_job((struct sqlite_store *)st, j);
	return 0;
}

static int sqlite_suppression_save(struct store *st, const char *address, const char *reason,
                                   double time, const char *source)
{
	struct job *j = new_job(JOB_SUPPRESS, address, reason, source);

	j->time = time;
	queue_job((struct sqlite_store *)st, j);
	return 0;
}

static int sqlite_suppression_delete(struct store *st, const char *address)
{
	struct job *j = new_job(JOB_UNSUPPRESS, address, NULL, NULL);

	queue_job((struct sqlite_store *)st, j);
	return 0;
}

static json_t *sqlite_suppressions(struct store *st)
{
	struct sqlite_store *s = (struct sqlite_store *)st;
	json_t *list = json_array();
	sqlite3_stmt *q;

	if (sqlite3_prepare_v2(s->db,
	                       "SELECT address, reason, time, source FROM suppressions"
	                       " ORDER BY time, address",
	                       -1, &q, NULL) != SQLITE_OK)
		return list;
	while (sqlite3_step(q) == SQLITE_ROW)
		json_array_append_new(
		    list,
		    json_pack("{s:s, s:s, s:f, s:s}", "address",
		              (const char *)sqlite3_column_text(q, 0), "reason",
		              sqlite3_column_text(q, 1) ? (const char *)sqlite3_column_text(q, 1)
		                                        : "",
		              "time", sqlite3_column_double(q, 2), "source",
		              sqlite3_column_text(q, 3) ? (const char *)sqlite3_column_text(q, 3)
		                                        : "api"));
	sqlite3_finalize(q);
	return list;
}

/* A JSON array column (recipients, attempts); [] when empty or unreadable. */
static json_t *json_column(sqlite3_stmt *q, int col)
{
	const char *text = (const char *)sqlite3_column_text(q, col);
	json_t *v = text ? json_loads(text, 0, NULL) : NULL;

	return v ? v : json_array();
}

static int sqlite_load_pending(struct store *st, store_pending_fn fn, void *arg)
{
	struct sqlite_store *s = (struct sqlite_store *)st;
	sqlite3_stmt *q;
	int n = 0;

	if (sqlite3_prepare_v2(s->db,
	                       "SELECT d.seq, m.received, m.mail_from, m.user, m.origin,"
	                       " d.recipients, d.attempts FROM delivery d JOIN messages m"
	                       " ON m.seq = d.seq WHERE d.final = 0 ORDER BY d.seq",
	                       -1, &q, NULL) != SQLITE_OK)
		return -1;
	while (sqlite3_step(q) == SQLITE_ROW) {
		struct store_pending p = {
		    .seq = (uint64_t)sqlite3_column_int64(q, 0),
		    .received = sqlite3_column_double(q, 1),
		    .mail_from = (const char *)sqlite3_column_text(q, 2),
		    .user = (const char *)sqlite3_column_text(q, 3),
		    .origin = (const char *)sqlite3_column_text(q, 4),
		    .recipients = json_column(q, 5),
		    .attempts = json_column(q, 6),
		};
		fn(arg, &p);
		json_decref(p.recipients);
		json_decref(p.attempts);
		n++;
	}
	sqlite3_finalize(q);
	return n;
}

static json_t *text_or_null(sqlite3_stmt *st, int col)
{
	const unsigned char *t = sqlite3_column_text(st, col);

	return t ? json_string((const char *)t) : json_null();
}

/* A message with its delivery record (messages m LEFT JOIN delivery d). */
#define SUMMARY_COLUMNS                                                                            \
	"m.seq, m.received, m.client_ip, m.connection, m.user, m.mail_from,"                       \
	" COALESCE(d.recipients, m.recipients), m.message_id, m.subject, m.size,"                  \
	" COALESCE(d.state, m.state), m.origin, COALESCE(d.attempts, m.attempts)"
#define SUMMARY_FROM " FROM messages m LEFT JOIN delivery d ON d.seq = m.seq"

static json_t *summary_json(const struct store *store, sqlite3_stmt *st, int with_attempts)
{
	char received[40], id[STORE_ID_MAX];
	json_t *o;

	store_format_id(store, (uint64_t)sqlite3_column_int64(st, 0), id);
	clock_format(sqlite3_column_double(st, 1), received, sizeof received);
	o = json_pack(
	    "{s:s, s:s, s:o, s:I, s:o, s:o, s:o, s:o, s:o, s:I, s:o, s:s}", "id", id, "received",
	    received, "client_ip", text_or_null(st, 2), "connection",
	    (json_int_t)sqlite3_column_int64(st, 3), "user", text_or_null(st, 4), "from",
	    text_or_null(st, 5), "to", json_column(st, 6), "message_id", text_or_null(st, 7),
	    "subject", text_or_null(st, 8), "size", (json_int_t)sqlite3_column_int64(st, 9),
	    "state", text_or_null(st, 10), "origin",
	    sqlite3_column_text(st, 11) ? (const char *)sqlite3_column_text(st, 11) : "intake");
	if (with_attempts)
		json_object_set_new(o, "attempts", json_column(st, 12));
	return o;
}

static json_t *sqlite_list(struct store *st, const struct store_filter *f)
{
	static const char sql[] =
	    "SELECT " SUMMARY_COLUMNS SUMMARY_FROM
	    " WHERE (?5 = 0 OR COALESCE(d.captured, m.state = 'delivered')) AND"
	    " (?1 IS NULL OR EXISTS (SELECT 1 FROM json_each(m.recipients) r"
	    "   WHERE instr(lower(json_extract(r.value, '$.address')), lower(?1)) > 0))"
	    " AND (?2 IS NULL OR instr(lower(m.mail_from), lower(?2)) > 0)"
	    " AND (?3 IS NULL OR instr(lower(m.subject), lower(?3)) > 0)"
	    " ORDER BY m.seq DESC LIMIT ?4";
	struct sqlite_store *s = (struct sqlite_store *)st;
	json_t *list = json_array();
	sqlite3_stmt *q;

	if (sqlite3_prepare_v2(s->db, sql, -1, &q, NULL) == SQLITE_OK) {
		sqlite3_bind_text(q, 1, f->to, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 2, f->from, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 3, f->subject, -1, SQLITE_STATIC);
		sqlite3_bind_int64(q, 4, f->limit);
		sqlite3_bind_int(q, 5, f->mailbox);
		while (sqlite3_step(q) == SQLITE_ROW)
			json_array_append_new(list, summary_json(st, q, 0));
		sqlite3_finalize(q);
	}
	return list;
}

static json_t *sqlite_get(struct store *st, const char *id)
{
	struct sqlite_store *s = (struct sqlite_store *)st;
	json_t *found = NULL;
	sqlite3_stmt *q;
	uint64_t seq;

	if (store_parse_id(id, &seq) < 0)
		return NULL;
	if (sqlite3_prepare_v2(s->db, "SELECT " SUMMARY_COLUMNS SUMMARY_FROM " WHERE m.seq=?", -1,
	                       &q, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(q, 1, (sqlite3_int64)seq);
		if (sqlite3_step(q) == SQLITE_ROW)
			found = summary_json(st, q, 1);
		sqlite3_finalize(q);
	}
	return found;
}

static int sqlite_raw(struct store *st, const char *id, char **raw, size_t *len)
{
	struct sqlite_store *s = (struct sqlite_store *)st;
	sqlite3_stmt *q = s->select_raw;
	uint64_t seq;
	int rc = -1;

	if (store_parse_id(id, &seq) < 0)
		return -1;
	sqlite3_reset(q);
	sqlite3_bind_int64(q, 1, (sqlite3_int64)seq);
	if (sqlite3_step(q) == SQLITE_ROW) {
		*len = (size_t)sqlite3_column_bytes(q, 0);
		*raw = malloc(*len + 1);
		if (*raw != NULL) {
			memcpy(*raw, sqlite3_column_blob(q, 0), *len);
			(*raw)[*len] = '\0';
			rc = 0;
		}
	}
	sqlite3_reset(q);
	return rc;
}

static long sqlite_delete_all(struct store *st)
{
	struct sqlite_store *s = (struct sqlite_store *)st;
	long n = -1;

	commit_pending(s);
	if (step_sql(s, s->begin) == 0 && exec_sql(s->db, "DELETE FROM messages") == 0) {
		n = sqlite3_changes(s->db);
		if (exec_sql(s->db, "DELETE FROM delivery") < 0)
			n = -1;
		if (step_sql(s, s->commit) < 0)
			n = -1;
	}
	if (n < 0 && !sqlite3_get_autocommit(s->db))
		step_sql(s, s->rollback);
	else
		s->bytes_used = 0;
	return n;
}

static unsigned long long sqlite_bytes_used(struct store *st)
{
	return ((struct sqlite_store *)st)->bytes_used;
}

static void stop_syncer(struct sqlite_store *s)
{
	pthread_mutex_lock(&s->lock);
	s->stop = 1;
	pthread_cond_signal(&s->wake);
	pthread_mutex_unlock(&s->lock);
	pthread_join(s->syncer, NULL);
}

static void sqlite_drain(struct store *st)
{
	struct sqlite_store *s = (struct sqlite_store *)st;

	commit_pending(s);
	if (s->wal_fd >= 0) {
		pthread_mutex_lock(&s->lock);
		while (s->in_flight > 0)
			pthread_cond_wait(&s->synced, &s->lock);
		pthread_mutex_unlock(&s->lock);
	}
	take_results(s);
}

static void sqlite_close(struct store *st)
{
	struct sqlite_store *s = (struct sqlite_store *)st;

	commit_pending(s);
	if (s->wal_fd >= 0)
		stop_syncer(s);
	take_results(s);
	finalize_statements(s);
	sqlite3_close(s->ckpt_db);
	sqlite3_close(s->db);
	if (s->wal_fd >= 0)
		close(s->wal_fd);
	event_free(s->commit_event);
	event_free(s->notify_event);
	close(s->notify[0]);
	close(s->notify[1]);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->wake);
	pthread_cond_destroy(&s->synced);
	free(s);
}

static const struct store_ops sqlite_ops = {
    sqlite_submit,
    sqlite_list,
    sqlite_get,
    sqlite_raw,
    sqlite_delete_all,
    sqlite_bytes_used,
    sqlite_close,
    sqlite_drain,
    sqlite_save_delivery,
    sqlite_load_pending,
    sqlite_suppression_save,
    sqlite_suppression_delete,
    sqlite_suppressions,
};

static int open_connection(const char *path, sqlite3 **db, char *err, size_t errlen)
{
	if (sqlite3_open_v2(path, db,
	                    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
	                    NULL) != SQLITE_OK) {
		snprintf(err, errlen, "store %s: %s", path,
		         *db ? sqlite3_errmsg(*db) : "cannot open");
		return -1;
	}
	sqlite3_busy_timeout(*db, 5000);
	return 0;
}

/* Stores made before the relay existed have no origin column, and before
 * the capture mailbox's records moved into the message's row no attempts. */
static int add_column(struct sqlite_store *s, const char *name)
{
	char sql[128];
	sqlite3_stmt *q;

	snprintf(sql, sizeof sql, "SELECT %s FROM messages LIMIT 0", name);
	if (sqlite3_prepare_v2(s->db, sql, -1, &q, NULL) == SQLITE_OK) {
		sqlite3_finalize(q);
		return 0;
	}
	snprintf(sql, sizeof sql, "ALTER TABLE messages ADD COLUMN %s TEXT", name);
	return exec_sql(s->db, sql);
}

static int prepare_schema(struct sqlite_store *s, const char *path, char *err, size_t errlen)
{
	sqlite3_stmt *q;

	/* 16 KB pages hold several messages of a few KB each, on disk and in
	 * memory alike (with 4 KB pages each such message took a page of its own) */
	if (exec_sql(s->db, "PRAGMA page_size=16384") < 0 ||
	    (!s->memory && exec_sql(s->db, "PRAGMA journal_mode=WAL") < 0) ||
	    exec_sql(s->db, s->memory ? "PRAGMA synchronous=OFF" : "PRAGMA synchronous=NORMAL") <
	        0 ||
	    exec_sql(s->db, schema) < 0 || add_column(s, "origin") < 0 ||
	    add_column(s, "attempts") < 0 ||
	    sqlite3_prepare_v2(s->db,
	                       "INSERT INTO messages(seq, received, client_ip, connection, user,"
	                       " mail_from, recipients, message_id, subject, size, state,"
	                       " attempts, raw, origin) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
	                       -1, &s->insert_message, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(s->db,
	                       "INSERT INTO delivery(seq, state, final, captured, recipients,"
	                       " attempts) VALUES(?,?,?,?,?,?)",
	                       -1, &s->insert_delivery, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(s->db,
	                       "INSERT OR REPLACE INTO delivery(seq, state, final, captured,"
	                       " recipients, attempts) VALUES(?,?,?,?,?,?)",
	                       -1, &s->save_delivery, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(s->db, "SELECT raw FROM messages WHERE seq=?", -1, &s->select_raw,
	                       NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(s->db, "BEGIN IMMEDIATE", -1, &s->begin, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(s->db, "COMMIT", -1, &s->commit, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(s->db, "ROLLBACK", -1, &s->rollback, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "store %s: %s", path, sqlite3_errmsg(s->db));
		return -1;
	}
	if (sqlite3_prepare_v2(s->db,
	                       "SELECT COALESCE(SUM(size), 0), COALESCE(MAX(seq), 0) FROM messages",
	                       -1, &q, NULL) == SQLITE_OK) {
		if (sqlite3_step(q) == SQLITE_ROW) {
			s->bytes_used = (unsigned long long)sqlite3_column_int64(q, 0);
			s->base.last_seq = (uint64_t)sqlite3_column_int64(q, 1);
		}
		sqlite3_finalize(q);
	}
	return 0;
}

/* The syncer makes commits durable by syncing the WAL file itself; it
 * exists as long as the store's connections are open. */
static int open_wal(struct sqlite_store *s, const char *path, char *err, size_t errlen)
{
	char wal[4096];

	snprintf(wal, sizeof wal, "%s-wal", path);
	s->wal_fd = open(wal, O_RDONLY | O_CLOEXEC);
	if (s->wal_fd < 0) {
		snprintf(err, errlen, "store: cannot open %s: %s", wal, strerror(errno));
		return -1;
	}
	return 0;
}

static void discard_partial(struct sqlite_store *s)
{
	finalize_statements(s);
	sqlite3_close(s->ckpt_db);
	sqlite3_close(s->db);
	if (s->commit_event != NULL)
		event_free(s->commit_event);
	if (s->notify_event != NULL)
		event_free(s->notify_event);
	if (s->notify[0] >= 0) {
		close(s->notify[0]);
		close(s->notify[1]);
	}
	if (s->wal_fd >= 0)
		close(s->wal_fd);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->wake);
	pthread_cond_destroy(&s->synced);
	free(s);
}

static int open_file_parts(struct sqlite_store *s, const char *path, char *err, size_t errlen)
{
	if (open_connection(path, &s->ckpt_db, err, errlen) < 0 ||
	    exec_sql(s->ckpt_db, "PRAGMA synchronous=NORMAL") < 0 ||
	    open_wal(s, path, err, errlen) < 0)
		return -1;
	sqlite3_wal_hook(s->db, on_wal_commit, s);
	if (pthread_create(&s->syncer, NULL, syncer_main, s) != 0) {
		snprintf(err, errlen, "store: cannot start the syncer thread");
		close(s->wal_fd);
		s->wal_fd = -1;
		return -1;
	}
	return 0;
}

struct store *store_sqlite_open(struct event_base *base, const char *path, char *err, size_t errlen)
{
	struct sqlite_store *s = xcalloc(1, sizeof *s);

	s->base.ops = &sqlite_ops;
	s->memory = strcmp(path, ":memory:") == 0;
	s->wal_fd = -1;
	s->notify[0] = s->notify[1] = -1;
	STAILQ_INIT(&s->pending);
	STAILQ_INIT(&s->written);
	STAILQ_INIT(&s->done);
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->wake, NULL);
	pthread_cond_init(&s->synced, NULL);
	if (pipe2(s->notify, O_NONBLOCK | O_CLOEXEC) < 0) {
		snprintf(err, errlen, "store: cannot create the notification pipe");
		discard_partial(s);
		return NULL;
	}
	s->notify_event = event_new(base, s->notify[0], EV_READ | EV_PERSIST, on_notify, s);
	s->commit_event = event_new(base, -1, 0, on_commit, s);
	event_add(s->notify_event, NULL);
	if (open_connection(path, &s->db, err, errlen) < 0 ||
	    prepare_schema(s, path, err, errlen) < 0 ||
	    (!s->memory && open_file_parts(s, path, err, errlen) < 0)) {
		discard_partial(s);
		return NULL;
	}
	return &s->base;
}
