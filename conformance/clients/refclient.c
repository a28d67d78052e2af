/*
 * refclient.c - the conformance reference client: sends one message to edsim
 * over SMTP (libcurl, STARTTLS or implicit TLS, AUTH PLAIN), over the OCI
 * HTTPS submitEmail API, or over Amazon SES's v2 SendEmail or v1
 * SendRawEmail API signed with SigV4 (refclient_ses.c), and handles
 * failures as a careful client does (--policy good) or as a careless one
 * does (--policy naive).
 *
 * Every attempt uses a fresh libcurl easy handle on a fresh connection, so a
 * retry after a 421 or a stalled reply starts a new session. A reply is
 * classified once: 2xx delivered (also SMTP 254, which libcurl calls an
 * error); SMTP 4xx, a missing reply (refused, dropped, timed out) and HTTPS
 * 409/429/500/502/503/504 and 400 LimitExceeded transient (SES: 429, 500,
 * 502, 503, 504 and the throttling error codes, as the AWS SDKs read them);
 * client-side errors (certificate, configuration) and anything else
 * permanent. The good policy retries transient failures with exponential
 * backoff and jitter (at least Retry-After) within --max-attempts and
 * --max-time; the naive policy makes one attempt. HTTPS retries keep one
 * opc-request-id, as the OCI SDKs do, or one amz-sdk-invocation-id with
 * amz-sdk-request: attempt=N, as the AWS SDKs do.
 *
 * Output, one line each on stdout: "attempt N: CODE TEXT" (or "attempt N: no
 * reply: ERROR", "attempt N: error: ERROR"), "waiting X.Xs before attempt
 * N+1", then "delivered after N attempt(s)" or "failed: permanent: ..." /
 * "failed: gave up after N attempts: ...", which name the code when there was
 * one. Exit status: 0 delivered, 1 not delivered, 2 usage error. Everything
 * allocated is freed before exit (the ASan build checks leaks).
 */
#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "refclient_ses.h"

#define MAX_RCPT       50
#define REPLY_MAX      512
#define MAX_BACKOFF    30.0 /* seconds, before jitter */
#define JITTER         0.25 /* up to +25% of the backoff */
#define POLL_MS        50   /* libcurl checks the reply timeout only when polled */
#define HTTP_BODY_MAX  (1024 * 1024)
#define EML_MAX        (64 * 1024 * 1024)
#define COMPARTMENT_ID "ocid1.compartment.oc1..conform"
#define SUBMIT_PATH    "/20220926/actions/submitEmail"
#define DEFAULT_BODY   "refclient test message\n"

enum policy { POLICY_GOOD, POLICY_NAIVE };
enum protocol { PROTO_SMTP, PROTO_HTTPS };
enum api { API_SMTP, API_OCI, API_SES_V2, API_SES_V1 };
enum tls_mode { TLS_STARTTLS, TLS_IMPLICIT, TLS_NONE };
enum verdict { VERDICT_DELIVERED, VERDICT_TRANSIENT, VERDICT_PERMANENT };

struct options {
	int policy;   /* enum policy, -1 until given */
	int protocol; /* enum protocol */
	int api;      /* enum api, -1 until given: --protocol decides (smtp or oci) */
	int tls;      /* enum tls_mode */
	const char *smtp_host, *https_url, *ca, *user, *password, *from;
	const char *region, *aws_secret; /* SES: SigV4's region and secret key (--user: its id) */
	const char *subject, *message_id, *eml;
	const char *to[MAX_RCPT];
	size_t nto;
	long smtp_port, smtps_port, max_attempts;
	double max_time, reply_timeout, base_delay;
	uint64_t seed;
	int have_seed;
};

/* The message file, read once; body points into data after the header section. */
struct message {
	char *data;
	size_t len;
	const char *body;
	size_t body_len;
};

/* What one attempt came to. code is the reply code or HTTP status, 0 = none. */
struct outcome {
	enum verdict verdict;
	long code;
	int local; /* a client-side error (certificate, configuration), not a reply */
	char text[REPLY_MAX];
	double retry_after; /* seconds the server asked to wait, 0 = none */
};

/* The SMTP dialogue as the debug callback sees it. */
struct smtp_trace {
	int awaiting;     /* a command (or the greeting) has no complete reply yet */
	int quitting;     /* QUIT sent: its reply is not the transaction's */
	int in_body;      /* 354 received: the next reply is the end of DATA's */
	int after_body;   /* the last complete reply was the end of DATA's */
	int partial;      /* inside a multi-line reply */
	long code;        /* the last complete reply's code */
	curl_socket_t fd; /* the connection's socket */
	char text[REPLY_MAX];
	char pending[REPLY_MAX];
};

struct upload {
	const char *data;
	size_t len, off;
};

struct buffer {
	char *data;
	size_t len;
};

/* ---- small helpers ----------------------------------------------------------------------- */

static double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_seconds(double s)
{
	struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* splitmix64: a small seeded generator, so a --seed makes the jitter repeatable. */
static uint64_t rng_next(uint64_t *state)
{
	uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

static double rng_unit(uint64_t *state)
{
	return (double)(rng_next(state) >> 11) * 0x1.0p-53;
}

/* append_text: appends len bytes of s to dst (size n), control characters as spaces. */
static void append_text(char *dst, size_t n, const char *s, size_t len)
{
	size_t d = strlen(dst);

	for (size_t i = 0; i < len && d + 1 < n; i++)
		dst[d++] = iscntrl((unsigned char)s[i]) ? ' ' : s[i];
	dst[d] = '\0';
}

static void set_text(char *dst, size_t n, const char *s)
{
	dst[0] = '\0';
	append_text(dst, n, s, strlen(s));
}

/* ---- options ----------------------------------------------------------------------------- */

static void usage(FILE *f)
{
	fputs("usage: refclient --policy good|naive [--protocol smtp|https]\n"
	      "         [--api smtp|oci|ses-v2|ses-v1] [--region R --aws-secret S]\n"
	      "         --smtp-host H --smtp-port P [--smtps-port P2]\n"
	      "         [--tls starttls|implicit|none] [--https-url https://127.0.0.1:PORT]\n"
	      "         --ca CAFILE --user U --password P --from F --to T (repeatable)\n"
	      "         --subject S --message-id MID --eml FILE\n"
	      "         [--max-attempts N (8)] [--max-time SECONDS (50)]\n"
	      "         [--reply-timeout SECONDS (5)] [--base-delay SECONDS (1)] [--seed N]\n",
	      f);
}

static int parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static int parse_seconds(const char *s, double min, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !(v >= min) || v > 86400)
		return -1;
	*out = v;
	return 0;
}

static int parse_seed(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || s[0] == '-')
		return -1;
	*out = v;
	return 0;
}

static int parse_choice(const char *s, const char *const *names, int *out)
{
	for (int i = 0; names[i] != NULL; i++)
		if (strcmp(s, names[i]) == 0) {
			*out = i;
			return 0;
		}
	return -1;
}

enum opt_kind {
	KIND_STRING,
	KIND_TO,
	KIND_PORT,
	KIND_COUNT,
	KIND_SECONDS,
	KIND_DELAY,
	KIND_SEED,
	KIND_CHOICE,
	KIND_HELP
};

struct opt_spec {
	const char *name;
	enum opt_kind kind;
	size_t offset;              /* the field in struct options */
	const char *const *choices; /* KIND_CHOICE: the values, in the enum's order */
};

#define AT(field) offsetof(struct options, field)
static const char *const policies[] = {"good", "naive", NULL};
static const char *const protocols[] = {"smtp", "https", NULL};
static const char *const apis[] = {"smtp", "oci", "ses-v2", "ses-v1", NULL};
static const char *const tls_modes[] = {"starttls", "implicit", "none", NULL};

static const struct opt_spec opt_specs[] = {
    {"policy", KIND_CHOICE, AT(policy), policies},
    {"protocol", KIND_CHOICE, AT(protocol), protocols},
    {"api", KIND_CHOICE, AT(api), apis},
    {"region", KIND_STRING, AT(region), NULL},
    {"aws-secret", KIND_STRING, AT(aws_secret), NULL},
    {"tls", KIND_CHOICE, AT(tls), tls_modes},
    {"smtp-host", KIND_STRING, AT(smtp_host), NULL},
    {"smtp-port", KIND_PORT, AT(smtp_port), NULL},
    {"smtps-port", KIND_PORT, AT(smtps_port), NULL},
    {"https-url", KIND_STRING, AT(https_url), NULL},
    {"ca", KIND_STRING, AT(ca), NULL},
    {"user", KIND_STRING, AT(user), NULL},
    {"password", KIND_STRING, AT(password), NULL},
    {"from", KIND_STRING, AT(from), NULL},
    {"to", KIND_TO, 0, NULL},
    {"subject", KIND_STRING, AT(subject), NULL},
    {"message-id", KIND_STRING, AT(message_id), NULL},
    {"eml", KIND_STRING, AT(eml), NULL},
    {"max-attempts", KIND_COUNT, AT(max_attempts), NULL},
    {"max-time", KIND_SECONDS, AT(max_time), NULL},
    {"reply-timeout", KIND_SECONDS, AT(reply_timeout), NULL},
    {"base-delay", KIND_DELAY, AT(base_delay), NULL},
    {"seed", KIND_SEED, AT(seed), NULL},
    {"help", KIND_HELP, 0, NULL},
};

/* find_spec: the option "--NAME" or "--NAME=VALUE" names, or NULL. */
static const struct opt_spec *find_spec(const char *arg)
{
	size_t len;

	if (strncmp(arg, "--", 2) != 0)
		return NULL;
	arg += 2;
	len = strcspn(arg, "=");
	for (size_t i = 0; i < sizeof opt_specs / sizeof opt_specs[0]; i++)
		if (strlen(opt_specs[i].name) == len && strncmp(arg, opt_specs[i].name, len) == 0)
			return &opt_specs[i];
	return NULL;
}

static int set_value(struct options *o, const struct opt_spec *sp, const char *v)
{
	void *field = (char *)o + sp->offset;

	switch (sp->kind) {
	case KIND_STRING:
		*(const char **)field = v;
		return 0;
	case KIND_TO:
		if (o->nto == MAX_RCPT)
			return -1;
		o->to[o->nto++] = v;
		return 0;
	case KIND_PORT:
		return parse_long(v, 1, 65535, field);
	case KIND_COUNT:
		return parse_long(v, 1, 1000, field);
	case KIND_SECONDS:
		return parse_seconds(v, 0.001, field);
	case KIND_DELAY:
		return parse_seconds(v, 0, field);
	case KIND_SEED:
		o->have_seed = 1;
		return parse_seed(v, field);
	case KIND_CHOICE:
		return parse_choice(v, sp->choices, field);
	case KIND_HELP:
		break;
	}
	return -1;
}

static int is_ses(const struct options *o)
{
	return o->api == API_SES_V2 || o->api == API_SES_V1;
}

/* --api names the protocol too; without it --protocol decides (OCI's API). */
static void resolve_api(struct options *o)
{
	if (o->api < 0)
		o->api = o->protocol == PROTO_HTTPS ? API_OCI : API_SMTP;
	else
		o->protocol = o->api == API_SMTP ? PROTO_SMTP : PROTO_HTTPS;
}

/* check_options: the options a run needs; prints what is missing, returns -1 then. */
static int check_options(const struct options *o)
{
	const char *missing = NULL;

	if (o->policy < 0)
		missing = "--policy";
	else if (o->from == NULL || o->nto == 0)
		missing = o->from == NULL ? "--from" : "--to";
	else if (o->protocol == PROTO_SMTP && (o->smtp_host == NULL || o->smtp_port == 0))
		missing = o->smtp_host == NULL ? "--smtp-host" : "--smtp-port";
	else if (o->protocol == PROTO_SMTP && o->eml == NULL)
		missing = "--eml";
	else if (o->protocol == PROTO_HTTPS && o->https_url == NULL)
		missing = "--https-url";
	else if (o->api == API_OCI && o->subject == NULL)
		missing = "--subject";
	else if (is_ses(o) && (o->eml == NULL || o->user == NULL || o->user[0] == '\0'))
		missing = o->eml == NULL ? "--eml" : "--user (the access key id)";
	else if (is_ses(o) && (o->region == NULL || o->region[0] == '\0'))
		missing = "--region";
	else if (is_ses(o) && (o->aws_secret == NULL || o->aws_secret[0] == '\0'))
		missing = "--aws-secret";
	else if ((o->protocol == PROTO_HTTPS || o->tls != TLS_NONE) && o->ca == NULL)
		missing = "--ca";
	else if ((o->user == NULL) != (o->password == NULL))
		missing = o->user == NULL ? "--user" : "--password";
	if (missing == NULL)
		return 0;
	fprintf(stderr, "refclient: %s is required\n", missing);
	return -1;
}

static void default_options(struct options *o)
{
	memset(o, 0, sizeof *o);
	o->policy = -1;
	o->api = -1;
	o->max_attempts = 8;
	o->max_time = 50;
	o->reply_timeout = 5;
	o->base_delay = 1;
}

/* parse_options: "--NAME VALUE" or "--NAME=VALUE" each; returns 0 to run, 1 after
 * --help, 2 on a usage error (said on stderr). */
static int parse_options(int argc, char **argv, struct options *o)
{
	default_options(o);
	for (int i = 1; i < argc; i++) {
		const struct opt_spec *sp = find_spec(argv[i]);
		const char *eq = strchr(argv[i], '='), *v;

		if (sp == NULL) {
			fprintf(stderr, "refclient: unknown option: %s\n", argv[i]);
			return 2;
		}
		if (sp->kind == KIND_HELP) {
			usage(stdout);
			return 1;
		}
		v = eq != NULL ? eq + 1 : i + 1 < argc ? argv[++i] : NULL;
		if (v == NULL || set_value(o, sp, v) != 0) {
			fprintf(stderr, "refclient: %s value for --%s%s%s\n", v ? "bad" : "no",
			        sp->name, v ? ": " : "", v ? v : "");
			return 2;
		}
	}
	resolve_api(o);
	return check_options(o) == 0 ? 0 : 2;
}

/* ---- the message file -------------------------------------------------------------------- */

static void message_find_body(struct message *m)
{
	const char *crlf = memmem(m->data, m->len, "\r\n\r\n", 4);
	const char *lf = memmem(m->data, m->len, "\n\n", 2);

	if (crlf != NULL && (lf == NULL || crlf < lf)) {
		m->body = crlf + 4;
	} else if (lf != NULL) {
		m->body = lf + 2;
	} else {
		m->body = m->data + m->len;
	}
	m->body_len = (size_t)(m->data + m->len - m->body);
}

/* message_load: reads path, or makes a small body when path is NULL. -1 on error. */
static int message_load(const char *path, struct message *m)
{
	FILE *f;
	long size;

	memset(m, 0, sizeof *m);
	if (path == NULL) {
		m->body = DEFAULT_BODY;
		m->body_len = strlen(DEFAULT_BODY);
		return 0;
	}
	errno = 0;
	if ((f = fopen(path, "rb")) == NULL || fseek(f, 0, SEEK_END) != 0 ||
	    (size = ftell(f)) < 0 || size > EML_MAX || fseek(f, 0, SEEK_SET) != 0 ||
	    (m->data = malloc((size_t)size + 1)) == NULL ||
	    fread(m->data, 1, (size_t)size, f) != (size_t)size) {
		fprintf(stderr, "refclient: cannot read %s: %s\n", path,
		        errno != 0 ? strerror(errno) : "too large or short read");
		if (f != NULL)
			fclose(f);
		free(m->data);
		m->data = NULL;
		return -1;
	}
	fclose(f);
	m->len = (size_t)size;
	m->data[m->len] = '\0';
	message_find_body(m);
	return 0;
}

/* ---- outcomes ---------------------------------------------------------------------------- */

/* curl_error_is_local: errors a retry cannot fix (certificates, configuration). */
static int curl_error_is_local(CURLcode rc)
{
	switch (rc) {
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
	case CURLE_NOT_BUILT_IN:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_USE_SSL_FAILED:
	case CURLE_LOGIN_DENIED:
	case CURLE_OUT_OF_MEMORY:
		return 1;
	default:
		return 0;
	}
}

/* outcome_no_reply: a curl error without a usable reply: local errors are permanent,
 * the rest (refused, dropped, timed out) transient. */
static void outcome_no_reply(struct outcome *out, CURLcode rc, const char *errbuf)
{
	out->code = 0;
	out->local = curl_error_is_local(rc);
	out->verdict = out->local ? VERDICT_PERMANENT : VERDICT_TRANSIENT;
	set_text(out->text, sizeof out->text, errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc));
}

/* describe: "CODE TEXT", "no reply: ERROR" or "error: ERROR", into buf. */
static const char *describe(const struct outcome *out, char *buf, size_t n)
{
	if (out->code != 0)
		snprintf(buf, n, "%ld %s", out->code, out->text);
	else
		snprintf(buf, n, "%s: %s", out->local ? "error" : "no reply", out->text);
	return buf;
}

/* ---- libcurl ----------------------------------------------------------------------------- */

/* set_common: options every attempt shares: fresh connection, CA, time limits. */
static void set_common(CURL *h, const struct options *o, char *errbuf, double budget)
{
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_FRESH_CONNECT, 1L);
	curl_easy_setopt(h, CURLOPT_FORBID_REUSE, 1L);
	if (o->ca != NULL)
		curl_easy_setopt(h, CURLOPT_CAINFO, o->ca);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)(o->reply_timeout * 1000));
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)(budget * 1000));
}

/* perform: curl_easy_perform through a multi handle polled every POLL_MS, because
 * libcurl checks the SMTP reply timeout and the low-speed limit only when the
 * transfer runs, and curl_easy_perform may sleep a whole second in between. */
static CURLcode perform(CURL *h)
{
	CURLM *m = curl_multi_init();
	CURLcode rc = CURLE_FAILED_INIT;
	CURLMsg *msg;
	int running = 1, left;

	if (m == NULL || curl_multi_add_handle(m, h) != CURLM_OK) {
		curl_multi_cleanup(m);
		return rc;
	}
	while (running && curl_multi_perform(m, &running) == CURLM_OK)
		if (running && curl_multi_poll(m, NULL, 0, POLL_MS, NULL) != CURLM_OK)
			break;
	while ((msg = curl_multi_info_read(m, &left)) != NULL)
		if (msg->msg == CURLMSG_DONE)
			rc = msg->data.result;
	curl_multi_remove_handle(m, h);
	curl_multi_cleanup(m);
	return rc;
}

/* ---- SMTP -------------------------------------------------------------------------------- */

/* trace_reply_line: one line the server sent; a complete reply sets code and text. */
static void trace_reply_line(struct smtp_trace *t, const char *line, size_t len)
{
	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	if (t->quitting || len < 3 || !isdigit((unsigned char)line[0]) ||
	    !isdigit((unsigned char)line[1]) || !isdigit((unsigned char)line[2]))
		return;
	if (!t->partial)
		t->pending[0] = '\0';
	else
		append_text(t->pending, sizeof t->pending, " / ", 3);
	if (len > 4)
		append_text(t->pending, sizeof t->pending, line + 4, len - 4);
	t->partial = len > 3 && line[3] == '-';
	if (t->partial)
		return;
	t->code = strtol(line, NULL, 10) % 1000;
	memcpy(t->text, t->pending, sizeof t->text);
	t->after_body = t->in_body;
	t->in_body = t->code == 354;
	t->awaiting = t->in_body; /* after 354 the end of DATA's reply is due */
}

static void trace_reply_chunk(struct smtp_trace *t, const char *data, size_t size)
{
	const char *end = data + size;

	while (data < end) {
		const char *nl = memchr(data, '\n', (size_t)(end - data));
		size_t len = nl != NULL ? (size_t)(nl - data) + 1 : (size_t)(end - data);

		trace_reply_line(t, data, len);
		data += len;
	}
}

/* trace_quit: libcurl sends QUIT even after a reply timed out, and waits the whole
 * reply timeout again for its answer; a server that stopped answering will not
 * answer QUIT either, so the connection is cut at once. */
static void trace_quit(struct smtp_trace *t)
{
	t->quitting = 1;
	if (t->awaiting && t->fd != CURL_SOCKET_BAD)
		shutdown(t->fd, SHUT_RDWR);
}

static int smtp_sockopt(void *arg, curl_socket_t fd, curlsocktype purpose)
{
	struct smtp_trace *t = arg;

	(void)purpose;
	t->fd = fd;
	return CURL_SOCKOPT_OK;
}

static int smtp_debug(CURL *h, curl_infotype type, char *data, size_t size, void *arg)
{
	struct smtp_trace *t = arg;

	(void)h;
	if (type == CURLINFO_HEADER_IN)
		trace_reply_chunk(t, data, size);
	else if (type == CURLINFO_HEADER_OUT && size >= 4 && strncasecmp(data, "QUIT", 4) == 0)
		trace_quit(t);
	else if (type == CURLINFO_HEADER_OUT || type == CURLINFO_DATA_OUT)
		t->awaiting = 1;
	return 0;
}

static size_t upload_read(char *buf, size_t size, size_t nitems, void *arg)
{
	struct upload *u = arg;
	size_t n = size * nitems;

	if (n > u->len - u->off)
		n = u->len - u->off;
	memcpy(buf, u->data + u->off, n);
	u->off += n;
	return n;
}

static void smtp_url(const struct options *o, char *buf, size_t n)
{
	int implicit = o->tls == TLS_IMPLICIT;
	long port = implicit && o->smtps_port != 0 ? o->smtps_port : o->smtp_port;
	int v6 = strchr(o->smtp_host, ':') != NULL;

	snprintf(buf, n, "%s://%s%s%s:%ld", implicit ? "smtps" : "smtp", v6 ? "[" : "",
	         o->smtp_host, v6 ? "]" : "", port);
}

static struct curl_slist *smtp_recipients(const struct options *o)
{
	struct curl_slist *list = NULL, *next;
	char buf[1024];

	for (size_t i = 0; i < o->nto; i++) {
		snprintf(buf, sizeof buf, "<%s>", o->to[i]);
		if ((next = curl_slist_append(list, buf)) == NULL) {
			curl_slist_free_all(list);
			return NULL;
		}
		list = next;
	}
	return list;
}

static void smtp_setup(CURL *h, const struct options *o, struct smtp_trace *t, struct upload *u,
                       struct curl_slist *rcpt)
{
	char url[600], from[1024];

	smtp_url(o, url, sizeof url);
	snprintf(from, sizeof from, "<%s>", o->from);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_USE_SSL,
	                 (long)(o->tls == TLS_NONE ? CURLUSESSL_NONE : CURLUSESSL_ALL));
	if (o->user != NULL) {
		curl_easy_setopt(h, CURLOPT_USERNAME, o->user);
		curl_easy_setopt(h, CURLOPT_PASSWORD, o->password);
		curl_easy_setopt(h, CURLOPT_LOGIN_OPTIONS, "AUTH=PLAIN");
	}
	curl_easy_setopt(h, CURLOPT_MAIL_FROM, from);
	curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rcpt);
	curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(h, CURLOPT_READFUNCTION, upload_read);
	curl_easy_setopt(h, CURLOPT_READDATA, u);
	curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)u->len);
	curl_easy_setopt(h, CURLOPT_SERVER_RESPONSE_TIMEOUT, (long)(o->reply_timeout + 0.999));
	curl_easy_setopt(h, CURLOPT_VERBOSE, 1L); /* the debug callback sees the replies */
	curl_easy_setopt(h, CURLOPT_DEBUGFUNCTION, smtp_debug);
	curl_easy_setopt(h, CURLOPT_DEBUGDATA, t);
	curl_easy_setopt(h, CURLOPT_SOCKOPTFUNCTION, smtp_sockopt);
	curl_easy_setopt(h, CURLOPT_SOCKOPTDATA, t);
}

/* smtp_classify: libcurl fails on any end-of-DATA reply but 250, so a 2xx there
 * (254 Suppression) is a delivery; a code seen while a reply was still due
 * belongs to an earlier command, so it does not count. */
static void smtp_classify(CURLcode rc, long info_code, const struct smtp_trace *t,
                          const char *errbuf, struct outcome *out)
{
	long code = info_code != 0 ? info_code : t->code;

	if (rc != CURLE_OK && (t->awaiting || code < 200 || (code < 400 && !t->after_body))) {
		outcome_no_reply(out, rc, errbuf);
		return;
	}
	out->code = code;
	set_text(out->text, sizeof out->text, t->text);
	if (code / 100 == 2)
		out->verdict = VERDICT_DELIVERED;
	else if (code / 100 == 4)
		out->verdict = VERDICT_TRANSIENT;
	else
		out->verdict = VERDICT_PERMANENT;
}

static void smtp_attempt(const struct options *o, const struct message *m, double budget,
                         struct outcome *out)
{
	struct smtp_trace trace = {.awaiting = 1, .fd = CURL_SOCKET_BAD}; /* greeting due */
	struct upload up = {m->data, m->len, 0};
	struct curl_slist *rcpt = smtp_recipients(o);
	char errbuf[CURL_ERROR_SIZE] = "";
	CURL *h = curl_easy_init();
	long code = 0;
	CURLcode rc = CURLE_OUT_OF_MEMORY;

	if (h != NULL && rcpt != NULL) {
		set_common(h, o, errbuf, budget);
		smtp_setup(h, o, &trace, &up, rcpt);
		rc = perform(h);
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	}
	smtp_classify(rc, code, &trace, errbuf, out);
	curl_easy_cleanup(h);
	curl_slist_free_all(rcpt);
}

/* ---- HTTPS ------------------------------------------------------------------------------- */

/* request_id: 32 upper-case hex digits, as the OCI SDKs make, the same on every retry. */
static void request_id(char *buf, size_t n)
{
	unsigned char raw[16];
	uint64_t state = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);

	if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw)
		for (size_t i = 0; i < sizeof raw; i++)
			raw[i] = (unsigned char)rng_next(&state);
	for (size_t i = 0; i < sizeof raw && 2 * i + 2 < n; i++)
		snprintf(buf + 2 * i, 3, "%02X", raw[i]);
}

/* submit_body: the submitEmail JSON, or NULL when the body text is not UTF-8. */
static char *submit_body(const struct options *o, const struct message *m)
{
	json_t *to = json_array(), *root, *text = json_stringn(m->body, m->body_len);
	char *s;

	if (text == NULL) {
		json_decref(to);
		return NULL;
	}
	for (size_t i = 0; i < o->nto; i++)
		json_array_append_new(to, json_pack("{s:s}", "email", o->to[i]));
	root = json_pack("{s:{s:{s:s},s:s},s:{s:o},s:s,s:o}", "sender", "senderAddress", "email",
	                 o->from, "compartmentId", COMPARTMENT_ID, "recipients", "to", to,
	                 "subject", o->subject, "bodyText", text);
	if (root != NULL && o->message_id != NULL)
		json_object_set_new(root, "messageId", json_string(o->message_id));
	s = root != NULL ? json_dumps(root, JSON_COMPACT) : NULL;
	json_decref(root);
	return s;
}

static size_t buffer_write(char *data, size_t size, size_t nmemb, void *arg)
{
	struct buffer *b = arg;
	size_t n = size * nmemb;
	char *grown;

	if (b->len + n > HTTP_BODY_MAX || (grown = realloc(b->data, b->len + n + 1)) == NULL)
		return 0;
	b->data = grown;
	memcpy(b->data + b->len, data, n);
	b->len += n;
	b->data[b->len] = '\0';
	return n;
}

/* https_text: "CODE: message" of an error body, "messageId ... envelopeId ..." of a 200. */
static void https_text(long status, const struct buffer *b, char *buf, size_t n)
{
	json_t *root = b->data != NULL ? json_loads(b->data, 0, NULL) : NULL;
	const char *a = NULL, *c = NULL;

	if (status / 100 == 2)
		json_unpack(root, "{s?s,s?s}", "messageId", &a, "envelopeId", &c);
	else
		json_unpack(root, "{s?s,s?s}", "code", &a, "message", &c);
	if (a != NULL || c != NULL)
		snprintf(buf, n, status / 100 == 2 ? "messageId %s envelopeId %s" : "%s: %s",
		         a != NULL ? a : "-", c != NULL ? c : "-");
	else
		set_text(buf, n, b->data != NULL ? b->data : "");
	for (char *p = buf; *p != '\0'; p++)
		if (iscntrl((unsigned char)*p))
			*p = ' ';
	json_decref(root);
}

/* is_limit_exceeded: a 400 LimitExceeded (the per-minute or per-day quota) is a
 * 400 that waiting cures, as the catalog says (kind: transient). */
static int is_limit_exceeded(long status, const struct buffer *b)
{
	json_t *root = status == 400 && b->data != NULL ? json_loads(b->data, 0, NULL) : NULL;
	const char *code = NULL;
	int yes;

	json_unpack(root, "{s:s}", "code", &code);
	yes = code != NULL && strcmp(code, "LimitExceeded") == 0;
	json_decref(root);
	return yes;
}

static enum verdict https_verdict(long status, const struct buffer *b)
{
	if (status / 100 == 2)
		return VERDICT_DELIVERED;
	if (is_limit_exceeded(status, b))
		return VERDICT_TRANSIENT;
	switch (status) {
	case 409:
	case 429:
	case 500:
	case 502:
	case 503:
	case 504:
		return VERDICT_TRANSIENT;
	default:
		return VERDICT_PERMANENT;
	}
}

static struct curl_slist *https_headers(const char *rid)
{
	char line[80];
	const char *lines[] = {"Content-Type: application/json", "Accept: application/json",
	                       "Expect:", line};
	struct curl_slist *list = NULL, *next;

	snprintf(line, sizeof line, "opc-request-id: %s", rid);
	for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
		next = curl_slist_append(list, lines[i]);
		if (next == NULL) {
			curl_slist_free_all(list);
			return NULL;
		}
		list = next;
	}
	return list;
}

/* What every HTTPS attempt does with the answer: the body into b; no byte
 * for reply-timeout seconds and the request is given up. */
static void receive_into(CURL *h, const struct options *o, struct buffer *b)
{
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, buffer_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, b);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, (long)(o->reply_timeout + 0.999));
}

static void https_setup(CURL *h, const struct options *o, const char *json,
                        struct curl_slist *headers, struct buffer *b)
{
	char url[1024];
	size_t base = strlen(o->https_url);

	while (base > 0 && o->https_url[base - 1] == '/')
		base--;
	snprintf(url, sizeof url, "%.*s%s", (int)base, o->https_url, SUBMIT_PATH);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, json);
	receive_into(h, o, b);
}

/* https_note_request_id: appends the opc-request-id the server echoed, so the
 * output shows that every retry carried the same one. */
static void https_note_request_id(CURL *h, char *text, size_t n)
{
	struct curl_header *hdr;
	char note[128];

	if (curl_easy_header(h, "opc-request-id", 0, CURLH_HEADER, -1, &hdr) != CURLHE_OK)
		return;
	snprintf(note, sizeof note, " [opc-request-id %s]", hdr->value);
	append_text(text, n, note, strlen(note));
}

static void https_attempt(const struct options *o, const char *json, const char *rid, double budget,
                          struct outcome *out)
{
	struct curl_slist *headers = https_headers(rid);
	struct buffer b = {NULL, 0};
	char errbuf[CURL_ERROR_SIZE] = "";
	CURL *h = curl_easy_init();
	CURLcode rc = CURLE_OUT_OF_MEMORY;
	curl_off_t retry_after = 0;
	long status = 0;

	if (h != NULL && headers != NULL) {
		set_common(h, o, errbuf, budget);
		https_setup(h, o, json, headers, &b);
		rc = perform(h);
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
		curl_easy_getinfo(h, CURLINFO_RETRY_AFTER, &retry_after);
	}
	if (rc != CURLE_OK) {
		outcome_no_reply(out, rc, errbuf);
	} else {
		out->code = status;
		out->verdict = https_verdict(status, &b);
		https_text(status, &b, out->text, sizeof out->text);
		https_note_request_id(h, out->text, sizeof out->text);
		out->retry_after = (double)retry_after;
	}
	free(b.data);
	curl_easy_cleanup(h);
	curl_slist_free_all(headers);
}

/* ses_attempt: attempt n of an SES call, signed with the access key. */
static void ses_attempt(const struct options *o, const struct ses_call *call, long n, double budget,
                        struct outcome *out)
{
	struct curl_slist *headers = ses_call_headers(call, n, o->max_attempts);
	struct buffer b = {NULL, 0};
	char errbuf[CURL_ERROR_SIZE] = "";
	CURL *h = curl_easy_init();
	CURLcode rc = CURLE_OUT_OF_MEMORY;
	curl_off_t retry_after = 0;
	long status = 0;

	if (h != NULL && headers != NULL) {
		set_common(h, o, errbuf, budget);
		receive_into(h, o, &b);
		ses_call_setup(h, call, headers, o->region, o->user, o->aws_secret);
		rc = perform(h);
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
		curl_easy_getinfo(h, CURLINFO_RETRY_AFTER, &retry_after);
	}
	if (rc != CURLE_OK) {
		outcome_no_reply(out, rc, errbuf);
	} else {
		int transient = ses_answer(call, h, status, b.data, out->text, sizeof out->text);
		out->code = status;
		out->verdict = status / 100 == 2 ? VERDICT_DELIVERED
		               : transient       ? VERDICT_TRANSIENT
		                                 : VERDICT_PERMANENT;
		out->retry_after = (double)retry_after;
	}
	free(b.data);
	curl_easy_cleanup(h);
	curl_slist_free_all(headers);
}

/* ---- the retry loop ---------------------------------------------------------------------- */

struct run {
	const struct options *o;
	const struct message *m;
	char *json;          /* HTTPS: the request body, the same for every attempt */
	char rid[40];        /* HTTPS: opc-request-id, the same for every attempt */
	struct ses_call ses; /* SES: the call, the same for every attempt */
	long n;              /* the attempt being made, from 1 */
	double deadline;     /* monotonic time --max-time ends at */
	uint64_t rng;
};

static void attempt(struct run *r, struct outcome *out)
{
	double budget = r->deadline - now_seconds();

	memset(out, 0, sizeof *out);
	if (budget < 1)
		budget = 1;
	if (is_ses(r->o))
		ses_attempt(r->o, &r->ses, r->n, budget, out);
	else if (r->o->protocol == PROTO_HTTPS)
		https_attempt(r->o, r->json, r->rid, budget, out);
	else
		smtp_attempt(r->o, r->m, budget, out);
}

/* backoff: base x 2^(n-1), capped, plus 0..25% jitter; never less than Retry-After. */
static double backoff(struct run *r, long n, double retry_after)
{
	double d = r->o->base_delay;

	for (long i = 1; i < n && d < MAX_BACKOFF; i++)
		d *= 2;
	if (d > MAX_BACKOFF)
		d = MAX_BACKOFF;
	d += d * JITTER * rng_unit(&r->rng);
	return d < retry_after ? retry_after : d;
}

/* run_attempts: attempts until delivered, failed for good, or out of attempts or time. */
static int run_attempts(struct run *r)
{
	struct outcome out;
	char desc[REPLY_MAX + 64];
	double wait;

	for (long n = 1;; n++) {
		r->n = n;
		attempt(r, &out);
		printf("attempt %ld: %s\n", n, describe(&out, desc, sizeof desc));
		if (out.verdict == VERDICT_DELIVERED) {
			printf("delivered after %ld attempt(s)\n", n);
			return 0;
		}
		if (out.verdict == VERDICT_PERMANENT) {
			printf("failed: permanent: %s\n", desc);
			return 1;
		}
		wait = backoff(r, n, out.retry_after);
		if (r->o->policy == POLICY_GOOD && n < r->o->max_attempts &&
		    now_seconds() + wait < r->deadline) {
			printf("waiting %.1fs before attempt %ld\n", wait, n + 1);
			sleep_seconds(wait);
			continue;
		}
		if (r->o->policy == POLICY_GOOD && n < r->o->max_attempts)
			printf("no time left for attempt %ld within --max-time %gs\n", n + 1,
			       r->o->max_time);
		printf("failed: gave up after %ld attempts: %s\n", n, desc);
		return 1;
	}
}

static int run(const struct options *o, const struct message *m)
{
	struct run r = {.o = o, .m = m, .deadline = now_seconds() + o->max_time};
	int status;

	r.rng = o->have_seed ? o->seed : (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20);
	if (is_ses(o) && ses_call_new(&r.ses, o->api == API_SES_V1 ? SES_API_V1 : SES_API_V2,
	                              o->https_url, o->from, o->to, o->nto, m->data, m->len) < 0) {
		fprintf(stderr, "refclient: out of memory\n");
		return 1;
	}
	if (o->api == API_OCI) {
		request_id(r.rid, sizeof r.rid);
		if ((r.json = submit_body(o, m)) == NULL) {
			fprintf(stderr, "refclient: the message body is not valid UTF-8\n");
			return 2;
		}
	}
	status = run_attempts(&r);
	free(r.json);
	if (is_ses(o))
		ses_call_free(&r.ses);
	return status;
}

int main(int argc, char **argv)
{
	struct options o;
	struct message m;
	int status = parse_options(argc, argv, &o);

	if (status != 0) {
		if (status == 2)
			usage(stderr);
		return status == 1 ? 0 : 2;
	}
	if (message_load(o.eml, &m) != 0)
		return 2;
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "refclient: curl_global_init failed\n");
		free(m.data);
		return 1;
	}
	status = run(&o, &m);
	curl_global_cleanup();
	free(m.data);
	return status;
}
