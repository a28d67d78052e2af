/*
 * test_store.c - the SQLite store's group commit (sim/core/store_sqlite.c),
 * against real database files in a temporary directory and in memory.
 *
 * The store is driven as the server drives it: one libevent loop. A round
 * of the loop writes every submission made before it in one transaction;
 * the syncer thread syncs the WAL and hands the results back through the
 * loop, which runs each done callback. One round alone is run with
 * EVLOOP_ONCE | EVLOOP_NONBLOCK; a second, read-only SQLite connection
 * shows what a transaction has written.
 */
#include <CUnit/CUnit.h>
#include <event2/event.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "store.h"
#include "unit.h"

#define MAXN 64

/* What the done callbacks saw, in the order they ran. */
struct done_log {
	struct event_base *base;
	size_t n, want;
	int index[MAXN]; /* which submission each callback was for */
	int ok[MAXN];
	uint64_t seq[MAXN];
	int calls[MAXN]; /* callbacks per submission */
	char subject[MAXN][32];
};
struct done_slot {
	struct done_log *log;
	int index;
};

static void on_done(void *arg, int ok, const struct store_message *m)
{
	struct done_slot *slot = arg;
	struct done_log *l = slot->log;

	if (l->n < MAXN) {
		l->index[l->n] = slot->index;
		l->ok[l->n] = ok;
		l->seq[l->n] = m->seq;
		snprintf(l->subject[l->n], sizeof l->subject[0], "%s", m->subject);
	}
	l->calls[slot->index]++;
	if (++l->n == l->want)
		event_base_loopbreak(l->base);
}

static void on_guard(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	event_base_loopbreak(arg);
}

/* Runs the loop until `want` callbacks in all have run (10 s at most). */
static void run_until(struct done_log *l, size_t want)
{
	struct timeval ten = {10, 0};
	struct event *guard = evtimer_new(l->base, on_guard, l->base);

	l->want = want;
	evtimer_add(guard, &ten);
	while (l->n < want && event_base_loop(l->base, 0) == 0 && evtimer_pending(guard, NULL))
		;
	event_free(guard);
	CU_ASSERT_EQUAL(l->n, want);
}

/* One round of the loop: the events active now, without waiting. */
static void run_one_round(struct event_base *base)
{
	event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
}

static char *dup_text(const char *s)
{
	char *d = strdup(s);

	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	return d;
}

/* A small message i, with a new id from the store. */
static struct store_message *new_message(struct store *st, int i)
{
	struct store_message *m = calloc(1, sizeof *m);
	char text[128];

	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	m->received = clock_wall();
	snprintf(m->client_ip, sizeof m->client_ip, "127.0.0.1");
	m->connection = 1;
	m->mail_from = dup_text("a@example.com");
	m->rcpts = calloc(1, sizeof *m->rcpts);
	CU_ASSERT_PTR_NOT_NULL_FATAL(m->rcpts);
	m->rcpts[0].address = dup_text("b@example.net");
	m->nrcpt = 1;
	snprintf(text, sizeof text, "<batch-%d@example.com>", i);
	m->message_id = dup_text(text);
	snprintf(text, sizeof text, "batch-%d", i);
	m->subject = dup_text(text);
	snprintf(text, sizeof text, "Subject: batch-%d\r\n\r\nbody of message %d\r\n", i, i);
	m->raw = dup_text(text);
	m->raw_len = strlen(text);
	store_assign_id(st, m);
	return m;
}

/* Submits messages first..first+n-1; slots[i] is message i's callback argument. */
static void submit_range(struct store *st, struct done_log *l, struct done_slot *slots, int first,
                         int n)
{
	for (int i = first; i < first + n; i++) {
		slots[i].log = l;
		slots[i].index = i;
		CU_ASSERT_EQUAL(store_submit(st, new_message(st, i), on_done, &slots[i]), 0);
	}
}

/* ---- a temporary directory -------------------------------------------------------- */

struct tmp {
	char dir[64];
	char db[128];
};

static void tmp_make(struct tmp *t)
{
	strcpy(t->dir, "/tmp/edsim-store-XXXXXX");
	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(t->dir));
	snprintf(t->db, sizeof t->db, "%s/edsim.db", t->dir);
}

static void tmp_remove(struct tmp *t)
{
	static const char *const suffixes[] = {"", "-wal", "-shm", "-journal"};
	char path[160];

	for (size_t i = 0; i < UNIT_COUNT(suffixes); i++) {
		snprintf(path, sizeof path, "%s%s", t->db, suffixes[i]);
		unlink(path);
	}
	chmod(t->dir, 0700);
	CU_ASSERT_EQUAL(rmdir(t->dir), 0);
}

/* The rows of table messages as another connection sees them (what has been
 * committed), or -1. */
static int committed_rows(const char *db)
{
	sqlite3 *c = NULL;
	sqlite3_stmt *q = NULL;
	int n = -1;

	if (sqlite3_open_v2(db, &c, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(c, "SELECT count(*) FROM messages", -1, &q, NULL) == SQLITE_OK &&
	    sqlite3_step(q) == SQLITE_ROW)
		n = sqlite3_column_int(q, 0);
	sqlite3_finalize(q);
	sqlite3_close(c);
	return n;
}

static struct store *open_store(struct event_base *base, const char *path)
{
	char err[256] = "";
	struct store *st = store_sqlite_open(base, path, err, sizeof err);

	if (st == NULL)
		fprintf(stderr, "store_sqlite_open(%s): %s\n", path, err);
	return st;
}

static size_t list_count(struct store *st)
{
	struct store_filter all = {.limit = 1000};
	json_t *list = store_list(st, &all);
	size_t n = json_array_size(list);

	json_decref(list);
	return n;
}

static void count_pending(void *arg, const struct store_pending *p)
{
	(void)p;
	(*(int *)arg)++;
}

/* Every callback ran once, with ok = want_ok, in the order of submission,
 * and the ids increase in that order. */
static void assert_in_order(const struct done_log *l, int n, int want_ok)
{
	CU_ASSERT_EQUAL_FATAL(l->n, (size_t)n);
	for (int i = 0; i < n; i++) {
		CU_ASSERT_EQUAL(l->index[i], i);
		CU_ASSERT_EQUAL(l->ok[i], want_ok);
		CU_ASSERT_EQUAL(l->calls[i], 1);
		if (i > 0)
			CU_ASSERT_TRUE(l->seq[i] > l->seq[i - 1]);
	}
}

/* ---- the group commit on a file ----------------------------------------------------- */

static void test_batch_committed_and_reopened(void)
{
	enum { N = 40 };
	struct done_log l = {0};
	struct done_slot slots[N];
	struct tmp t;
	struct store *st;
	unsigned long long bytes;
	int pending = 0;

	tmp_make(&t);
	l.base = event_base_new();
	CU_ASSERT_PTR_NOT_NULL_FATAL(l.base);
	st = open_store(l.base, t.db);
	CU_ASSERT_PTR_NOT_NULL_FATAL(st);

	submit_range(st, &l, slots, 0, N);
	CU_ASSERT_EQUAL(committed_rows(t.db), 0); /* nothing is written before the round ends */
	run_one_round(l.base);
	/* one round wrote all N in one transaction; none is acknowledged before its sync */
	CU_ASSERT_EQUAL(committed_rows(t.db), N);
	CU_ASSERT_EQUAL(l.n, 0);
	run_until(&l, N);
	assert_in_order(&l, N, 1);
	CU_ASSERT_EQUAL(list_count(st), N);
	bytes = store_bytes_used(st);
	CU_ASSERT_TRUE(bytes > 0);

	/* no callback runs twice: more rounds, a drain and the close add none */
	run_one_round(l.base);
	store_drain(st);
	store_close(st);
	CU_ASSERT_EQUAL(l.n, N);
	for (int i = 0; i < N; i++)
		CU_ASSERT_EQUAL(l.calls[i], 1);

	/* reopened: every message, its envelope and its text */
	st = open_store(l.base, t.db);
	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	CU_ASSERT_EQUAL(list_count(st), N);
	CU_ASSERT_EQUAL(store_bytes_used(st), bytes);
	CU_ASSERT_TRUE(st->last_seq >= l.seq[N - 1]);
	for (int i = 0; i < N; i++) {
		char id[STORE_ID_MAX], want[128], *raw = NULL;
		size_t len = 0;
		json_t *m;

		store_format_id(st, l.seq[i], id);
		m = store_get(st, id);
		CU_ASSERT_PTR_NOT_NULL(m);
		snprintf(want, sizeof want, "batch-%d", i);
		CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(m, "subject")), want);
		CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(m, "from")),
		                       "a@example.com");
		CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(m, "state")), "queued");
		json_decref(m);
		CU_ASSERT_EQUAL(store_raw(st, id, &raw, &len), 0);
		snprintf(want, sizeof want, "Subject: batch-%d\r\n\r\nbody of message %d\r\n", i,
		         i);
		CU_ASSERT_EQUAL(len, strlen(want));
		CU_ASSERT_PTR_NOT_NULL(raw);
		if (raw != NULL)
			CU_ASSERT_STRING_EQUAL(raw, want);
		free(raw);
	}
	/* queued for the relay: each has an unfinished delivery record */
	CU_ASSERT_EQUAL(store_load_pending(st, count_pending, &pending), N);
	CU_ASSERT_EQUAL(pending, N);
	store_close(st);
	event_base_free(l.base);
	tmp_remove(&t);
}

/* A message submitted after its predecessor's batch was written, while that
 * batch is not yet acknowledged (its sync may still be running), goes into
 * the next transaction, and its callback runs after the first one's. */
static void test_submitted_during_sync_goes_to_next_batch(void)
{
	struct done_log l = {0};
	struct done_slot slots[6];
	struct tmp t;
	struct store *st;

	tmp_make(&t);
	l.base = event_base_new();
	CU_ASSERT_PTR_NOT_NULL_FATAL(l.base);
	st = open_store(l.base, t.db);
	CU_ASSERT_PTR_NOT_NULL_FATAL(st);

	submit_range(st, &l, slots, 0, 3);
	run_one_round(l.base); /* batch 1: messages 0-2 written, handed to the syncer */
	CU_ASSERT_EQUAL(committed_rows(t.db), 3);
	CU_ASSERT_EQUAL(l.n, 0); /* in flight */
	submit_range(st, &l, slots, 3, 3);
	CU_ASSERT_EQUAL(committed_rows(t.db), 3); /* 3-5 are not in batch 1 */
	run_until(&l, 6);
	assert_in_order(&l, 6, 1);
	CU_ASSERT_EQUAL(committed_rows(t.db), 6);
	store_close(st);
	event_base_free(l.base);
	tmp_remove(&t);
}

/* At shutdown, drain commits what is pending and runs the callbacks itself,
 * without the loop. */
static void test_drain_without_loop(void)
{
	enum { N = 10 };
	struct done_log l = {0};
	struct done_slot slots[N];
	struct tmp t;
	struct store *st;

	tmp_make(&t);
	l.base = event_base_new();
	CU_ASSERT_PTR_NOT_NULL_FATAL(l.base);
	st = open_store(l.base, t.db);
	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	l.want = N + 1; /* no loopbreak: no loop runs */
	submit_range(st, &l, slots, 0, N);
	store_drain(st);
	assert_in_order(&l, N, 1);
	CU_ASSERT_EQUAL(committed_rows(t.db), N);
	store_close(st);
	CU_ASSERT_EQUAL(l.n, N);
	event_base_free(l.base);
	tmp_remove(&t);
}

/* ---- in memory ------------------------------------------------------------------------ */

static void test_memory_store(void)
{
	enum { N = 25 };
	struct done_log l = {0};
	struct done_slot slots[N];
	struct store *st;

	l.base = event_base_new();
	CU_ASSERT_PTR_NOT_NULL_FATAL(l.base);
	st = open_store(l.base, ":memory:");
	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	submit_range(st, &l, slots, 0, N);
	CU_ASSERT_EQUAL(l.n, 0);
	/* nothing to sync: the callbacks run in the round that commits */
	l.want = N + 1;
	run_one_round(l.base);
	assert_in_order(&l, N, 1);
	CU_ASSERT_EQUAL(list_count(st), N);
	store_close(st);
	CU_ASSERT_EQUAL(l.n, N);
	event_base_free(l.base);
}

/* ---- failures -------------------------------------------------------------------------- */

/* A batch whose transaction fails (here: two messages with the same id)
 * fails as a whole: every callback of it runs once with ok=0, nothing of it
 * is stored, its bytes are given back; the next batch commits. */
static void test_failed_batch(void)
{
	struct done_log l = {0};
	struct done_slot slots[4];
	struct tmp t;
	struct store *st;
	struct store_message *m[3];

	tmp_make(&t);
	l.base = event_base_new();
	CU_ASSERT_PTR_NOT_NULL_FATAL(l.base);
	st = open_store(l.base, t.db);
	CU_ASSERT_PTR_NOT_NULL_FATAL(st);

	m[0] = new_message(st, 0);
	m[1] = new_message(st, 1);
	m[2] = new_message(st, 2);
	m[2]->seq = m[1]->seq; /* message 2 takes message 1's id */
	memcpy(m[2]->id, m[1]->id, sizeof m[2]->id);
	for (int i = 0; i < 3; i++) {
		slots[i].log = &l;
		slots[i].index = i;
		CU_ASSERT_EQUAL(store_submit(st, m[i], on_done, &slots[i]), 0);
	}
	CU_ASSERT_EQUAL(store_bytes_used(st), m[0]->raw_len + m[1]->raw_len + m[2]->raw_len);
	l.want = 4; /* the failure is reported in the commit round itself */
	run_one_round(l.base);
	CU_ASSERT_EQUAL_FATAL(l.n, 3);
	for (int i = 0; i < 3; i++) {
		CU_ASSERT_EQUAL(l.index[i], i);
		CU_ASSERT_EQUAL(l.ok[i], 0);
	}
	CU_ASSERT_EQUAL(committed_rows(t.db), 0);
	CU_ASSERT_EQUAL(store_bytes_used(st), 0);
	CU_ASSERT_EQUAL(list_count(st), 0);

	submit_range(st, &l, slots, 3, 1);
	run_until(&l, 4);
	CU_ASSERT_EQUAL(l.index[3], 3);
	CU_ASSERT_EQUAL(l.ok[3], 1);
	CU_ASSERT_EQUAL(list_count(st), 1);
	for (int i = 0; i < 4; i++)
		CU_ASSERT_EQUAL(l.calls[i], 1);
	store_close(st);
	event_base_free(l.base);
	tmp_remove(&t);
}

/* Opening where no database can be: NULL and an error that names the path,
 * never a crash (and, under ASan, nothing leaked). */
static void assert_open_fails(struct event_base *base, const char *path, const char *why)
{
	char err[512] = "";
	char prefix[300];
	struct store *st = store_sqlite_open(base, path, err, sizeof err);

	CU_ASSERT_PTR_NULL(st);
	if (st != NULL) {
		store_close(st);
		return;
	}
	snprintf(prefix, sizeof prefix, "store %s: ", path);
	CU_ASSERT_EQUAL(strncmp(err, prefix, strlen(prefix)), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, why));
}

static void test_open_failures(void)
{
	struct event_base *base = event_base_new();
	struct tmp t;
	char path[200];
	int fd;

	CU_ASSERT_PTR_NOT_NULL_FATAL(base);
	tmp_make(&t);
	/* a directory that does not exist */
	snprintf(path, sizeof path, "%s/missing/edsim.db", t.dir);
	assert_open_fails(base, path, "unable to open database file");
	/* a directory in place of the file */
	assert_open_fails(base, t.dir, "unable to open database file");
	/* a file that is not a database */
	fd = open(t.db, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CU_ASSERT_TRUE_FATAL(fd >= 0);
	CU_ASSERT_EQUAL(write(fd, "this is not SQLite, just text\n", 30), 30);
	for (int i = 0; i < 200; i++)
		CU_ASSERT_EQUAL(write(fd, "0123456789abcdef", 16), 16);
	close(fd);
	assert_open_fails(base, t.db, "file is not a database");
	unlink(t.db);
	/* a read-only directory (root writes anyway: only checked for others) */
	if (geteuid() != 0) {
		CU_ASSERT_EQUAL(chmod(t.dir, 0500), 0);
		assert_open_fails(base, t.db, "unable to open database file");
	}
	tmp_remove(&t);
	event_base_free(base);
}

int register_store_tests(void)
{
	static const struct unit_test tests[] = {
	    {"N submissions: one transaction, each callback once, ok, in order; all there after "
	     "reopening",
	     test_batch_committed_and_reopened},
	    {"a submission while a batch is in flight goes to the next batch",
	     test_submitted_during_sync_goes_to_next_batch},
	    {"drain commits and acknowledges without the loop", test_drain_without_loop},
	    {":memory: acknowledges in the commit round", test_memory_store},
	    {"a failed transaction fails its whole batch once; the next commits",
	     test_failed_batch},
	    {"open: no directory, a directory, not a database, read-only: NULL and an error",
	     test_open_failures},
	};

	return unit_add_suite("store", tests, UNIT_COUNT(tests));
}
