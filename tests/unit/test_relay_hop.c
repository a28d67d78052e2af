/*
 * test_relay_hop.c - the hop layer (sim/relay/relay_hop.c) on its own,
 * through its callback table, without the queue above it.
 *
 * A tiny SMTP sink listens on 127.0.0.1 (a free port) in the test's own
 * event loop: it greets, accepts MAIL, refuses any recipient whose address
 * starts with "refused", takes the data and counts connections and
 * messages. The hop layer runs in smarthost mode against it; each test
 * runs the loop until the jobs come back, bounded by a guard timer.
 */
#include <CUnit/CUnit.h>
#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config.h"
#include "relay_hop.h"
#include "unit.h"

/* ---- the sink ---------------------------------------------------------------- */

struct sink {
	struct evconnlistener *listener;
	int port;
	int connections, messages;
};

struct sink_conn {
	struct sink *s;
	int in_data, quitting;
};

static void sink_reply(struct bufferevent *bev, const char *line)
{
	evbuffer_add_printf(bufferevent_get_output(bev), "%s\r\n", line);
}

static void sink_event(struct bufferevent *bev, short what, void *arg)
{
	(void)what;
	free(arg);
	bufferevent_free(bev);
}

static void sink_written(struct bufferevent *bev, void *arg)
{
	struct sink_conn *sc = arg;

	if (sc->quitting)
		sink_event(bev, 0, sc);
}

static void sink_read(struct bufferevent *bev, void *arg)
{
	struct sink_conn *sc = arg;
	char *line;

	while (!sc->quitting && (line = evbuffer_readln(bufferevent_get_input(bev), NULL,
	                                                EVBUFFER_EOL_CRLF)) != NULL) {
		if (sc->in_data) {
			if (strcmp(line, ".") == 0) {
				sc->in_data = 0;
				sc->s->messages++;
				sink_reply(bev, "250 2.0.0 queued");
			}
		} else if (strncmp(line, "EHLO", 4) == 0 || strncmp(line, "HELO", 4) == 0) {
			sink_reply(bev, "250 sink");
		} else if (strncmp(line, "MAIL", 4) == 0 || strncmp(line, "RSET", 4) == 0) {
			sink_reply(bev, "250 2.1.0 ok");
		} else if (strncmp(line, "RCPT TO:<refused", 16) == 0) {
			sink_reply(bev, "550 5.1.1 no such user");
		} else if (strncmp(line, "RCPT", 4) == 0) {
			sink_reply(bev, "250 2.1.5 ok");
		} else if (strcmp(line, "DATA") == 0) {
			sc->in_data = 1;
			sink_reply(bev, "354 go ahead");
		} else if (strcmp(line, "QUIT") == 0) {
			sc->quitting = 1;
			sink_reply(bev, "221 bye");
		} else {
			sink_reply(bev, "502 5.5.2 what");
		}
		free(line);
	}
}

static void sink_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                        int salen, void *arg)
{
	struct sink_conn *sc = calloc(1, sizeof *sc);
	struct bufferevent *bev =
	    bufferevent_socket_new(evconnlistener_get_base(l), fd, BEV_OPT_CLOSE_ON_FREE);

	(void)sa;
	(void)salen;
	sc->s = arg;
	sc->s->connections++;
	bufferevent_setcb(bev, sink_read, sink_written, sink_event, sc);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	sink_reply(bev, "220 sink ESMTP");
}

static int sink_start(struct event_base *base, struct sink *s)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	socklen_t len = sizeof sin;

	memset(s, 0, sizeof *s);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	s->listener =
	    evconnlistener_new_bind(base, sink_accept, s, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE,
	                            16, (struct sockaddr *)&sin, sizeof sin);
	if (s->listener == NULL ||
	    getsockname(evconnlistener_get_fd(s->listener), (struct sockaddr *)&sin, &len) < 0)
		return -1;
	s->port = ntohs(sin.sin_port);
	return 0;
}

/* A port nothing listens on: bound, then closed. */
static int closed_port(void)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	socklen_t len = sizeof sin;
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = 0;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && bind(fd, (struct sockaddr *)&sin, sizeof sin) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sin, &len) == 0)
		port = ntohs(sin.sin_port);
	close(fd);
	return port;
}

/* ---- the owner: what the callbacks saw ---------------------------------------- */

#define MAX_SEEN 8

struct owner {
	struct event_base *base;
	int load_fails;
	int loads, sendings, finishes, drops;
	int expect; /* finishes to wait for */
	struct job *finished[MAX_SEEN];
	struct hop_reply final[MAX_SEEN];
	char destination[MAX_SEEN][400];
};

static const char TEXT[] = "Subject: hop test\r\n\r\nhello\r\n";

static int owner_load(void *arg, struct job *j)
{
	struct owner *o = arg;

	o->loads++;
	if (o->load_fails)
		return -1;
	j->raw = TEXT;
	j->raw_len = sizeof TEXT - 1;
	return 0;
}

static void owner_sending(void *arg, struct job *j)
{
	(void)j;
	((struct owner *)arg)->sendings++;
}

static void owner_finished(void *arg, struct job *j, const char *destination,
                           const struct hop_reply *final)
{
	struct owner *o = arg;

	if (o->finishes < MAX_SEEN) {
		o->finished[o->finishes] = j;
		o->final[o->finishes] = *final;
		snprintf(o->destination[o->finishes], sizeof o->destination[0], "%s", destination);
	}
	if (++o->finishes == o->expect)
		event_base_loopexit(o->base, NULL);
}

static void owner_dropped(void *arg, struct job *j)
{
	(void)j;
	((struct owner *)arg)->drops++;
}

static const struct hop_ops ops = {owner_load, owner_sending, owner_finished, owner_dropped};

static void smarthost_config(struct config *cfg, int port)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->hostname = (char *)"edsim.test";
	cfg->relay.mode = RELAY_SMARTHOST;
	cfg->relay.host = (char *)"127.0.0.1";
	cfg->relay.port = (unsigned long long)port;
	cfg->relay.tls = RELAY_TLS_NONE;
	cfg->relay.connections = 1;
	cfg->relay.timeout = 5;
	cfg->relay.idle = 5;
}

static void make_job(struct job *j, const char *const *rcpts, size_t n, struct hop_reply *replies)
{
	memset(j, 0, sizeof *j);
	memset(replies, 0, n * sizeof *replies);
	j->mail_from = "sender@example.com";
	j->rcpts = rcpts;
	j->nrcpt = n;
	j->replies = replies;
}

/* Runs the loop until the owner has its finishes, at most 10 seconds. */
static void run(struct owner *o)
{
	struct timeval guard = {10, 0};

	event_base_loopexit(o->base, &guard);
	event_base_dispatch(o->base);
}

/* Lets the sink see its connections close (and free them). */
static void drain(struct event_base *base)
{
	struct timeval t = {0, 100 * 1000};

	event_base_loopexit(base, &t);
	event_base_dispatch(base);
}

/* ---- the tests ------------------------------------------------------------------ */

/* Two jobs for one destination go over one connection (relay.connections is
 * 1), in order: load, sending, finished with each recipient's reply. */
static void test_hop_delivers(void)
{
	struct event_base *base = event_base_new();
	struct sink s;
	struct config cfg;
	struct owner o = {.base = base, .expect = 2};
	static const char *const rcpts[] = {"a@example.com", "refused@example.com"};
	static const char *const rcpt1[] = {"b@example.org"};
	struct hop_reply r0[2], r1[1];
	struct job j0, j1;
	struct hop *h;
	struct hop_dest *d;
	size_t conns, jobs;
	char err[256] = "";

	CU_ASSERT_FATAL(sink_start(base, &s) == 0);
	smarthost_config(&cfg, s.port);
	h = hop_new(base, &cfg, &ops, &o, err, sizeof err);
	CU_ASSERT_FATAL(h != NULL);
	d = hop_dest_for(h, rcpts[0]);
	CU_ASSERT_PTR_EQUAL(hop_dest_for(h, rcpt1[0]), d); /* one smarthost for every domain */
	CU_ASSERT_STRING_EQUAL(hop_dest_name(d), "smarthost");
	make_job(&j0, rcpts, 2, r0);
	make_job(&j1, rcpt1, 1, r1);
	hop_enqueue(d, &j0);
	hop_enqueue(d, &j1);
	hop_count(h, &conns, &jobs);
	CU_ASSERT_EQUAL(conns, 0);
	CU_ASSERT_EQUAL(jobs, 2);
	hop_pump(d);
	CU_ASSERT_EQUAL(o.finishes, 0); /* nothing comes back from inside hop_pump() here */
	run(&o);

	CU_ASSERT_EQUAL(o.finishes, 2);
	CU_ASSERT_EQUAL(o.loads, 2);
	CU_ASSERT_EQUAL(o.sendings, 2);
	CU_ASSERT_EQUAL(o.drops, 0);
	CU_ASSERT_PTR_EQUAL(o.finished[0], &j0);
	CU_ASSERT_PTR_EQUAL(o.finished[1], &j1);
	CU_ASSERT_EQUAL(o.final[0].code, 250);
	CU_ASSERT_EQUAL(o.final[1].code, 250);
	CU_ASSERT_EQUAL(r0[0].code, 250);
	CU_ASSERT_EQUAL(r0[1].code, 550);
	CU_ASSERT_EQUAL(r1[0].code, 250);
	CU_ASSERT_PTR_NOT_NULL(strstr(o.destination[0], "127.0.0.1"));
	CU_ASSERT_EQUAL(s.connections, 1);
	CU_ASSERT_EQUAL(s.messages, 2);
	hop_count(h, &conns, &jobs);
	CU_ASSERT_EQUAL(conns, 1); /* idle, kept for the next job */
	CU_ASSERT_EQUAL(jobs, 0);
	hop_free(h);
	drain(base);
	evconnlistener_free(s.listener);
	event_base_free(base);
}

/* When the owner cannot give the text, the job finishes without a code and
 * is never sent. */
static void test_hop_load_fails(void)
{
	struct event_base *base = event_base_new();
	struct sink s;
	struct config cfg;
	struct owner o = {.base = base, .expect = 1, .load_fails = 1};
	static const char *const rcpts[] = {"a@example.com"};
	struct hop_reply r[1];
	struct job j;
	struct hop *h;
	char err[256] = "";

	CU_ASSERT_FATAL(sink_start(base, &s) == 0);
	smarthost_config(&cfg, s.port);
	h = hop_new(base, &cfg, &ops, &o, err, sizeof err);
	CU_ASSERT_FATAL(h != NULL);
	make_job(&j, rcpts, 1, r);
	hop_enqueue(hop_dest_for(h, rcpts[0]), &j);
	hop_pump(hop_dest_for(h, rcpts[0]));
	run(&o);

	CU_ASSERT_EQUAL(o.finishes, 1);
	CU_ASSERT_EQUAL(o.loads, 1);
	CU_ASSERT_EQUAL(o.sendings, 0);
	CU_ASSERT_EQUAL(o.final[0].code, 0);
	CU_ASSERT_STRING_EQUAL(o.final[0].text, "cannot read the message from the store");
	CU_ASSERT_STRING_EQUAL(o.destination[0], "smarthost");
	CU_ASSERT_EQUAL(s.messages, 0);
	hop_free(h);
	drain(base);
	evconnlistener_free(s.listener);
	event_base_free(base);
}

/* A destination that refuses connections fails every job waiting at it. */
static void test_hop_unreachable(void)
{
	struct event_base *base = event_base_new();
	struct config cfg;
	struct owner o = {.base = base, .expect = 2};
	static const char *const rcpts[] = {"a@example.com"};
	struct hop_reply r0[1], r1[1];
	struct job j0, j1;
	struct hop *h;
	struct hop_dest *d;
	char err[256] = "";
	int port = closed_port();

	CU_ASSERT_FATAL(port > 0);
	smarthost_config(&cfg, port);
	h = hop_new(base, &cfg, &ops, &o, err, sizeof err);
	CU_ASSERT_FATAL(h != NULL);
	d = hop_dest_for(h, rcpts[0]);
	make_job(&j0, rcpts, 1, r0);
	make_job(&j1, rcpts, 1, r1);
	hop_enqueue(d, &j0);
	hop_enqueue(d, &j1);
	hop_pump(d);
	if (o.finishes < 2)
		run(&o);

	CU_ASSERT_EQUAL(o.finishes, 2);
	CU_ASSERT_EQUAL(o.loads, 0);
	CU_ASSERT_EQUAL(o.sendings, 0);
	CU_ASSERT_EQUAL(o.final[0].code, 0);
	CU_ASSERT_EQUAL(o.final[0].permanent, 0);
	CU_ASSERT_EQUAL(r0[0].code, 0);
	hop_free(h);
	event_base_free(base);
}

/* Jobs still waiting go back through dropped(), never finished(). */
static void test_hop_drops(void)
{
	struct event_base *base = event_base_new();
	struct config cfg;
	struct owner o = {.base = base};
	static const char *const rcpts[] = {"a@example.com"};
	struct hop_reply r0[1], r1[1];
	struct job j0, j1;
	struct hop *h;
	size_t conns, jobs;
	char err[256] = "";

	smarthost_config(&cfg, closed_port());
	h = hop_new(base, &cfg, &ops, &o, err, sizeof err);
	CU_ASSERT_FATAL(h != NULL);
	make_job(&j0, rcpts, 1, r0);
	make_job(&j1, rcpts, 1, r1);
	hop_enqueue(hop_dest_for(h, rcpts[0]), &j0);
	hop_forget_all(h);
	CU_ASSERT_EQUAL(o.drops, 1);
	hop_count(h, &conns, &jobs);
	CU_ASSERT_EQUAL(conns, 0);
	CU_ASSERT_EQUAL(jobs, 0);
	hop_enqueue(hop_dest_for(h, rcpts[0]), &j1); /* still usable */
	hop_free(h);
	CU_ASSERT_EQUAL(o.drops, 2);
	CU_ASSERT_EQUAL(o.finishes, 0);
	event_base_free(base);
}

int register_relay_hop_tests(void)
{
	static const struct unit_test tests[] = {
	    {"hop: two jobs over one connection, replies per recipient", test_hop_delivers},
	    {"hop: the owner cannot load the text", test_hop_load_fails},
	    {"hop: an unreachable destination fails its jobs", test_hop_unreachable},
	    {"hop: forget and free drop the waiting jobs", test_hop_drops},
	};

	return unit_add_suite("relay hop layer", tests, UNIT_COUNT(tests));
}
