/*
 * health_cmd.c - `edsim health`: one GET /api/v1/health (libcurl, blocking)
 * on a running edsim's control API, or several until it is healthy.
 *
 * Where to ask, first that applies: --control HOST:PORT; with --state-dir,
 * or when the configuration's control port is 0, the port written in
 * STATE_DIR/edsim.ready (re-read before every try, so a restarted edsim is
 * found) on the configuration's control host; otherwise the configuration's
 * listen.control (the embedded default: 127.0.0.1:8025). The configuration
 * is the embedded one with --config FILE laid over it, as for edsim itself.
 * A wildcard host (0.0.0.0, ::) is asked on loopback.
 *
 * Only the control API is contacted: the SMTP and HTTPS listeners, and so
 * every scenario counter, are left alone. No state outlives the call.
 * libcurl is loaded for the call (curl_lazy.h): without Debian's libcurl4
 * the command says so and exits 1.
 */
#include "health_cmd.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "config.h"
#include "curl_lazy.h"
#include "util.h"
#include "ydoc.h"

#define HEALTH_TRY_SECONDS 5.0   /* the longest one try may take */
#define HEALTH_PAUSE       0.1   /* between tries with --wait */
#define HEALTH_BODY_MAX    65536 /* a health answer is a few hundred bytes */

struct target {
	char host[256];
	int port;         /* 0: read it from the ready file before each try */
	char ready[4200]; /* STATE_DIR/edsim.ready, or "" */
	char where[4300]; /* what a failure names: the address or the ready file */
};

struct answer {
	char *body;
	size_t len;
};

static void usage(FILE *out)
{
	fprintf(out, "usage: edsim health [--control HOST:PORT | --config FILE | --state-dir DIR]\n"
	             "                    [--wait DURATION] [--quiet]\n"
	             "\n"
	             "Asks a running edsim's control API (GET /api/v1/health) whether it is up;\n"
	             "the SMTP and HTTPS ports are not touched, so no scenario counter moves.\n"
	             "Where: --control, else STATE_DIR/edsim.ready (--state-dir, or the\n"
	             "configuration's state_dir when its control port is 0), else the\n"
	             "configuration's listen.control (default 127.0.0.1:8025).\n"
	             "--wait 10s tries until healthy or 10 s have passed (default: one try).\n"
	             "Exit status: 0 healthy (the answer is printed unless --quiet), 1 not\n"
	             "(draining, unreachable; the reason on stderr), 2 bad command line.\n");
}

/* ---- the command line ---------------------------------------------------------- */

static int take_value(int argc, char **argv, int *i, const char **slot, char *err, size_t errlen)
{
	if (*i + 1 >= argc) {
		snprintf(err, errlen, "%s needs a value", argv[*i]);
		return -1;
	}
	*slot = argv[++*i];
	return 0;
}

static int check_opts(struct health_opts *o, char *err, size_t errlen)
{
	char host[256];
	int port;

	if (o->control != NULL &&
	    (split_host_port(o->control, host, sizeof host, &port) < 0 || port == 0)) {
		snprintf(err, errlen,
		         "--control: expected HOST:PORT with a port from 1, found '%s'",
		         o->control);
		return -1;
	}
	if (o->wait_text != NULL && parse_duration(o->wait_text, &o->wait) < 0) {
		snprintf(err, errlen,
		         "--wait: expected a duration such as 10s or 500ms, found '%s'",
		         o->wait_text);
		return -1;
	}
	return 0;
}

int health_parse_args(int argc, char **argv, struct health_opts *o, char *err, size_t errlen)
{
	memset(o, 0, sizeof *o);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		int rc = 0;

		if (strcmp(a, "--quiet") == 0 || strcmp(a, "-q") == 0)
			o->quiet = 1;
		else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
			o->help = 1;
		else if (strcmp(a, "--control") == 0)
			rc = take_value(argc, argv, &i, &o->control, err, errlen);
		else if (strcmp(a, "--config") == 0)
			rc = take_value(argc, argv, &i, &o->config, err, errlen);
		else if (strcmp(a, "--state-dir") == 0)
			rc = take_value(argc, argv, &i, &o->state_dir, err, errlen);
		else if (strcmp(a, "--wait") == 0)
			rc = take_value(argc, argv, &i, &o->wait_text, err, errlen);
		else {
			snprintf(err, errlen, "unknown argument '%s'", a);
			rc = -1;
		}
		if (rc < 0)
			return -1;
	}
	return check_opts(o, err, errlen);
}

/* ---- where to ask ---------------------------------------------------------------- */

/* A listener on every address is asked on loopback. */
static void set_host(struct target *t, const char *host)
{
	if (strcmp(host, "0.0.0.0") == 0)
		host = "127.0.0.1";
	else if (strcmp(host, "::") == 0)
		host = "::1";
	snprintf(t->host, sizeof t->host, "%s", host);
}

static void set_where(struct target *t)
{
	snprintf(t->where, sizeof t->where, strchr(t->host, ':') ? "[%s]:%d" : "%s:%d", t->host,
	         t->port);
}

static int target_from_config(struct target *t, const struct health_opts *o)
{
	const char *file = o->config ? o->config : "<embedded default.yaml>";
	struct config cfg;
	char *errors = NULL, host[256];
	int port, rc = -1;

	if (config_load(&cfg, o->config, &errors) < 0)
		fprintf(stderr, "%s", errors ? errors : "edsim health: invalid configuration\n");
	else if (cfg.listen_control == NULL)
		fprintf(stderr, "edsim health: %s: listen.control is off: no control API to ask\n",
		        file);
	else if (split_host_port(cfg.listen_control, host, sizeof host, &port) < 0)
		fprintf(stderr,
		        "edsim health: %s: listen.control: expected host:port, found '%s'\n", file,
		        cfg.listen_control);
	else {
		set_host(t, host);
		t->port = o->state_dir != NULL ? 0 : port;
		if (t->port == 0)
			snprintf(t->ready, sizeof t->ready, "%s/edsim.ready",
			         o->state_dir ? o->state_dir : cfg.state_dir);
		rc = 0;
	}
	free(errors);
	config_free(&cfg);
	return rc;
}

/* Returns 0, or -1 after saying why on stderr (exit status 1). */
static int resolve_target(struct target *t, const struct health_opts *o)
{
	char host[256];

	memset(t, 0, sizeof *t);
	if (o->control == NULL)
		return target_from_config(t, o);
	split_host_port(o->control, host, sizeof host, &t->port); /* checked with the flags */
	set_host(t, host);
	return 0;
}

int health_ready_control(const char *text)
{
	json_t *j = json_loads(text, 0, NULL);
	json_t *control = json_object_get(j, "control");
	json_int_t port = json_is_integer(control) ? json_integer_value(control) : 0;

	json_decref(j);
	return port >= 1 && port <= 65535 ? (int)port : -1;
}

/* "Connection refused" as the tail of a sentence: "connection refused". */
static void lower_first(char *s)
{
	if (s[0] >= 'A' && s[0] <= 'Z' && !(s[1] >= 'A' && s[1] <= 'Z'))
		s[0] = (char)(s[0] - 'A' + 'a');
}

/* With a ready file: this try's port from it. -1 with the reason. */
static int refresh_port(struct target *t, int fixed, char *reason, size_t len)
{
	size_t n = 0;
	char *text;

	if (fixed) {
		set_where(t);
		return 0;
	}
	snprintf(t->where, sizeof t->where, "%s", t->ready);
	if ((text = read_file(t->ready, &n)) == NULL) {
		snprintf(reason, len, "%s (is edsim running with this state directory?)",
		         strerror(errno));
		lower_first(reason);
		return -1;
	}
	t->port = health_ready_control(text);
	free(text);
	if (t->port < 0) {
		snprintf(reason, len, "no control port in it (edsim runs without a control API?)");
		return -1;
	}
	set_where(t);
	return 0;
}

/* ---- one question ---------------------------------------------------------------- */

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
	struct answer *a = arg;
	size_t add = size * n;
	char *grown;

	if (a->len + add > HEALTH_BODY_MAX || (grown = realloc(a->body, a->len + add + 1)) == NULL)
		return 0; /* curl ends the transfer with a write error */
	memcpy(grown + a->len, data, add);
	a->body = grown;
	a->len += add;
	a->body[a->len] = '\0';
	return add;
}

static void transfer_reason(const struct curl_lazy *curl, CURL *easy, CURLcode rc, double timeout,
                            char *reason, size_t len)
{
	long os_errno = 0;

	curl->easy_getinfo(easy, CURLINFO_OS_ERRNO, &os_errno);
	if (rc == CURLE_OPERATION_TIMEDOUT)
		snprintf(reason, len, "no answer within %.1f s", timeout);
	else if (os_errno != 0)
		snprintf(reason, len, "%s", strerror((int)os_errno));
	else
		snprintf(reason, len, "%s", curl->easy_strerror(rc));
	lower_first(reason);
}

static void set_request(const struct curl_lazy *curl, CURL *easy, const struct target *t,
                        double timeout, struct answer *a, char *url, size_t urllen)
{
	snprintf(url, urllen,
	         strchr(t->host, ':') ? "http://[%s]:%d/api/v1/health"
	                              : "http://%s:%d/api/v1/health",
	         t->host, t->port);
	curl->easy_setopt(easy, CURLOPT_URL, url);
	curl->easy_setopt(easy, CURLOPT_PROXY, ""); /* never through an http_proxy from the env */
	curl->easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	curl->easy_setopt(easy, CURLOPT_TIMEOUT_MS, (long)(timeout * 1000.0));
	curl->easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_body);
	curl->easy_setopt(easy, CURLOPT_WRITEDATA, a);
}

int health_judge(long http_status, const char *body, char *reason, size_t reasonlen)
{
	json_t *j = body ? json_loads(body, 0, NULL) : NULL;
	const char *status = json_string_value(json_object_get(j, "status"));
	int rc = -1;

	if (http_status != 200)
		snprintf(reason, reasonlen,
		         "answered HTTP %ld, not a health report (is this "
		         "edsim's control port?)",
		         http_status);
	else if (status == NULL)
		snprintf(reason, reasonlen, "the answer is not an edsim health report");
	else if (strcmp(status, "ok") == 0)
		rc = 0;
	else if (strcmp(status, "draining") == 0)
		snprintf(reason, reasonlen, "draining (edsim is shutting down)");
	else
		snprintf(reason, reasonlen, "status '%.64s'", status);
	json_decref(j);
	return rc;
}

/* One GET: 0 with the body in *a when edsim is healthy, -1 with the reason. */
static int ask(const struct curl_lazy *curl, CURL *easy, const struct target *t, double timeout,
               struct answer *a, char *reason, size_t len)
{
	char url[400];
	long status = 0;
	CURLcode rc;

	free(a->body);
	a->body = NULL;
	a->len = 0;
	set_request(curl, easy, t, timeout, a, url, sizeof url);
	if ((rc = curl->easy_perform(easy)) != CURLE_OK) {
		transfer_reason(curl, easy, rc, timeout, reason, len);
		return -1;
	}
	curl->easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
	return health_judge(status, a->body, reason, len);
}

/* ---- the command ------------------------------------------------------------------- */

static void print_answer(const struct answer *a)
{
	json_t *j = json_loads(a->body, 0, NULL);
	char *line = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);

	printf("%s\n", line ? line : a->body);
	free(line);
	json_decref(j);
}

static void pause_briefly(double seconds)
{
	struct timespec ts = {(time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9)};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* How long the next try may take: HEALTH_TRY_SECONDS, or what is left of --wait. */
static double try_timeout(const struct health_opts *o, double deadline)
{
	double left = deadline - clock_now();

	if (o->wait <= 0 || left >= HEALTH_TRY_SECONDS)
		return HEALTH_TRY_SECONDS;
	return left < 0.1 ? 0.1 : left;
}

/* Tries until healthy or o->wait has passed, the last try at the deadline
 * (one try when it is 0). */
static int poll_health(const struct curl_lazy *curl, CURL *easy, struct target *t,
                       const struct health_opts *o)
{
	double deadline = clock_now() + o->wait, left;
	int fixed = t->port != 0;
	struct answer a = {NULL, 0};
	char reason[512];
	int ok;

	for (;;) {
		ok = refresh_port(t, fixed, reason, sizeof reason) == 0 &&
		     ask(curl, easy, t, try_timeout(o, deadline), &a, reason, sizeof reason) == 0;
		left = deadline - clock_now();
		if (ok || left <= 0)
			break;
		pause_briefly(left < HEALTH_PAUSE ? left : HEALTH_PAUSE);
	}
	if (ok && !o->quiet)
		print_answer(&a);
	if (!ok)
		fprintf(stderr, "edsim health: %s: %s%s%s%s\n", t->where, reason,
		        o->wait > 0 ? " (gave up after " : "", o->wait > 0 ? o->wait_text : "",
		        o->wait > 0 ? ")" : "");
	free(a.body);
	return ok ? 0 : 1;
}

int health_main(int argc, char **argv)
{
	struct health_opts o;
	struct target t;
	struct curl_lazy curl;
	char err[512];
	CURL *easy;
	int rc;

	if (health_parse_args(argc, argv, &o, err, sizeof err) < 0) {
		fprintf(stderr, "edsim health: %s (see edsim health --help)\n", err);
		return 2;
	}
	if (o.help) {
		usage(stdout);
		return 0;
	}
	if (resolve_target(&t, &o) < 0)
		return 1;
	if (curl_lazy_load(&curl, CURL_LAZY_SONAME, err, sizeof err) < 0) {
		fprintf(stderr, "edsim health: %s\n", err);
		return 1;
	}
	if ((easy = curl.easy_init()) == NULL) {
		fprintf(stderr, "edsim health: cannot initialise libcurl\n");
		curl_lazy_unload(&curl);
		return 1;
	}
	rc = poll_health(&curl, easy, &t, &o);
	curl.easy_cleanup(easy);
	curl_lazy_unload(&curl);
	return rc;
}
