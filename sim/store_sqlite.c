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
 */
#include <errno.h>
#include <event2/event.h>
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

/* WAL frames (16 KB pages) after which the syncer checkpoints. */
#define CHECKPOINT_FRAMES 512

struct job {
	struct job *next;
	struct store_message *m;
	store_done_fn done;
	void *arg;
	int ok;
};

struct sqlite_store {
	struct store base;
	sqlite3 *db;      /* the loop thread's connection */
	sqlite3 *ckpt_db; /* the syncer's connection, for checkpoints; NULL in memory */
	int memory;
	int wal_fd; /* the WAL file, synced by the syncer; -1 in memory */
	sqlite3_stmt *insert_message;
	struct job *pending, **pending_tail; /* loop thread: not yet written */
	struct event *commit_event;          /* writes pending at the end of the round */
	unsigned long long bytes_used;       /* loop thread */
	/* shared with the syncer, under lock */
	pthread_t syncer;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct job *written, **written_tail; /* committed, not yet synced */
	struct job *done, **done_tail;       /* results for the loop */
	int wal_frames;                      /* the WAL's length after the last commit */
	int stop;
	int notify[2];
	struct event *notify_event;
};

/* One row per message; the recipients and their states are a JSON array,
 * so that a message is one B-tree entry and a commit writes few pages. The
 * raw message is the last column: listing rows never reads it. */
static const char schema[] =
    "CREATE TABLE IF NOT EXISTS messages("
    " seq INTEGER PRIMARY KEY, received REAL NOT NULL, client_ip TEXT, connection INTEGER,"
    " user TEXT, mail_from TEXT, recipients TEXT NOT NULL, message_id TEXT, subject TEXT,"
    " size INTEGER NOT NULL, state TEXT NOT NULL, raw BLOB NOT NULL);";

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
	int ok = exec_sql(s->db, "BEGIN IMMEDIATE") == 0;

	for (struct job *j = batch; j != NULL && ok; j = j->next)
		if (insert_one(s, j->m) < 0) {
			log_err("store: insert failed: %s", sqlite3_errmsg(s->db));
			ok = 0;
		}
	if (ok && exec_sql(s->db, "COMMIT") < 0)
		ok = 0;
	if (!ok && !sqlite3_get_autocommit(s->db))
		exec_sql(s->db, "ROLLBACK");
	return ok;
}

static void append_jobs(struct job ***tail, struct job *list)
{
	**tail = list;
	while (**tail != NULL)
		*tail = &(**tail)->next;
}

/* Runs the callbacks of finished jobs (loop thread) and frees them. */
static void run_callbacks(struct sqlite_store *s, struct job *list)
{
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

/* A checkpoint copies the WAL into the database and costs two syncs, so
 * it waits until no commit is waiting for its sync, unless the WAL has grown
 * far beyond CHECKPOINT_FRAMES under sustained load. Called with s->lock. */
static int checkpoint_due(const struct sqlite_store *s)
{
	return s->wal_frames >= CHECKPOINT_FRAMES &&
	       (s->written == NULL || s->wal_frames >= 16 * CHECKPOINT_FRAMES);
}

static void *syncer_main(void *arg)
{
	struct sqlite_store *s = arg;

	for (;;) {
		struct job *list;
		int checkpoint, ok = 1;

		pthread_mutex_lock(&s->lock);
		while (s->written == NULL && !checkpoint_due(s) && !s->stop)
			pthread_cond_wait(&s->wake, &s->lock);
		list = s->written;
		s->written = NULL;
		s->written_tail = &s->written;
		checkpoint = list == NULL && checkpoint_due(s);
		if (checkpoint)
			s->wal_frames = 0;
		pthread_mutex_unlock(&s->lock);
		if (list == NULL && !checkpoint)
			break;
		if (list != NULL && fdatasync(s->wal_fd) < 0) {
			log_err("store: cannot sync the write-ahead log: %s", strerror(errno));
			ok = 0;
		}
		if (list != NULL) {
			for (struct job *j = list; j != NULL; j = j->next)
				j->ok = ok;
			pthread_mutex_lock(&s->lock);
			append_jobs(&s->done_tail, list);
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
	struct job *list;

	pthread_mutex_lock(&s->lock);
	list = s->done;
	s->done = NULL;
	s->done_tail = &s->done;
	pthread_mutex_unlock(&s->lock);
	run_callbacks(s, list);
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
	struct job *batch = s->pending;
	int ok;

	if (batch == NULL)
		return;
	s->pending = NULL;
	s->pending_tail = &s->pending;
	ok = commit_batch(s, batch);
	if (!ok || s->wal_fd < 0) {
		for (struct job *j = batch; j != NULL; j = j->next)
			j->ok = ok;
		run_callbacks(s, batch);
		return;
	}
	pthread_mutex_lock(&s->lock);
	append_jobs(&s->written_tail, batch);
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
	*s->pending_tail = j;
	s->pending_tail = &j->next;
	event_active(s->commit_event, EV_TIMEOUT, 0);
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

	if (sqlite3_prepare_v2(s->db, sql, -1, &q, NULL) == SQLITE_OK) {
		sqlite3_bind_text(q, 1, f->to, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 2, f->from, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 3, f->subject, -1, SQLITE_STATIC);
		sqlite3_bind_int64(q, 4, f->limit);
		while (sqlite3_step(q) == SQLITE_ROW)
			json_array_append_new(list, summary_json(q));
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
	if (sqlite3_prepare_v2(s->db, "SELECT " SUMMARY_COLUMNS " FROM messages WHERE seq=?", -1,
	                       &q, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(q, 1, (sqlite3_int64)seq);
		if (sqlite3_step(q) == SQLITE_ROW)
			found = summary_json(q);
		sqlite3_finalize(q);
	}
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
	if (sqlite3_prepare_v2(s->db, "SELECT raw FROM messages WHERE seq=?", -1, &q, NULL) ==
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
	return rc;
}

static long sqlite_delete_all(struct store *st)
{
	struct sqlite_store *s = (struct sqlite_store *)st;
	long n = -1;

	if (exec_sql(s->db, "BEGIN IMMEDIATE") == 0 &&
	    exec_sql(s->db, "DELETE FROM messages") == 0) {
		n = sqlite3_changes(s->db);
		if (exec_sql(s->db, "COMMIT") < 0)
			n = -1;
	}
	if (n < 0)
		exec_sql(s->db, "ROLLBACK");
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

static void sqlite_close(struct store *st)
{
	struct sqlite_store *s = (struct sqlite_store *)st;

	commit_pending(s);
	if (s->wal_fd >= 0)
		stop_syncer(s);
	take_results(s);
	sqlite3_finalize(s->insert_message);
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
	     exec_sql(s->db, "PRAGMA page_size=16384; PRAGMA journal_mode=WAL") < 0) ||
	    exec_sql(s->db, s->memory ? "PRAGMA synchronous=OFF" : "PRAGMA synchronous=NORMAL") <
	        0 ||
	    exec_sql(s->db, schema) < 0 ||
	    sqlite3_prepare_v2(s->db,
	                       "INSERT INTO messages(seq, received, client_ip, connection, user,"
	                       " mail_from, recipients, message_id, subject, size, state, raw)"
	                       " VALUES(?,?,?,?,?,?,?,?,?,?,'queued',?)",
	                       -1, &s->insert_message, NULL) != SQLITE_OK) {
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
	sqlite3_finalize(s->insert_message);
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
	struct sqlite_store *s = calloc(1, sizeof *s);

	if (s == NULL)
		return NULL;
	s->base.ops = &sqlite_ops;
	s->memory = strcmp(path, ":memory:") == 0;
	s->wal_fd = -1;
	s->notify[0] = s->notify[1] = -1;
	s->pending_tail = &s->pending;
	s->written_tail = &s->written;
	s->done_tail = &s->done;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->wake, NULL);
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
