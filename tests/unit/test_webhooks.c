/*
 * test_webhooks.c - event posting to HTTP receivers (sim/webhooks.c).
 *
 * Each test runs a real receiver: libevent's evhttp bound to 127.0.0.1 port
 * 0 in the same event_base as the webhooks instance. The loop runs until the
 * receiver has seen the requests a test waits for, or a deadline passes (a
 * timer of the test's own that breaks the loop, so no exit request is left
 * pending for the next run). The retry test takes about 3 s. libcurl is
 * loaded at run time (sim/curl_lazy.c); its own tests are at the end.
 */
#include <CUnit/CUnit.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "curl_lazy.h"
#include "unit.h"
#include "util.h"
#include "webhooks.h"

#define MAX_REQUESTS 32
#define CONCURRENCY  4 /* WEBHOOK_CONCURRENCY in sim/webhooks.c */

struct received {
	double at; /* monotonic seconds */
	char path[64];
	char event[64];
	char delivery[64];
	char timestamp[32];
	char signature[128];
	char content_type[64];
	char *body;
};

struct receiver {
	struct event_base *base;
	struct evhttp *http;
	int port;
	int fail_first; /* answer 500 to this many requests, then 200 */
	int hold;       /* keep requests unanswered (a slow receiver) */
	struct evhttp_request *held[MAX_REQUESTS];
	int nheld;
	struct received got[MAX_REQUESTS];
	int n;    /* requests seen */
	int want; /* break the loop when n reaches it (0: never) */
};

static double now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void copy_header(struct evkeyvalq *headers, const char *name, char *out, size_t outlen)
{
	const char *v = evhttp_find_header(headers, name);

	snprintf(out, outlen, "%s", v != NULL ? v : "");
}

static void record(struct received *g, struct evhttp_request *req)
{
	struct evkeyvalq *headers = evhttp_request_get_input_headers(req);
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);

	g->at = now_mono();
	snprintf(g->path, sizeof g->path, "%s", evhttp_request_get_uri(req));
	copy_header(headers, "X-Edsim-Event", g->event, sizeof g->event);
	copy_header(headers, "X-Edsim-Delivery", g->delivery, sizeof g->delivery);
	copy_header(headers, "X-Edsim-Timestamp", g->timestamp, sizeof g->timestamp);
	copy_header(headers, "X-Edsim-Signature", g->signature, sizeof g->signature);
	copy_header(headers, "Content-Type", g->content_type, sizeof g->content_type);
	g->body = malloc(len + 1);
	if (g->body == NULL)
		return;
	evbuffer_remove(in, g->body, len);
	g->body[len] = '\0';
}

static void on_request(struct evhttp_request *req, void *arg)
{
	struct receiver *r = arg;
	int i = r->n++;

	if (i < MAX_REQUESTS)
		record(&r->got[i], req);
	if (r->hold && r->nheld < MAX_REQUESTS)
		r->held[r->nheld++] = req;
	else if (i < r->fail_first)
		evhttp_send_reply(req, 500, "Internal Server Error", NULL);
	else
		evhttp_send_reply(req, 200, "OK", NULL);
	if (r->want > 0 && r->n >= r->want)
		event_base_loopbreak(r->base);
}

static int receiver_start(struct receiver *r)
{
	struct evhttp_bound_socket *bound;

	memset(r, 0, sizeof *r);
	r->base = event_base_new();
	if (r->base == NULL)
		return -1;
	r->http = evhttp_new(r->base);
	if (r->http == NULL)
		return -1;
	evhttp_set_gencb(r->http, on_request, r);
	bound = evhttp_bind_socket_with_handle(r->http, "127.0.0.1", 0);
	if (bound == NULL)
		return -1;
	r->port = bound_port(evhttp_bound_socket_get_fd(bound));
	return r->port > 0 ? 0 : -1;
}

static void receiver_stop(struct receiver *r)
{
	for (int i = 0; i < r->n && i < MAX_REQUESTS; i++)
		free(r->got[i].body);
	if (r->http != NULL)
		evhttp_free(r->http);
	if (r->base != NULL)
		event_base_free(r->base);
}

static void receiver_url(const struct receiver *r, const char *path, char *out, size_t outlen)
{
	snprintf(out, outlen, "http://127.0.0.1:%d%s", r->port, path);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	event_base_loopbreak(arg);
}

/* Runs the loop for at most seconds (less when the receiver breaks it). */
static void run_for(struct event_base *base, double seconds)
{
	struct event *deadline = evtimer_new(base, on_deadline, base);
	struct timeval tv = {(time_t)seconds, (suseconds_t)((seconds - (time_t)seconds) * 1e6)};

	CU_ASSERT_PTR_NOT_NULL_FATAL(deadline);
	evtimer_add(deadline, &tv);
	event_base_dispatch(base);
	event_free(deadline);
}

/* One counter of webhooks_stats(); -1 when missing. */
static long long stat_of(const struct webhooks *w, const char *name)
{
	char *text = webhooks_stats(w);
	json_t *doc = text != NULL ? json_loads(text, 0, NULL) : NULL;
	json_t *v = doc != NULL ? json_object_get(doc, name) : NULL;
	long long n = json_is_integer(v) ? (long long)json_integer_value(v) : -1;

	json_decref(doc);
	free(text);
	return n;
}

static void hmac_hex(const char *key, const char *data, size_t len, char *out, size_t outlen)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	size_t o = 0;

	HMAC(EVP_sha256(), key, (int)strlen(key), (const unsigned char *)data, len, mac, &maclen);
	for (unsigned int i = 0; i < maclen && o + 3 <= outlen; i++, o += 2)
		snprintf(out + o, outlen - o, "%02x", mac[i]);
}

static void post_text(struct webhooks *w, const char *type, const char *json)
{
	webhooks_post(w, type, json, strlen(json));
}

/* webhooks_new(), saying why when it fails. */
static struct webhooks *hooks_new(struct event_base *base, const struct config_webhook *cfg,
                                  size_t n)
{
	char err[512] = "";
	struct webhooks *w = webhooks_new(base, cfg, n, err, sizeof err);

	if (w == NULL && err[0] != '\0')
		fprintf(stderr, "webhooks_new: %s\n", err);
	return w;
}

/* ---- tests ------------------------------------------------------------------ */

static void test_event_arrives(void)
{
	static const char body[] = "{\"type\":\"delivered\",\"message\":\"m-1\","
	                           "\"note\":\"caf\xc3\xa9 \\\"quoted\\\"\\n\",\"n\":[1,2,3]}";
	struct receiver r;
	char url[128];
	struct config_webhook cfg = {url, NULL, 0, NULL};
	struct webhooks *w;
	long long stamp;

	CU_ASSERT_EQUAL_FATAL(receiver_start(&r), 0);
	receiver_url(&r, "/hook", url, sizeof url);
	w = hooks_new(r.base, &cfg, 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(w);
	post_text(w, "delivered", body);
	r.want = 1;
	run_for(r.base, 3.0);
	CU_ASSERT_EQUAL(r.n, 1);
	if (r.n >= 1) {
		CU_ASSERT_STRING_EQUAL(r.got[0].path, "/hook");
		CU_ASSERT_STRING_EQUAL(r.got[0].body, body);
		CU_ASSERT_STRING_EQUAL(r.got[0].event, "delivered");
		CU_ASSERT_STRING_EQUAL(r.got[0].content_type, "application/json");
		CU_ASSERT_EQUAL(strlen(r.got[0].delivery), 36);
		CU_ASSERT_STRING_EQUAL(r.got[0].signature, ""); /* no secret */
		stamp = atoll(r.got[0].timestamp);
		CU_ASSERT(llabs(stamp - (long long)time(NULL)) <= 5);
	}
	run_for(r.base, 0.2); /* let curl read the 200 */
	CU_ASSERT_EQUAL(stat_of(w, "sent"), 1);
	CU_ASSERT_EQUAL(stat_of(w, "failed_attempts"), 0);
	CU_ASSERT_EQUAL(stat_of(w, "pending"), 0);
	webhooks_free(w);
	receiver_stop(&r);
}

static void test_hmac_helper_vector(void)
{
	/* RFC 4231, test case 2: the test's own HMAC helper is right. */
	char hex[EVP_MAX_MD_SIZE * 2 + 1];

	hmac_hex("Jefe", "what do ya want for nothing?", 28, hex, sizeof hex);
	CU_ASSERT_STRING_EQUAL(hex,
	                       "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

static void test_signature(void)
{
	static const char body[] = "{\"type\":\"bounced\",\"recipient\":\"a@example.com\"}";
	char secret[] = "s3cr\xc3\xa9t-key";
	struct receiver r;
	char url[128], data[512], hex[EVP_MAX_MD_SIZE * 2 + 1], expected[160];
	struct config_webhook cfg = {url, NULL, 0, secret};
	struct webhooks *w;

	CU_ASSERT_EQUAL_FATAL(receiver_start(&r), 0);
	receiver_url(&r, "/signed", url, sizeof url);
	w = hooks_new(r.base, &cfg, 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(w);
	post_text(w, "bounced", body);
	r.want = 1;
	run_for(r.base, 3.0);
	CU_ASSERT_EQUAL_FATAL(r.n, 1);
	CU_ASSERT_STRING_EQUAL(r.got[0].body, body);
	CU_ASSERT_NOT_EQUAL(r.got[0].timestamp[0], '\0');
	snprintf(data, sizeof data, "%s.%s", r.got[0].timestamp, r.got[0].body);
	hmac_hex(secret, data, strlen(data), hex, sizeof hex);
	snprintf(expected, sizeof expected, "sha256=%s", hex);
	CU_ASSERT_STRING_EQUAL(r.got[0].signature, expected);
	/* and it depends on the timestamp */
	snprintf(data, sizeof data, "%lld.%s", atoll(r.got[0].timestamp) + 1, r.got[0].body);
	hmac_hex(secret, data, strlen(data), hex, sizeof hex);
	CU_ASSERT_STRING_NOT_EQUAL(r.got[0].signature + 7, hex);
	webhooks_free(w);
	receiver_stop(&r);
}

static void test_retries_with_backoff(void)
{
	static const char body[] = "{\"type\":\"delivered\",\"message\":\"retry-me\"}";
	char secret[] = "k";
	struct receiver r;
	char url[128];
	struct config_webhook cfg = {url, NULL, 0, secret};
	struct webhooks *w;
	double gap1, gap2;

	CU_ASSERT_EQUAL_FATAL(receiver_start(&r), 0);
	receiver_url(&r, "/flaky", url, sizeof url);
	r.fail_first = 2;
	w = hooks_new(r.base, &cfg, 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(w);
	post_text(w, "delivered", body);
	r.want = 3;
	run_for(r.base, 6.0);
	CU_ASSERT_EQUAL_FATAL(r.n, 3);
	run_for(r.base, 0.3); /* the 200 is read; no fourth attempt comes */
	CU_ASSERT_EQUAL(r.n, 3);
	for (int i = 1; i < 3; i++) {
		CU_ASSERT_STRING_EQUAL(r.got[i].delivery, r.got[0].delivery);
		CU_ASSERT_STRING_EQUAL(r.got[i].timestamp, r.got[0].timestamp);
		CU_ASSERT_STRING_EQUAL(r.got[i].signature, r.got[0].signature);
		CU_ASSERT_STRING_EQUAL(r.got[i].body, body);
	}
	gap1 = r.got[1].at - r.got[0].at;
	gap2 = r.got[2].at - r.got[1].at;
	CU_ASSERT(gap1 >= 0.95 && gap1 < 1.8);
	CU_ASSERT(gap2 >= 1.95 && gap2 < 3.0);
	CU_ASSERT(gap2 > gap1);
	CU_ASSERT_EQUAL(stat_of(w, "sent"), 1);
	CU_ASSERT_EQUAL(stat_of(w, "failed_attempts"), 2);
	CU_ASSERT_EQUAL(stat_of(w, "dropped"), 0);
	CU_ASSERT_EQUAL(stat_of(w, "pending"), 0);
	webhooks_free(w);
	receiver_stop(&r);
}

static void test_event_filter(void)
{
	char bounced[] = "bounced";
	char *only_bounced[] = {bounced};
	struct receiver r;
	char url_all[128], url_bounced[128];
	struct config_webhook cfg[2] = {{url_all, NULL, 0, NULL},
	                                {url_bounced, only_bounced, 1, NULL}};
	struct webhooks *w;
	int all = 0, filtered = 0, all_delivered = 0, all_bounced = 0;

	CU_ASSERT_EQUAL_FATAL(receiver_start(&r), 0);
	receiver_url(&r, "/all", url_all, sizeof url_all);
	receiver_url(&r, "/bounced", url_bounced, sizeof url_bounced);
	w = hooks_new(r.base, cfg, 2);
	CU_ASSERT_PTR_NOT_NULL_FATAL(w);
	post_text(w, "delivered", "{\"type\":\"delivered\"}");
	post_text(w, "bounced", "{\"type\":\"bounced\"}");
	r.want = 3;
	run_for(r.base, 3.0);
	r.want = 0;
	run_for(r.base, 0.3); /* nothing more arrives */
	CU_ASSERT_EQUAL_FATAL(r.n, 3);
	for (int i = 0; i < r.n; i++) {
		if (strcmp(r.got[i].path, "/all") == 0) {
			all++;
			all_delivered += strcmp(r.got[i].event, "delivered") == 0;
			all_bounced += strcmp(r.got[i].event, "bounced") == 0;
		} else if (strcmp(r.got[i].path, "/bounced") == 0) {
			filtered++;
			CU_ASSERT_STRING_EQUAL(r.got[i].event, "bounced");
			CU_ASSERT_STRING_EQUAL(r.got[i].body, "{\"type\":\"bounced\"}");
		}
	}
	CU_ASSERT_EQUAL(all, 2);
	CU_ASSERT_EQUAL(all_delivered, 1);
	CU_ASSERT_EQUAL(all_bounced, 1);
	CU_ASSERT_EQUAL(filtered, 1);
	webhooks_free(w);
	receiver_stop(&r);
}

/* A port where nothing listens: bound, never listening, so connects are refused. */
static int dead_port(int *fd)
{
	struct sockaddr_in sin;

	*fd = socket(AF_INET, SOCK_STREAM, 0);
	if (*fd < 0)
		return -1;
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(*fd, (struct sockaddr *)&sin, sizeof sin) < 0)
		return -1;
	return bound_port(*fd);
}

static void test_post_never_blocks(void)
{
	static const char body[] = "{\"type\":\"delivered\",\"message\":\"nobody-listens\"}";
	struct event_base *base = event_base_new();
	char url[128];
	struct config_webhook cfg = {url, NULL, 0, NULL};
	struct webhooks *w;
	double start, elapsed;
	int fd, port = dead_port(&fd);

	CU_ASSERT_PTR_NOT_NULL_FATAL(base);
	CU_ASSERT_FATAL(port > 0);
	snprintf(url, sizeof url, "http://127.0.0.1:%d/", port);
	w = hooks_new(base, &cfg, 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(w);
	start = now_mono();
	for (int i = 0; i < 1000; i++)
		post_text(w, "delivered", body);
	elapsed = now_mono() - start;
	CU_ASSERT(elapsed < 0.050);
	run_for(base, 0.3); /* refused attempts, retry timers armed */
	CU_ASSERT_EQUAL(stat_of(w, "sent"), 0);
	CU_ASSERT(stat_of(w, "failed_attempts") >= 1);
	CU_ASSERT_EQUAL(stat_of(w, "dropped"), 0);
	CU_ASSERT_EQUAL(stat_of(w, "pending"), 1000);
	start = now_mono();
	webhooks_free(w); /* queued, in-flight and waiting deliveries all freed */
	CU_ASSERT(now_mono() - start < 0.5);
	close(fd);
	event_base_free(base);
}

static void test_slow_receiver_bounded(void)
{
	struct receiver r;
	char url[128];
	struct config_webhook cfg = {url, NULL, 0, NULL};
	struct webhooks *w;
	int distinct = 1;

	CU_ASSERT_EQUAL_FATAL(receiver_start(&r), 0);
	receiver_url(&r, "/slow", url, sizeof url);
	r.hold = 1;
	w = hooks_new(r.base, &cfg, 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(w);
	for (int i = 0; i < 10; i++)
		post_text(w, "delivered", "{\"type\":\"delivered\"}");
	run_for(r.base, 0.5);
	CU_ASSERT_EQUAL(r.n, CONCURRENCY); /* the others wait their turn */
	r.hold = 0;
	for (int i = 0; i < r.nheld; i++)
		evhttp_send_reply(r.held[i], 200, "OK", NULL);
	r.want = 10;
	run_for(r.base, 3.0);
	CU_ASSERT_EQUAL(r.n, 10);
	run_for(r.base, 0.2);
	CU_ASSERT_EQUAL(stat_of(w, "sent"), 10);
	CU_ASSERT_EQUAL(stat_of(w, "pending"), 0);
	for (int i = 0; i < r.n && i < MAX_REQUESTS; i++)
		for (int j = 0; j < i; j++)
			if (strcmp(r.got[i].delivery, r.got[j].delivery) == 0)
				distinct = 0;
	CU_ASSERT(distinct);
	webhooks_free(w);
	receiver_stop(&r);
}

static void test_backlog_drops_oldest(void)
{
	struct event_base *base = event_base_new();
	char url[128];
	struct config_webhook cfg = {url, NULL, 0, NULL};
	struct webhooks *w;
	int fd, port = dead_port(&fd);

	CU_ASSERT_PTR_NOT_NULL_FATAL(base);
	CU_ASSERT_FATAL(port > 0);
	snprintf(url, sizeof url, "http://127.0.0.1:%d/", port);
	w = hooks_new(base, &cfg, 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(w);
	for (int i = 0; i < WEBHOOK_BACKLOG + 5; i++)
		post_text(w, "delivered", "{}");
	CU_ASSERT_EQUAL(stat_of(w, "pending"), WEBHOOK_BACKLOG);
	CU_ASSERT_EQUAL(stat_of(w, "dropped"), 5);
	webhooks_free(w);
	close(fd);
	event_base_free(base);
}

static void test_no_webhooks(void)
{
	struct event_base *base = event_base_new();
	char url[] = "http://127.0.0.1:1/";
	struct config_webhook cfg = {url, NULL, 0, NULL};
	char *stats;

	CU_ASSERT_PTR_NOT_NULL_FATAL(base);
	CU_ASSERT_PTR_NULL(hooks_new(base, NULL, 0));
	CU_ASSERT_PTR_NULL(hooks_new(base, &cfg, 0));
	webhooks_post(NULL, "delivered", "{}", 2); /* a no-op */
	stats = webhooks_stats(NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(stats);
	CU_ASSERT_STRING_EQUAL(stats,
	                       "{\"sent\":0,\"failed_attempts\":0,\"dropped\":0,\"pending\":0}");
	free(stats);
	webhooks_free(NULL);
	event_base_free(base);
}

/* Without the library: the message names it and the package to install,
 * and the table stays empty (unloading it is a no-op). */
static void test_curl_missing(void)
{
	struct curl_lazy c;
	char err[512];

	memset(&c, 0xff, sizeof c);
	CU_ASSERT_EQUAL(curl_lazy_load(&c, "libedsim-no-such-curl.so.4", err, sizeof err), -1);
	CU_ASSERT_PTR_NULL(c.lib);
	CU_ASSERT_PTR_NULL(c.easy_setopt);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "cannot load libedsim-no-such-curl.so.4"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "Debian's libcurl4 package"));
	curl_lazy_unload(&c);
}

/* Every function resolves; two loads in one process share the library. */
static void test_curl_loads_twice(void)
{
	struct curl_lazy a, b;
	char err[512] = "";
	CURL *easy;

	CU_ASSERT_EQUAL_FATAL(curl_lazy_load(&a, CURL_LAZY_SONAME, err, sizeof err), 0);
	CU_ASSERT_EQUAL_FATAL(curl_lazy_load(&b, CURL_LAZY_SONAME, err, sizeof err), 0);
	CU_ASSERT_PTR_EQUAL(a.easy_setopt, b.easy_setopt);
	CU_ASSERT_PTR_NOT_NULL(a.multi_cleanup);
	curl_lazy_unload(&b);
	CU_ASSERT_PTR_NULL(b.lib);
	easy = a.easy_init(); /* a still works */
	CU_ASSERT_PTR_NOT_NULL_FATAL(easy);
	CU_ASSERT_EQUAL(a.easy_setopt(easy, CURLOPT_URL, "http://127.0.0.1:1/"), CURLE_OK);
	a.easy_cleanup(easy);
	curl_lazy_unload(&a);
}

int register_webhooks_tests(void)
{
	static const struct unit_test tests[] = {
	    {"event arrives with body and headers", test_event_arrives},
	    {"test HMAC helper matches RFC 4231", test_hmac_helper_vector},
	    {"signature is HMAC-SHA256 of timestamp.body", test_signature},
	    {"failed deliveries retried with backoff", test_retries_with_backoff},
	    {"events list filters types", test_event_filter},
	    {"post never blocks on a dead receiver", test_post_never_blocks},
	    {"slow receiver gets bounded transfers", test_slow_receiver_bounded},
	    {"backlog drops the oldest", test_backlog_drops_oldest},
	    {"no webhooks: NULL and no-ops", test_no_webhooks},
	    {"libcurl missing: the library and package named", test_curl_missing},
	    {"libcurl loaded twice, unloaded once", test_curl_loads_twice},
	};

	return unit_add_suite("webhooks", tests, UNIT_COUNT(tests));
}
