/*
 * webhooks.c - posts events to HTTP(S) receivers through curl's multi
 * interface, driven by the libevent loop ("multi_socket" integration).
 *
 * curl tells us which sockets to watch (on_curl_socket: one libevent event
 * per socket) and when to call it back (on_curl_timer: one libevent timer);
 * on activity we call curl_multi_socket_action() and then collect finished
 * transfers with curl_multi_info_read(). Nothing here blocks. libcurl is
 * not linked: webhooks_new() loads it (curl_lazy.h) into w->curl, and every
 * call goes through that table, so an edsim without webhooks never maps it.
 *
 * Each webhook keeps its unfinished deliveries twice, in two TAILQs: by age
 * (to drop the oldest beyond WEBHOOK_BACKLOG) and in a send queue (FIFO; a
 * delivery whose backoff timer fires goes back to the head). The sockets
 * curl asked us to watch are on one LIST. At most WEBHOOK_CONCURRENCY
 * transfers run per webhook, so a slow or dead receiver holds a bounded
 * number of sockets; the others wait in the queue or on their retry timer.
 * A delivery's id, timestamp and signature are fixed at its first attempt
 * and resent unchanged on every retry.
 *
 * TLS: curl verifies receivers' certificates as usual. EDSIM_WEBHOOK_INSECURE=1
 * in the environment (read once, in webhooks_new) turns verification off,
 * for test receivers with self-signed certificates.
 *
 * edsim's own small structures come from xmalloc.h. An event's JSON text is
 * as long as the client made it: one that cannot be copied, or a delivery
 * whose retry timer cannot be made, is dropped (counted in "dropped",
 * logged); a transfer curl cannot start (its headers, its signature or its
 * handle not made) counts as a failed attempt and is retried like one.
 */
#include "webhooks.h"

#include <event2/event.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "clock.h"
#include "config.h"
#include "curl_lazy.h"
#include "log.h"
#include "util.h"
#include "xmalloc.h"

#define WEBHOOK_CONCURRENCY  4 /* transfers in flight per webhook */
#define WEBHOOK_BACKOFF_CAP  60
#define WEBHOOK_TIMEOUT_MS   10000L
#define WEBHOOK_CONNECT_MS   5000L
#define WEBHOOK_ID_LEN       37   /* a UUID and its NUL */
#define WEBHOOK_OVERFLOW_LOG 1000 /* log one backlog drop in this many */

enum delivery_state { DELIVERY_QUEUED, DELIVERY_SENDING, DELIVERY_WAITING };

struct hook;

struct delivery {
	struct hook *hook;
	TAILQ_ENTRY(delivery) age;   /* the hook's unfinished deliveries, oldest first */
	TAILQ_ENTRY(delivery) queue; /* the hook's send queue (QUEUED only) */
	enum delivery_state state;
	char *type;
	char *body;
	size_t len;
	char id[WEBHOOK_ID_LEN];
	int attempts;
	CURL *easy;                 /* SENDING only */
	struct curl_slist *headers; /* built at the first attempt */
	struct event *retry;        /* the backoff timer, made at the first failure */
	char error[CURL_ERROR_SIZE];
};

struct hook {
	struct webhooks *w;
	char *url;
	char **events;
	size_t nevents;
	char *secret;
	TAILQ_HEAD(, delivery) deliveries; /* by age, oldest first */
	TAILQ_HEAD(, delivery) queue;      /* to send, next first */
	size_t pending;                    /* unfinished deliveries, whatever their state */
	unsigned active;
	unsigned long long overflowed;
};

/* A socket curl asked us to watch. */
struct sock {
	struct webhooks *w;
	LIST_ENTRY(sock) link;
	curl_socket_t fd;
	struct event *ev;
};

struct webhooks {
	struct event_base *base;
	struct curl_lazy curl; /* loaded by webhooks_new() */
	CURLM *multi;
	struct event *timer;
	LIST_HEAD(, sock) socks;
	struct hook *hooks;
	size_t nhooks;
	int insecure;
	unsigned long long serial; /* delivery ids when RAND_bytes fails */
	unsigned long long sent, failed_attempts, dropped;
};

static void collect_finished(struct webhooks *w);

/* ---- deliveries ------------------------------------------------------------ */

static void queue_unlink(struct hook *h, struct delivery *d)
{
	TAILQ_REMOVE(&h->queue, d, queue);
}

static void queue_push_tail(struct hook *h, struct delivery *d)
{
	d->state = DELIVERY_QUEUED;
	TAILQ_INSERT_TAIL(&h->queue, d, queue);
}

/* Retries go first: they have waited longest. */
static void queue_push_head(struct hook *h, struct delivery *d)
{
	d->state = DELIVERY_QUEUED;
	TAILQ_INSERT_HEAD(&h->queue, d, queue);
}

static void transfer_stop(struct delivery *d)
{
	struct webhooks *w = d->hook->w;

	if (d->easy == NULL)
		return;
	w->curl.multi_remove_handle(w->multi, d->easy);
	w->curl.easy_cleanup(d->easy);
	d->easy = NULL;
	d->hook->active--;
}

/* Unlinks d from its hook, whatever its state, and frees it. */
static void delivery_free(struct delivery *d)
{
	struct hook *h = d->hook;

	if (d->state == DELIVERY_QUEUED)
		queue_unlink(h, d);
	transfer_stop(d);
	TAILQ_REMOVE(&h->deliveries, d, age);
	h->pending--;
	if (d->retry != NULL)
		event_free(d->retry);
	h->w->curl.slist_free_all(d->headers);
	free(d->type);
	free(d->body);
	free(d);
}

/* A random (version 4) UUID, lowercase. */
static void make_delivery_id(struct webhooks *w, char out[WEBHOOK_ID_LEN])
{
	unsigned char r[16];
	size_t o = 0;

	if (RAND_bytes(r, sizeof r) != 1) {
		snprintf(out, WEBHOOK_ID_LEN, "%016llx-%016llx",
		         (unsigned long long)(clock_wall() * 1000.0), ++w->serial);
		return;
	}
	r[6] = (unsigned char)((r[6] & 0x0f) | 0x40);
	r[8] = (unsigned char)((r[8] & 0x3f) | 0x80);
	for (size_t i = 0; i < sizeof r; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		snprintf(out + o, WEBHOOK_ID_LEN - o, "%02x", r[i]);
		o += 2;
	}
}

static struct delivery *delivery_new(struct hook *h, const char *type, const char *json, size_t len)
{
	struct delivery *d;
	char *body = malloc(len + 1); /* as long as the event made it */

	if (body == NULL)
		return NULL;
	memcpy(body, json, len);
	body[len] = '\0';
	d = xcalloc(1, sizeof *d);
	d->hook = h;
	d->type = xstrdup(type);
	d->body = body;
	d->len = len;
	make_delivery_id(h->w, d->id);
	TAILQ_INSERT_TAIL(&h->deliveries, d, age);
	h->pending++;
	return d;
}

/* ---- the request ------------------------------------------------------------ */

/* "sha256=" and the lowercase hex HMAC-SHA256(secret, timestamp "." body). */
static int sign(const char *secret, const char *stamp, const char *body, size_t len, char *out,
                size_t outlen)
{
	size_t slen = strlen(stamp);
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	char *data = malloc(slen + 1 + len);
	size_t o;

	if (data == NULL)
		return -1;
	memcpy(data, stamp, slen);
	data[slen] = '.';
	memcpy(data + slen + 1, body, len);
	if (HMAC(EVP_sha256(), secret, (int)strlen(secret), (unsigned char *)data, slen + 1 + len,
	         mac, &maclen) == NULL) {
		free(data);
		return -1;
	}
	free(data);
	o = (size_t)snprintf(out, outlen, "sha256=");
	for (unsigned int i = 0; i < maclen && o + 3 <= outlen; i++, o += 2)
		snprintf(out + o, outlen - o, "%02x", mac[i]);
	return 0;
}

static int add_line(const struct curl_lazy *curl, struct curl_slist **list, const char *line)
{
	struct curl_slist *grown = curl->slist_append(*list, line);

	if (grown == NULL)
		return -1;
	*list = grown;
	return 0;
}

static int add_header(const struct curl_lazy *curl, struct curl_slist **list, const char *name,
                      const char *value)
{
	char line[256];

	snprintf(line, sizeof line, "%s: %s", name, value);
	return add_line(curl, list, line);
}

/* The headers of every attempt: the timestamp is when it was first sent. */
static int build_headers(struct delivery *d)
{
	const struct curl_lazy *curl = &d->hook->w->curl;
	struct curl_slist *list = NULL;
	char stamp[32], signature[EVP_MAX_MD_SIZE * 2 + 16];
	int rc = 0;

	snprintf(stamp, sizeof stamp, "%lld", (long long)clock_wall());
	rc |= add_header(curl, &list, "Content-Type", "application/json");
	rc |= add_header(curl, &list, "X-Edsim-Event", d->type);
	rc |= add_header(curl, &list, "X-Edsim-Delivery", d->id);
	rc |= add_header(curl, &list, "X-Edsim-Timestamp", stamp);
	if (d->hook->secret != NULL) {
		if (sign(d->hook->secret, stamp, d->body, d->len, signature, sizeof signature) < 0)
			rc = -1;
		else
			rc |= add_header(curl, &list, "X-Edsim-Signature", signature);
	}
	rc |= add_line(curl, &list, "Expect:"); /* no value: no 100-continue round trip */
	if (rc != 0) {
		curl->slist_free_all(list);
		return -1;
	}
	d->headers = list;
	return 0;
}

/* The receiver's answer body is not used. */
static size_t discard_body(char *data, size_t size, size_t n, void *arg)
{
	(void)data;
	(void)arg;
	return size * n;
}

static CURL *make_easy(struct delivery *d)
{
	const struct curl_lazy *curl = &d->hook->w->curl;
	CURL *easy = curl->easy_init();

	if (easy == NULL)
		return NULL;
	curl->easy_setopt(easy, CURLOPT_URL, d->hook->url);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl->easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	curl->easy_setopt(easy, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	curl->easy_setopt(easy, CURLOPT_POST, 1L);
	curl->easy_setopt(easy, CURLOPT_POSTFIELDS, d->body);
	curl->easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)d->len);
	curl->easy_setopt(easy, CURLOPT_HTTPHEADER, d->headers);
	curl->easy_setopt(easy, CURLOPT_USERAGENT, "edsim/" EDSIM_VERSION);
	curl->easy_setopt(easy, CURLOPT_TIMEOUT_MS, WEBHOOK_TIMEOUT_MS);
	curl->easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, WEBHOOK_CONNECT_MS);
	curl->easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	curl->easy_setopt(easy, CURLOPT_WRITEFUNCTION, discard_body);
	curl->easy_setopt(easy, CURLOPT_ERRORBUFFER, d->error);
	curl->easy_setopt(easy, CURLOPT_PRIVATE, (void *)d);
	if (d->hook->w->insecure) {
		curl->easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 0L);
		curl->easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	return easy;
}

/* Counts an attempt and hands the request to curl; -1 when it could not. */
static int transfer_start(struct delivery *d)
{
	struct webhooks *w = d->hook->w;

	d->attempts++;
	d->error[0] = '\0';
	if (d->headers == NULL && build_headers(d) < 0)
		return -1;
	d->easy = make_easy(d);
	if (d->easy == NULL)
		return -1;
	if (w->curl.multi_add_handle(w->multi, d->easy) != CURLM_OK) {
		w->curl.easy_cleanup(d->easy);
		d->easy = NULL;
		return -1;
	}
	d->state = DELIVERY_SENDING;
	d->hook->active++;
	return 0;
}

/* ---- outcomes ----------------------------------------------------------------- */

static void on_retry(evutil_socket_t fd, short what, void *arg);
static void hook_pump(struct hook *h);

static void schedule_retry(struct delivery *d)
{
	int shift = d->attempts - 1 < 6 ? d->attempts - 1 : 6;
	long delay = 1L << shift;
	struct timeval tv;

	if (delay > WEBHOOK_BACKOFF_CAP)
		delay = WEBHOOK_BACKOFF_CAP;
	tv.tv_sec = delay;
	tv.tv_usec = 0;
	if (d->retry == NULL)
		d->retry = evtimer_new(d->hook->w->base, on_retry, d);
	if (d->retry == NULL || evtimer_add(d->retry, &tv) < 0) {
		log_err("webhook %s: cannot arm a retry timer, dropping delivery %s", d->hook->url,
		        d->id);
		d->hook->w->dropped++;
		delivery_free(d);
		return;
	}
	d->state = DELIVERY_WAITING;
	log_debug("webhook %s: delivery %s retried in %ld s", d->hook->url, d->id, delay);
}

static void describe_failure(const struct delivery *d, int rc, long status, char *out,
                             size_t outlen)
{
	if (rc != CURLE_OK)
		snprintf(out, outlen, "%s",
		         d->error[0] != '\0' ? d->error
		                             : d->hook->w->curl.easy_strerror((CURLcode)rc));
	else
		snprintf(out, outlen, "HTTP status %ld", status);
}

/* One attempt of d has ended (d is no longer SENDING): done, retry or drop. */
static void finish_attempt(struct delivery *d, int rc, long status)
{
	struct webhooks *w = d->hook->w;
	char why[CURL_ERROR_SIZE + 32];

	if (rc == CURLE_OK && status >= 200 && status <= 299) {
		w->sent++;
		delivery_free(d);
		return;
	}
	w->failed_attempts++;
	describe_failure(d, rc, status, why, sizeof why);
	if (d->attempts >= WEBHOOK_ATTEMPTS) {
		log_warn("webhook %s: dropping %s delivery %s after %d attempts (last: %s)",
		         d->hook->url, d->type, d->id, d->attempts, why);
		w->dropped++;
		delivery_free(d);
		return;
	}
	log_debug("webhook %s: %s delivery %s attempt %d failed: %s", d->hook->url, d->type, d->id,
	          d->attempts, why);
	schedule_retry(d);
}

/* Starts queued deliveries while the hook has free transfer slots. */
static void hook_pump(struct hook *h)
{
	struct delivery *d;

	while (h->active < WEBHOOK_CONCURRENCY && (d = TAILQ_FIRST(&h->queue)) != NULL) {
		queue_unlink(h, d);
		d->state = DELIVERY_WAITING; /* until transfer_start says otherwise */
		if (transfer_start(d) < 0)
			finish_attempt(d, CURLE_FAILED_INIT, 0);
	}
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
	struct delivery *d = arg;
	struct hook *h = d->hook;

	(void)fd;
	(void)what;
	queue_push_head(h, d);
	hook_pump(h);
}

static void collect_finished(struct webhooks *w)
{
	CURLMsg *msg;
	int left;

	while ((msg = w->curl.multi_info_read(w->multi, &left)) != NULL) {
		CURL *easy = msg->easy_handle;
		CURLcode rc = msg->data.result;
		struct delivery *d = NULL;
		struct hook *h;
		long status = 0;

		if (msg->msg != CURLMSG_DONE)
			continue;
		w->curl.easy_getinfo(easy, CURLINFO_PRIVATE, (void *)&d);
		w->curl.easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
		h = d->hook;
		transfer_stop(d); /* msg is invalid from here on */
		d->state = DELIVERY_WAITING;
		finish_attempt(d, rc, status);
		hook_pump(h);
	}
}

/* ---- curl's sockets and timer on the event loop ------------------------------ */

static void on_socket_ready(evutil_socket_t fd, short what, void *arg)
{
	struct webhooks *w = ((struct sock *)arg)->w; /* the sock may go in the call */
	int flags = 0, running;

	if (what & EV_READ)
		flags |= CURL_CSELECT_IN;
	if (what & EV_WRITE)
		flags |= CURL_CSELECT_OUT;
	w->curl.multi_socket_action(w->multi, fd, flags, &running);
	collect_finished(w);
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct webhooks *w = arg;
	int running;

	(void)fd;
	(void)what;
	w->curl.multi_socket_action(w->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	collect_finished(w);
}

static void sock_free(struct sock *s)
{
	if (s == NULL)
		return;
	LIST_REMOVE(s, link);
	if (s->ev != NULL)
		event_free(s->ev);
	free(s);
}

static struct sock *sock_new(struct webhooks *w, curl_socket_t fd)
{
	struct sock *s = xcalloc(1, sizeof *s);

	s->w = w;
	s->fd = fd;
	LIST_INSERT_HEAD(&w->socks, s, link);
	return s;
}

/* Watches s for what curl wants now (CURL_POLL_IN, _OUT or _INOUT). */
static int sock_watch(struct sock *s, int what)
{
	short flags = EV_PERSIST;

	if (what & CURL_POLL_IN)
		flags |= EV_READ;
	if (what & CURL_POLL_OUT)
		flags |= EV_WRITE;
	if (s->ev != NULL)
		event_free(s->ev);
	s->ev = event_new(s->w->base, s->fd, flags, on_socket_ready, s);
	if (s->ev == NULL || event_add(s->ev, NULL) < 0)
		return -1;
	return 0;
}

static int on_curl_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
	struct webhooks *w = userp;
	struct sock *s = socketp;

	(void)easy;
	if (what == CURL_POLL_REMOVE) {
		sock_free(s);
		return 0;
	}
	if (s == NULL) {
		s = sock_new(w, fd);
		w->curl.multi_assign(w->multi, fd, s);
	}
	return sock_watch(s, what);
}

static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
	struct webhooks *w = userp;
	struct timeval tv;

	(void)multi;
	if (timeout_ms < 0)
		return evtimer_del(w->timer);
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	return evtimer_add(w->timer, &tv);
}

/* ---- the module --------------------------------------------------------------- */

static int hook_wants(const struct hook *h, const char *type)
{
	if (h->nevents == 0)
		return 1;
	for (size_t i = 0; i < h->nevents; i++)
		if (strcmp(h->events[i], type) == 0)
			return 1;
	return 0;
}

/* Makes room for one more: drops the oldest delivery not in flight. */
static void hook_enforce_backlog(struct hook *h)
{
	struct delivery *d;

	if (h->pending <= WEBHOOK_BACKLOG)
		return;
	for (d = TAILQ_FIRST(&h->deliveries); d != NULL && d->state == DELIVERY_SENDING;
	     d = TAILQ_NEXT(d, age))
		;
	if (d == NULL)
		return;
	if (h->overflowed++ % WEBHOOK_OVERFLOW_LOG == 0)
		log_warn("webhook %s: backlog full (%d), oldest dropped (%llu so far)", h->url,
		         WEBHOOK_BACKLOG, h->overflowed);
	h->w->dropped++;
	delivery_free(d);
}

/* A type becomes a header value: no control characters. */
static int type_ok(const char *type)
{
	if (type == NULL || *type == '\0')
		return 0;
	for (const char *p = type; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return 0;
	return strlen(type) < 128;
}

void webhooks_post(struct webhooks *w, const char *type, const char *json, size_t len)
{
	if (w == NULL)
		return;
	if (!type_ok(type) || json == NULL) {
		log_warn("webhooks: event with an unusable type not posted");
		return;
	}
	for (size_t i = 0; i < w->nhooks; i++) {
		struct hook *h = &w->hooks[i];
		struct delivery *d;

		if (!hook_wants(h, type))
			continue;
		d = delivery_new(h, type, json, len);
		if (d == NULL) {
			log_err("webhook %s: out of memory, %s event dropped", h->url, type);
			w->dropped++;
			continue;
		}
		queue_push_tail(h, d);
		hook_enforce_backlog(h);
		hook_pump(h);
	}
}

char *webhooks_stats(const struct webhooks *w)
{
	unsigned long long pending = 0;
	char text[160];

	for (size_t i = 0; w != NULL && i < w->nhooks; i++)
		pending += w->hooks[i].pending;
	snprintf(text, sizeof text,
	         "{\"sent\":%llu,\"failed_attempts\":%llu,\"dropped\":%llu,\"pending\":%llu}",
	         w ? w->sent : 0ULL, w ? w->failed_attempts : 0ULL, w ? w->dropped : 0ULL, pending);
	return xstrdup(text);
}

static void hook_init(struct webhooks *w, struct hook *h, const struct config_webhook *cfg)
{
	h->w = w;
	TAILQ_INIT(&h->deliveries);
	TAILQ_INIT(&h->queue);
	h->url = xstrdup(cfg->url);
	h->secret = xstrdup(cfg->secret);
	h->events = xcalloc(cfg->nevents, sizeof *h->events);
	for (size_t i = 0; i < cfg->nevents; i++)
		h->events[i] = xstrdup(cfg->events[i]);
	h->nevents = cfg->nevents;
}

static void hook_clear(struct hook *h)
{
	struct delivery *d;

	while ((d = TAILQ_FIRST(&h->deliveries)) != NULL)
		delivery_free(d);
	for (size_t i = 0; i < h->nevents; i++)
		free(h->events[i]);
	free(h->events);
	free(h->url);
	free(h->secret);
}

static int setup_multi(struct webhooks *w)
{
	w->multi = w->curl.multi_init();
	w->timer = evtimer_new(w->base, on_timeout, w);
	if (w->multi == NULL || w->timer == NULL)
		return -1;
	w->curl.multi_setopt(w->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
	w->curl.multi_setopt(w->multi, CURLMOPT_SOCKETDATA, w);
	w->curl.multi_setopt(w->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
	w->curl.multi_setopt(w->multi, CURLMOPT_TIMERDATA, w);
	return 0;
}

struct webhooks *webhooks_new(struct event_base *base, const struct config_webhook *hooks, size_t n,
                              char *err, size_t errlen)
{
	const char *insecure = getenv("EDSIM_WEBHOOK_INSECURE");
	struct webhooks *w;
	char why[512];

	if (n == 0 || hooks == NULL || base == NULL)
		return NULL;
	w = xcalloc(1, sizeof *w);
	LIST_INIT(&w->socks);
	if (curl_lazy_load(&w->curl, CURL_LAZY_SONAME, why, sizeof why) < 0) {
		snprintf(err, errlen, "webhooks need libcurl: %s", why);
		free(w);
		return NULL;
	}
	w->base = base;
	w->insecure = insecure != NULL && strcmp(insecure, "1") == 0;
	if (setup_multi(w) < 0) {
		snprintf(err, errlen, "webhooks: cannot make curl's multi handle or its timer");
		webhooks_free(w);
		return NULL;
	}
	w->hooks = xcalloc(n, sizeof *w->hooks);
	for (; w->nhooks < n; w->nhooks++)
		hook_init(w, &w->hooks[w->nhooks], &hooks[w->nhooks]);
	if (w->insecure)
		log_warn("webhooks: EDSIM_WEBHOOK_INSECURE=1, receivers' certificates unchecked");
	return w;
}

void webhooks_free(struct webhooks *w)
{
	if (w == NULL)
		return;
	for (size_t i = 0; i < w->nhooks; i++)
		hook_clear(&w->hooks[i]);
	free(w->hooks);
	if (w->multi != NULL)
		w->curl.multi_cleanup(w->multi); /* closes cached connections */
	while (!LIST_EMPTY(&w->socks))
		sock_free(LIST_FIRST(&w->socks));
	if (w->timer != NULL)
		event_free(w->timer);
	curl_lazy_unload(&w->curl);
	free(w);
}
