/*
 * store_sqlite.c - the SQLite (WAL) store with a pipelined group commit.
 *
 * Two threads own the writing. The writer takes every submission queued
 * since its last commit and writes them in one transaction (WAL,
 * synchronous=NORMAL: the frames reach the file but are not yet synced).
 * The syncer then makes every transaction written so far durable with one
 * fdatasync() of the WAL file, while the writer already writes the next
 * batch. Results go back to the event loop through a pipe. The loop's thread
 * reads through its own connection, which WAL lets run beside the writer.
 * An in-memory store has a single connection, shared under db_lock, and no
 * syncer.
 *
 * Invariant: a submission's callback runs on the loop's thread after its
 * transaction was committed and the WAL synced (ok=1), or after it failed
 * (ok=0), never before.
 */
#include <event2/event.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "store.h"

struct job {
	struct job *next;
	struct store_message *m;
	store_done_fn done;
	void *arg;
	int ok;
};

struct sqlite_store {
	struct store base;
	sqlite3 *wdb, *rdb; /* equal for an in-memory store */
	int memory;
	pthread_t writer, syncer;
	int wal_fd;                          /* the WAL file, synced by the syncer; -1 for memory */
	pthread_mutex_t lock;                /* guards the job lists and stop */
	pthread_cond_t wake;                 /* a submission for an idle writer */
	pthread_mutex_t db_lock;             /* guards the one connection of a memory store */
	struct job *pending, **pending_tail; /* submitted, not yet written */
	struct job *written, **written_tail; /* committed, not yet synced */
	struct job *done, **done_tail;       /* results for the loop */
	pthread_cond_t wake_syncer;
	int stop, stop_syncer;
	int idle; /* the writer sleeps until a submission signals it */
	int notify[2];
	struct event *notify_event;
	unsigned long long bytes_used; /* loop thread only */
	sqlite3_stmt *insert_message;
};

/* One row per message; the recipients and their states are a JSON array,
 * so that a message is one B-tree entry and a commit writes few pages. The
 * raw message is the last column: listing rows never reads it. */
static const char schema[] =
    "CREATE TABLE IF NOT EXISTS messages("
    " seq INTEGER PRIMARY KEY, received REAL NOT NULL, client_ip TEXT, connection INTEGER,"
    " user TEXT, mail_from TEXT, recipients TEXT NOT NULL, message_id TEXT, subject TEXT,"
    " size INTEGER NOT NULL, state TEXT NOT NULL, raw BLOB NOT NULL);";

static void db_enter(struct sqlite_store *s)
{
	if (s->memory)
		pthread_mutex_lock(&s->db_lock);
}

static void db_leave(struct sqlite_store *s)
{
	if (s->memory)
		pthread_mutex_unlock(&s->db_lock);
}

static int exec_sql(sqlite3 *db, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK)
		return 0;
	log_err("store: %s: %s", sql, msg ? msg : "error");
	sqlite3_free(msg);
	return -1;
}

static char *recipients_text(const struct store_message *m)
{
	json_t *list = json_array();
	char *text;

	for (size_t i = 0; i < m->nrcpt; i++)
		json_array_append_new(
		    list, json_pack("{s:s, s:s}", "address", m->rcpts[i].address, "state",
		                    m->rcpts[i].suppressed ? "suppressed" : "queued"));
	text = json_dumps(list, JSON_COMPACT);
	json_decref(list);
	return text;
}

static int insert_one(struct sqlite_store *s, const struct store_message *m)
{
	sqlite3_stmt *st = s->insert_message;
	char *recipients = recipients_text(m);
	int rc;

	if (recipients == NULL)
		return -1;
	sqlite3_reset(st);
	sqlite3_bind_int64(st, 1, (sqlite3_int64)m->seq);
	sqlite3_bind_double(st, 2, m->received);
	sqlite3_bind_text(st, 3, m->client_ip, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)m->connection);
	sqlite3_bind_text(st, 5, m->user, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, m->mail_from, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, recipients, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 8, m->message_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 9, m->subject, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 10, (sqlite3_int64)m->raw_len);
	sqlite3_bind_blob(st, 11, m->raw, (int)m->raw_len, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_clear_bindings(st);
	free(recipients);
	return rc == SQLITE_DONE ? 0 : -1;
}

static int commit_batch(struct sqlite_store *s, struct job *batch)
{
	int ok = 1;

	db_enter(s);
	if (exec_sql(s->wdb, "BEGIN IMMEDIATE") < 0) {
		db_leave(s);
		return 0;
	}
	for (struct job *j = batch; j != NULL && ok; j = j->next)
		if (insert_one(s, j->m) < 0) {
			log_err("store: insert failed: %s", sqlite3_errmsg(s->wdb));
			ok = 0;
		}
	if (ok && exec_sql(s->wdb, "COMMIT") < 0)
		ok = 0;
	if (!ok)
		exec_sql(s->wdb, "ROLLBACK");
	db_leave(s);
	return ok;
}

/* Waits for work and takes every submission queued so far.
 * Called and returns with s->lock held. */
static struct job *take_batch(struct sqlite_store *s)
{
	struct job *batch;

	s->idle = 1;
	while (s->pending == NULL && !s->stop)
		pthread_cond_wait(&s->wake, &s->lock);
	s->idle = 0;
	batch = s->pending;
	s->pending = NULL;
	s->pending_tail = &s->pending;
	return batch;
}

static void append_jobs(struct job ***tail, struct job *list)
{
	**tail = list;
	while (**tail != NULL)
		*tail = &(**tail)->next;
}

/* Hands finished jobs to the loop. Called with s->lock held. */
static void finish_jobs(struct sqlite_store *s, struct job *list, int ok)
{
	for (struct job *j = list; j != NULL; j = j->next)
		j->ok = ok;
	append_jobs(&s->done_tail, list);
	if (write(s->notify[1], "c", 1) < 0)
		log_warn("store: cannot wake the event loop");
}

static void *writer_main(void *arg)
{
	struct sqlite_store *s = arg;

	for (;;) {
		struct job *batch;
		int ok;

		pthread_mutex_lock(&s->lock);
		batch = take_batch(s);
		pthread_mutex_unlock(&s->lock);
		if (batch == NULL)
			break;
		ok = commit_batch(s, batch);
		pthread_mutex_lock(&s->lock);
		if (ok && s->wal_fd >= 0) {
			append_jobs(&s->written_tail, batch);
			pthread_cond_signal(&s->wake_syncer);
		} else {
			finish_jobs(s, batch, ok);
		}
		pthread_mutex_unlock(&s->lock);
	}
	return NULL;
}

static void *syncer_main(void *arg)
{
	struct sqlite_store *s = arg;

	for (;;) {
		struct job *list;
		int ok;

		pthread_mutex_lock(&s->lock);
		while (s->written == NULL && !s->stop_syncer)
			pthread_cond_wait(&s->wake_syncer, &s->lock);
		list = s->written;
		s->written = NULL;
		s->written_tail = &s->written;
		pthread_mutex_unlock(&s->lock);
		if (list == NULL)
			break;
		ok = fdatasync(s->wal_fd) == 0;
		if (!ok)
			log_err("store: cannot sync the write-ahead log");
		pthread_mutex_lock(&s->lock);
		finish_jobs(s, list, ok);
		pthread_mutex_unlock(&s->lock);
	}
	return NULL;
}

static void deliver_results(struct sqlite_store *s)
{
	struct job *list;

	pthread_mutex_lock(&s->lock);
	list = s->done;
	s->done = NULL;
	s->done_tail = &s->done;
	pthread_mutex_unlock(&s->lock);
	while (list != NULL) {
		struct job *next = list->next;
		if (!list->ok && s->bytes_used >= list->m->raw_len)
			s->bytes_used -= list->m->raw_len;
		list->done(list->arg, list->ok);
		store_message_free(list->m);
		free(list);
		list = next;
	}
}

static void on_notify(evutil_socket_t fd, short what, void *arg)
{
	char buf[256];

	(void)what;
	while (read(fd, buf, sizeof buf) > 0)
		;
	deliver_results(arg);
}

static int sqlite_submit(struct store *st, struct store_message *m, store_done_fn done, void *arg)
{
	struct sqlite_store *s = (struct sqlite_store *)st;
	struct job *j = calloc(1, sizeof *j);

	if (j == NULL)
		return -1;
	j->m = m;
	j->done = done;
	j->arg = arg;
	s->bytes_used += m->raw_len;
	pthread_mutex_lock(&s->lock);
	*s->pending_tail = j;
	s->pending_tail = &j->next;
	if (s->idle)
		pthread_cond_signal(&s->wake);
	pthread_mutex_unlock(&s->lock);
	return 0;
}

static json_t *recipients_json(sqlite3_stmt *st, int col)
{
	const char *text = (const char *)sqlite3_column_text(st, col);
	json_t *list = text ? json_loads(text, 0, NULL) : NULL;

	return list ? list : json_array();
}

static json_t *text_or_null(sqlite3_stmt *st, int col)
{
	const unsigned char *t = sqlite3_column_text(st, col);

	return t ? json_string((const char *)t) : json_null();
}

#define SUMMARY_COLUMNS                                                                            \
	"seq, received, client_ip, connection, user, mail_from, recipients, message_id, subject,"  \
	" size, state"

static json_t *summary_json(sqlite3_stmt *st)
{
	char received[40], id[20];

	snprintf(id, sizeof id, "%016llx", (unsigned long long)sqlite3_column_int64(st, 0));
	clock_format(sqlite3_column_double(st, 1), received, sizeof received);
	return json_pack("{s:s, s:s, s:o, s:I, s:o, s:o, s:o, s:o, s:o, s:I, s:o}", "id", id,
	                 "received", received, "client_ip", text_or_null(st, 2), "connection",
	                 (json_int_t)sqlite3_column_int64(st, 3), "user", text_or_null(st, 4),
	                 "from", text_or_null(st, 5), "to", recipients_json(st, 6), "message_id",
	                 text_or_null(st, 7), "subject", text_or_null(st, 8), "size",
	                 (json_int_t)sqlite3_column_int64(st, 9), "state", text_or_null(st, 10));
}

static json_t *sqlite_list(struct store *st, const struct store_filter *f)
{
	static const char sql[] =
	    "SELECT " SUMMARY_COLUMNS " FROM messages m WHERE"
	    " (?1 IS NULL OR EXISTS (SELECT 1 FROM json_each(m.recipients) r"
	    "   WHERE instr(lower(json_extract(r.value, '$.address')), lower(?1)) > 0))"
	    " AND (?2 IS NULL OR instr(lower(m.mail_from), lower(?2)) > 0)"
	    " AND (?3 IS NULL OR instr(lower(m.subject), lower(?3)) > 0)"
	    " ORDER BY seq DESC LIMIT ?4";
	struct sqlite_store *s = (struct sqlite_store *)st;
	json_t *list = json_array();
	sqlite3_stmt *q;

	db_enter(s);
	if (sqlite3_prepare_v2(s->rdb, sql, -1, &q, NULL) == SQLITE_OK) {
		sqlite3_bind_text(q, 1, f->to, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 2, f->from, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 3, f->subject, -1, SQLITE_STATIC);
		sqlite3_bind_int64(q, 4, f->limit);
		while (sqlite3_step(q) == SQLITE_ROW)
			json_array_append_new(list, summary_json(q));
		sqlite3_finalize(q);
	}
	db_leave(s);
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
	db_enter(s);
	if (sqlite3_prepare_v2(s->rdb, "SELECT " SUMMARY_COLUMNS " FROM messages WHERE seq=?", -1,
	                       &q, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(q, 1, (sqlite3_int64)seq);
		if (sqlite3_step(q) == SQLITE_ROW)
			found = summary_json(q);
		sqlite3_finalize(q);
	}
	db_leave(s);
	return found;
}

static int sqlite_raw(struct store *st, const char *id, char **raw, size_t *len)
{
	struct sqlite_store *s = (struct sqlite_store *)st;
	sqlite3_stmt *q;
	uint64_t seq;
	int rc = -1;

	if (store_parse_id(id, &seq) < 0)
		return -1;
	db_enter(s);
	if (sqlite3_prepare_v2(s->rdb, "SELECT raw FROM messages WHERE seq=?", -1, &q, NULL) ==
	    SQLITE_OK) {
		sqlite3_bind_int64(q, 1, (sqlite3_int64)seq);
		if (sqlite3_step(q) == SQLITE_ROW) {
			*len = (size_t)sqlite3_column_bytes(q, 0);
			*raw = malloc(*len + 1);
			memcpy(*raw, sqlite3_column_blob(q, 0), *len);
			(*raw)[*len] = '\0';
			rc = 0;
		}
		sqlite3_finalize(q);
	}
	db_leave(s);
	return rc;
}

static long sqlite_delete_all(struct store *st)
{
	struct sqlite_store *s = (struct sqlite_store *)st;
	long n = -1;

	db_enter(s);
	if (exec_sql(s->rdb, "BEGIN IMMEDIATE") == 0 &&
	    exec_sql(s->rdb, "DELETE FROM messages") == 0) {
		n = sqlite3_changes(s->rdb);
		if (exec_sql(s->rdb, "COMMIT") < 0)
			n = -1;
	}
	if (n < 0)
		exec_sql(s->rdb, "ROLLBACK");
	else
		s->bytes_used = 0;
	db_leave(s);
	return n;
}

static unsigned long long sqlite_bytes_used(struct store *st)
{
	return ((struct sqlite_store *)st)->bytes_used;
}

static void sqlite_close(struct store *st)
{
	struct sqlite_store *s = (struct sqlite_store *)st;

	pthread_mutex_lock(&s->lock);
	s->stop = 1;
	pthread_cond_signal(&s->wake);
	pthread_mutex_unlock(&s->lock);
	pthread_join(s->writer, NULL);
	pthread_mutex_lock(&s->lock);
	s->stop_syncer = 1;
	pthread_cond_signal(&s->wake_syncer);
	pthread_mutex_unlock(&s->lock);
	if (s->wal_fd >= 0) {
		pthread_join(s->syncer, NULL);
		close(s->wal_fd);
	}
	deliver_results(s);
	sqlite3_finalize(s->insert_message);
	if (s->rdb != s->wdb)
		sqlite3_close(s->rdb);
	sqlite3_close(s->wdb);
	event_free(s->notify_event);
	close(s->notify[0]);
	close(s->notify[1]);
	pthread_mutex_destroy(&s->lock);
	pthread_mutex_destroy(&s->db_lock);
	pthread_cond_destroy(&s->wake);
	pthread_cond_destroy(&s->wake_syncer);
	free(s);
}

static const struct store_ops sqlite_ops = {
    sqlite_submit,     sqlite_list,       sqlite_get,   sqlite_raw,
    sqlite_delete_all, sqlite_bytes_used, sqlite_close,
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

static int prepare_schema(struct sqlite_store *s, const char *path, char *err, size_t errlen)
{
	sqlite3_stmt *q;

	if ((!s->memory &&
	     exec_sql(s->wdb, "PRAGMA page_size=16384; PRAGMA journal_mode=WAL") < 0) ||
	    exec_sql(s->wdb, s->memory ? "PRAGMA synchronous=OFF" : "PRAGMA synchronous=NORMAL") <
	        0 ||
	    exec_sql(s->wdb, schema) < 0 ||
	    sqlite3_prepare_v2(s->wdb,
	                       "INSERT INTO messages(seq, received, client_ip, connection, user,"
	                       " mail_from, recipients, message_id, subject, size, state, raw)"
	                       " VALUES(?,?,?,?,?,?,?,?,?,?,'queued',?)",
	                       -1, &s->insert_message, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "store %s: %s", path, sqlite3_errmsg(s->wdb));
		return -1;
	}
	if (sqlite3_prepare_v2(s->wdb,
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

static void discard_partial(struct sqlite_store *s)
{
	sqlite3_finalize(s->insert_message);
	if (s->rdb != NULL && s->rdb != s->wdb)
		sqlite3_close(s->rdb);
	sqlite3_close(s->wdb);
	if (s->notify_event != NULL)
		event_free(s->notify_event);
	if (s->notify[0] >= 0) {
		close(s->notify[0]);
		close(s->notify[1]);
	}
	if (s->wal_fd >= 0)
		close(s->wal_fd);
	free(s);
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

static int start_threads(struct sqlite_store *s, char *err, size_t errlen)
{
	if (s->wal_fd >= 0 && pthread_create(&s->syncer, NULL, syncer_main, s) != 0) {
		snprintf(err, errlen, "store: cannot start the syncer thread");
		return -1;
	}
	if (pthread_create(&s->writer, NULL, writer_main, s) == 0)
		return 0;
	snprintf(err, errlen, "store: cannot start the writer thread");
	if (s->wal_fd >= 0) {
		pthread_mutex_lock(&s->lock);
		s->stop_syncer = 1;
		pthread_cond_signal(&s->wake_syncer);
		pthread_mutex_unlock(&s->lock);
		pthread_join(s->syncer, NULL);
	}
	return -1;
}

struct store *store_sqlite_open(struct event_base *base, const char *path, char *err, size_t errlen)
{
	struct sqlite_store *s = calloc(1, sizeof *s);

	if (s == NULL)
		return NULL;
	s->base.ops = &sqlite_ops;
	s->memory = strcmp(path, ":memory:") == 0;
	s->notify[0] = s->notify[1] = -1;
	s->wal_fd = -1;
	s->pending_tail = &s->pending;
	s->written_tail = &s->written;
	s->done_tail = &s->done;
	if (open_connection(path, &s->wdb, err, errlen) < 0 ||
	    prepare_schema(s, path, err, errlen) < 0 ||
	    (!s->memory && open_connection(path, &s->rdb, err, errlen) < 0) ||
	    (!s->memory && open_wal(s, path, err, errlen) < 0)) {
		discard_partial(s);
		return NULL;
	}
	if (s->memory)
		s->rdb = s->wdb;
	if (pipe2(s->notify, O_NONBLOCK | O_CLOEXEC) < 0) {
		snprintf(err, errlen, "store: cannot create the notification pipe");
		discard_partial(s);
		return NULL;
	}
	s->notify_event = event_new(base, s->notify[0], EV_READ | EV_PERSIST, on_notify, s);
	event_add(s->notify_event, NULL);
	pthread_mutex_init(&s->lock, NULL);
	pthread_mutex_init(&s->db_lock, NULL);
	pthread_cond_init(&s->wake, NULL);
	pthread_cond_init(&s->wake_syncer, NULL);
	if (start_threads(s, err, errlen) < 0) {
		discard_partial(s);
		return NULL;
	}
	return &s->base;
}
