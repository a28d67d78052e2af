/*
 * sigv4.c - AWS Signature Version 4 on a header-signed request, checked in
 * the order AWS's services check it (their replies show the order: a
 * request wrong in two ways gets the earlier complaint):
 *
 *   1. an Authorization header that begins "AWS4-"      SIGV4_MISSING
 *   2. every part (between commas, blanks) key=value    SIGV4_MALFORMED_PAIR
 *   3. Credential, Signature, SignedHeaders and a date  SIGV4_INCOMPLETE
 *   4. the date in ISO 8601 basic format                SIGV4_BAD_DATE
 *   5. the date within SIGV4_SKEW_SECONDS of now        SIGV4_EXPIRED, _NOT_YET_CURRENT
 *   6. host among the signed headers                    SIGV4_HOST_NOT_SIGNED
 *   7. the algorithm AWS4-HMAC-SHA256                   SIGV4_BAD_ALGORITHM
 *   8. Credential = keyid/date/region/service/term      SIGV4_BAD_CREDENTIAL
 *   9. that scope ours and of the request's date        SIGV4_BAD_SCOPE
 *  10. the key id known                                 SIGV4_UNKNOWN_KEY
 *  11. the signature ours                               SIGV4_MISMATCH
 *
 * The canonical request is AWS's for services other than S3: the path
 * normalised (empty and "." segments dropped, ".." applied) and each byte
 * of it outside RFC 3986's unreserved set encoded again, so an "%40" that
 * came in is signed as "%2540"; query names and values decoded, encoded
 * and sorted; the signed headers lower-cased, their values trimmed with
 * inner blanks collapsed and repeats joined by ','; the SHA-256 of the
 * body as it came in (an x-amz-content-sha256 header is only one more
 * header here, as it is for every service but S3).
 *
 * Invariants: no state outside the caller's structures; *out is wholly
 * set on every return; what grows with the client's request (the
 * canonical request, the query's parameters) is malloc'ed and checked, a
 * failure answering SIGV4_INTERNAL; the signature is compared in constant
 * time (CRYPTO_memcmp) and the signing key is wiped after use. OpenSSL
 * does the hashing; the key chain is ses_signing_key()'s.
 */
#include "sigv4.h"

#include <math.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "ses_credentials.h"

#define ALGORITHM  "AWS4-HMAC-SHA256"
#define TERMINATOR "aws4_request"
#define HEX_SHA256 64

/* Part of a string the client sent, not NUL-terminated. */
struct span {
	const char *p;
	size_t n;
};

/* The Authorization header taken apart. */
struct auth_parts {
	struct span algorithm;
	struct span credential;
	struct span signed_headers;
	struct span signature;
	int has_signed_headers; /* AWS accepts an empty SignedHeaders here */
};

/* A growing string. A failed allocation sets failed; later adds do nothing. */
struct text {
	char *s;
	size_t len;
	size_t cap;
	int failed;
};

/* A query parameter, decoded and encoded again. */
struct query_param {
	char *name;
	char *value;
};

static int is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static int span_is(struct span s, const char *literal)
{
	return s.n == strlen(literal) && memcmp(s.p, literal, s.n) == 0;
}

static struct span span_of(const char *p, const char *end)
{
	struct span s = {p, (size_t)(end - p)};

	return s;
}

/* A truncating copy into a NUL-terminated buffer. */
static void copy_span(char *out, size_t outlen, struct span s)
{
	size_t n = s.n < outlen - 1 ? s.n : outlen - 1;

	memcpy(out, s.p, n);
	out[n] = '\0';
}

static void copy_string(char *out, size_t outlen, const char *s)
{
	struct span all = {s, strlen(s)};

	copy_span(out, outlen, all);
}

static void text_add(struct text *t, const char *p, size_t n)
{
	if (t->failed)
		return;
	if (t->len + n + 1 > t->cap) {
		size_t cap = t->cap != 0 ? t->cap : 256;
		char *s;

		while (t->len + n + 1 > cap)
			cap *= 2;
		s = realloc(t->s, cap);
		if (s == NULL) {
			t->failed = 1;
			return;
		}
		t->s = s;
		t->cap = cap;
	}
	memcpy(t->s + t->len, p, n);
	t->len += n;
	t->s[t->len] = '\0';
}

static void text_addc(struct text *t, char c)
{
	text_add(t, &c, 1);
}

static void text_adds(struct text *t, const char *s)
{
	text_add(t, s, strlen(s));
}

static void hex_encode(const unsigned char *bytes, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[bytes[i] >> 4];
		out[2 * i + 1] = digits[bytes[i] & 0xf];
	}
	out[2 * n] = '\0';
}

/* out = hex(SHA-256(data)), 64 characters and a NUL. */
static void sha256_hex(const void *data, size_t len, char out[HEX_SHA256 + 1])
{
	unsigned char md[32];

	EVP_Digest(len != 0 ? data : "", len, md, NULL, EVP_sha256(), NULL);
	hex_encode(md, sizeof md, out);
}

/* The first header of that name (ASCII case ignored), or NULL. */
static const char *find_header(const struct sigv4_request *req, const char *name)
{
	for (size_t i = 0; i < req->nheaders; i++)
		if (strcasecmp(req->headers[i].name, name) == 0)
			return req->headers[i].value;
	return NULL;
}

/* --- 1-3: the Authorization header ------------------------------------- */

static void set_auth_param(struct auth_parts *a, struct span key, struct span value)
{
	if (span_is(key, "Credential"))
		a->credential = value;
	else if (span_is(key, "Signature"))
		a->signature = value;
	else if (span_is(key, "SignedHeaders")) {
		a->signed_headers = value;
		a->has_signed_headers = 1;
	}
}

static int is_separator(char c)
{
	return c == ',' || is_blank(c);
}

/* "AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...": the
 * algorithm up to the first blank, then key=value parts separated by
 * commas or blanks, as AWS splits them ("a=1,b=2" passes; "Credential=
 * AKID/..." has a part "AKID/..." without '=', and AWS says so). */
static enum sigv4_status parse_authorization(const char *auth, struct auth_parts *a,
                                             struct sigv4_result *out)
{
	const char *p = auth;

	memset(a, 0, sizeof *a);
	while (is_blank(*p))
		p++;
	a->algorithm.p = p;
	while (*p != '\0' && !is_blank(*p))
		p++;
	a->algorithm.n = (size_t)(p - a->algorithm.p);
	for (;;) {
		const char *start, *eq;

		while (is_separator(*p))
			p++;
		if (*p == '\0')
			return SIGV4_OK;
		start = p;
		while (*p != '\0' && !is_separator(*p))
			p++;
		eq = memchr(start, '=', (size_t)(p - start));
		if (eq == NULL) {
			copy_span(out->pair, sizeof out->pair, span_of(start, p));
			return SIGV4_MALFORMED_PAIR;
		}
		set_auth_param(a, span_of(start, eq), span_of(eq + 1, p));
	}
}

static unsigned missing_parts(const struct auth_parts *a, const char *date)
{
	unsigned missing = 0;

	if (a->credential.n == 0)
		missing |= SIGV4_NEED_CREDENTIAL;
	if (a->signature.n == 0)
		missing |= SIGV4_NEED_SIGNATURE;
	if (!a->has_signed_headers)
		missing |= SIGV4_NEED_SIGNED_HEADERS;
	if (date == NULL)
		missing |= SIGV4_NEED_DATE;
	return missing;
}

/* X-Amz-Date, else Date; an empty value counts as none. */
static const char *request_date_header(const struct sigv4_request *req, int *is_amz)
{
	const char *date = find_header(req, "x-amz-date");

	*is_amz = date != NULL && *date != '\0';
	if (*is_amz)
		return date;
	date = find_header(req, "date");
	return date != NULL && *date != '\0' ? date : NULL;
}

/* --- 4-5: the date ----------------------------------------------------- */

static int digits_at(const char *s, size_t n)
{
	int v = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/* A real instant written as the fields say (no 13th month, no 30 Feb). */
static int tm_to_time(struct tm *tm, time_t *t)
{
	struct tm check = *tm;
	struct tm back;

	*t = timegm(&check);
	if (*t == (time_t)-1 || gmtime_r(t, &back) == NULL)
		return -1;
	return back.tm_year == tm->tm_year && back.tm_mon == tm->tm_mon &&
	               back.tm_mday == tm->tm_mday && back.tm_hour == tm->tm_hour &&
	               back.tm_min == tm->tm_min && back.tm_sec == tm->tm_sec
	           ? 0
	           : -1;
}

/* ISO 8601 basic format: "20150830T123600Z", nothing else. */
static int parse_basic_time(const char *s, time_t *t)
{
	struct tm tm = {0};
	int fields[6];
	static const int at[6] = {0, 4, 6, 9, 11, 13}, len[6] = {4, 2, 2, 2, 2, 2};

	if (strlen(s) != SIGV4_TIME_LEN || s[8] != 'T' || s[15] != 'Z')
		return -1;
	for (int i = 0; i < 6; i++)
		if ((fields[i] = digits_at(s + at[i], (size_t)len[i])) < 0)
			return -1;
	tm.tm_year = fields[0] - 1900;
	tm.tm_mon = fields[1] - 1;
	tm.tm_mday = fields[2];
	tm.tm_hour = fields[3];
	tm.tm_min = fields[4];
	tm.tm_sec = fields[5];
	return tm_to_time(&tm, t);
}

/* The HTTP Date header's own format, "Sun, 30 Aug 2015 12:36:00 GMT", which
 * AWS accepts in Date (not in X-Amz-Date). */
static int parse_http_time(const char *s, time_t *t)
{
	struct tm tm = {0};
	const char *end = strptime(s, "%a, %d %b %Y %H:%M:%S GMT", &tm);

	if (end == NULL || *end != '\0')
		return -1;
	return tm_to_time(&tm, t);
}

static void format_basic_time(time_t t, char out[SIGV4_TIME_LEN + 1])
{
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(out, SIGV4_TIME_LEN + 1, "%Y%m%dT%H%M%SZ", &tm) != SIGV4_TIME_LEN)
		out[0] = '\0';
}

/* SIGV4_OK when signed within the skew window around now. The times are
 * printed to the second, now truncated, as AWS prints them. */
static enum sigv4_status check_window(time_t signed_at, double now, struct sigv4_result *out)
{
	time_t server = (time_t)floor(now);

	format_basic_time(server, out->server_time);
	if ((double)signed_at < now - SIGV4_SKEW_SECONDS) {
		format_basic_time(server - SIGV4_SKEW_SECONDS, out->window_edge);
		return SIGV4_EXPIRED;
	}
	if ((double)signed_at > now + SIGV4_SKEW_SECONDS) {
		format_basic_time(server + SIGV4_SKEW_SECONDS, out->window_edge);
		return SIGV4_NOT_YET_CURRENT;
	}
	return SIGV4_OK;
}

/* --- 6-10: signed headers, algorithm, credential scope, key ------------ */

/* Calls fn on each ';'-separated name of list; stops when fn returns
 * non-zero and returns that. */
static int each_signed_name(struct span list, int (*fn)(struct span name, void *arg), void *arg)
{
	const char *p = list.p, *end = list.p + list.n;

	while (p < end) {
		const char *semi = memchr(p, ';', (size_t)(end - p));
		const char *stop = semi != NULL ? semi : end;
		int r = fn(span_of(p, stop), arg);

		if (r != 0)
			return r;
		p = stop + 1;
	}
	return 0;
}

static int is_host_name(struct span name, void *arg)
{
	(void)arg;
	return (name.n == 4 && strncasecmp(name.p, "host", 4) == 0) ||
	       (name.n == 10 && strncasecmp(name.p, ":authority", 10) == 0);
}

/* keyid/date/region/service/term, split as AWS's Java does: trailing empty
 * fields dropped, inner ones kept. 0, or -1 when not exactly 5 fields. */
static int split_credential(struct span cred, struct span parts[5])
{
	size_t n = cred.n, count = 0;
	const char *p = cred.p, *end;

	while (n > 0 && cred.p[n - 1] == '/')
		n--;
	end = cred.p + n;
	if (n == 0)
		return -1;
	while (p <= end) {
		const char *slash = memchr(p, '/', (size_t)(end - p));
		const char *stop = slash != NULL ? slash : end;

		if (count == 5)
			return -1;
		parts[count++] = span_of(p, stop);
		p = stop + 1;
	}
	return count == 5 ? 0 : -1;
}

static unsigned scope_errors(const struct span parts[5], const char *request_date,
                             const char *region, const char *service)
{
	unsigned errors = 0;

	if (!span_is(parts[2], region))
		errors |= SIGV4_SCOPE_REGION;
	if (!span_is(parts[3], service))
		errors |= SIGV4_SCOPE_SERVICE;
	if (!span_is(parts[4], TERMINATOR))
		errors |= SIGV4_SCOPE_TERMINATOR;
	if (!span_is(parts[1], request_date))
		errors |= SIGV4_SCOPE_DATE;
	return errors;
}

static const struct sigv4_key *find_key(const struct sigv4_key *keys, size_t nkeys, struct span id,
                                        size_t *index)
{
	for (size_t i = 0; i < nkeys; i++)
		if (span_is(id, keys[i].id)) {
			*index = i;
			return &keys[i];
		}
	return NULL;
}

/* --- 11: the canonical request and the signature ---------------------- */

static int is_unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~';
}

/* Every byte outside the unreserved set as %XX (upper-case hex). */
static void add_encoded(struct text *t, const char *p, size_t n)
{
	static const char digits[] = "0123456789ABCDEF";

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		char esc[3] = {'%', digits[c >> 4], digits[c & 0xf]};

		if (is_unreserved(c))
			text_addc(t, (char)c);
		else
			text_add(t, esc, sizeof esc);
	}
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* p decoded (%XX; a '%' not followed by two hex digits stays itself, and
 * '+' is a plus, as RFC 3986 has it) and encoded again: a malloc'ed
 * string, NULL when memory runs out. */
static char *reencode(const char *p, size_t n)
{
	struct text t = {0};

	text_add(&t, "", 0);
	for (size_t i = 0; i < n; i++) {
		char c = p[i];

		if (c == '%' && n - i >= 3 && hex_value(p[i + 1]) >= 0 &&
		    hex_value(p[i + 2]) >= 0) {
			c = (char)(hex_value(p[i + 1]) * 16 + hex_value(p[i + 2]));
			i += 2;
		}
		add_encoded(&t, &c, 1);
	}
	if (t.failed) {
		free(t.s);
		return NULL;
	}
	return t.s;
}

/* The path normalised: "", "." dropped, ".." removes the segment before;
 * a trailing '/' kept; each segment's bytes encoded again. */
static void add_canonical_uri(struct text *t, const char *path)
{
	struct span *segs;
	size_t nsegs = 0, max = 1;
	const char *p = path != NULL ? path : "", *end = p + strlen(p);
	int trailing = 0;

	for (const char *q = p; *q != '\0'; q++)
		max += *q == '/';
	segs = malloc(max * sizeof *segs);
	if (segs == NULL) {
		t->failed = 1;
		return;
	}
	while (p <= end) {
		const char *slash = memchr(p, '/', (size_t)(end - p));
		struct span seg = span_of(p, slash != NULL ? slash : end);

		trailing = slash == NULL && (seg.n == 0 || span_is(seg, ".") || span_is(seg, ".."));
		if (span_is(seg, ".."))
			nsegs -= nsegs > 0;
		else if (seg.n != 0 && !span_is(seg, "."))
			segs[nsegs++] = seg;
		p = (slash != NULL ? slash : end) + 1;
	}
	for (size_t i = 0; i < nsegs; i++) {
		text_addc(t, '/');
		add_encoded(t, segs[i].p, segs[i].n);
	}
	if (nsegs == 0 || trailing)
		text_addc(t, '/');
	free(segs);
}

static int compare_params(const void *a, const void *b)
{
	const struct query_param *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c != 0 ? c : strcmp(x->value, y->value);
}

static void free_params(struct query_param *params, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(params[i].name);
		free(params[i].value);
	}
	free(params);
}

/* name=value pairs, each part decoded and encoded again, sorted by name
 * then value, joined by '&'; "name=" for a name without a value. */
static void add_canonical_query(struct text *t, const char *query)
{
	struct query_param *params;
	size_t n = 0, max = 1;
	const char *p = query != NULL ? query : "", *end = p + strlen(p);

	for (const char *q = p; *q != '\0'; q++)
		max += *q == '&';
	params = calloc(max, sizeof *params);
	if (params == NULL) {
		t->failed = 1;
		return;
	}
	while (p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *stop = amp != NULL ? amp : end;
		const char *eq = memchr(p, '=', (size_t)(stop - p));
		const char *name_end = eq != NULL ? eq : stop;

		if (stop > p) {
			struct query_param *q = &params[n++];

			q->name = reencode(p, (size_t)(name_end - p));
			q->value = eq != NULL ? reencode(eq + 1, (size_t)(stop - eq - 1))
			                      : reencode("", 0);
			if (q->name == NULL || q->value == NULL)
				t->failed = 1;
		}
		p = stop + 1;
	}
	if (!t->failed) {
		qsort(params, n, sizeof *params, compare_params);
		for (size_t i = 0; i < n; i++) {
			if (i > 0)
				text_addc(t, '&');
			text_adds(t, params[i].name);
			text_addc(t, '=');
			text_adds(t, params[i].value);
		}
	}
	free_params(params, n);
}

/* The value trimmed, each inner run of blanks one space. */
static void add_header_value(struct text *t, const char *value)
{
	int blank = 0;

	while (is_blank(*value))
		value++;
	for (; *value != '\0'; value++) {
		if (is_blank(*value)) {
			blank = 1;
			continue;
		}
		if (blank)
			text_addc(t, ' ');
		blank = 0;
		text_addc(t, *value);
	}
}

struct header_lines {
	struct text *t;
	const struct sigv4_request *req;
};

/* "name:value\n" for one signed name, the values of its repeats joined by
 * ','; "name:\n" when the request has no such header. */
static int add_header_line(struct span name, void *arg)
{
	struct header_lines *h = arg;
	int first = 1;

	for (size_t i = 0; i < name.n; i++)
		text_addc(h->t, (char)(name.p[i] >= 'A' && name.p[i] <= 'Z' ? name.p[i] + 32
		                                                            : name.p[i]));
	text_addc(h->t, ':');
	for (size_t i = 0; i < h->req->nheaders; i++) {
		const struct sigv4_header *hd = &h->req->headers[i];

		if (strlen(hd->name) != name.n || strncasecmp(hd->name, name.p, name.n) != 0)
			continue;
		if (!first)
			text_addc(h->t, ',');
		first = 0;
		add_header_value(h->t, hd->value);
	}
	text_addc(h->t, '\n');
	return 0;
}

static void build_canonical_request(struct text *t, const struct sigv4_request *req,
                                    struct span signed_headers)
{
	struct header_lines lines = {t, req};
	char body_hash[HEX_SHA256 + 1];

	text_adds(t, req->method != NULL ? req->method : "");
	text_addc(t, '\n');
	add_canonical_uri(t, req->path);
	text_addc(t, '\n');
	add_canonical_query(t, req->query);
	text_addc(t, '\n');
	each_signed_name(signed_headers, add_header_line, &lines);
	text_addc(t, '\n');
	text_add(t, signed_headers.p, signed_headers.n);
	text_addc(t, '\n');
	sha256_hex(req->body, req->body_len, body_hash);
	text_adds(t, body_hash);
}

static void build_string_to_sign(struct text *t, const struct sigv4_result *r)
{
	char hash[HEX_SHA256 + 1];

	sha256_hex(r->canonical_request, strlen(r->canonical_request), hash);
	text_adds(t, ALGORITHM "\n");
	text_adds(t, r->signing_time);
	text_addc(t, '\n');
	text_adds(t, r->request_date);
	text_addc(t, '/');
	text_adds(t, r->region);
	text_addc(t, '/');
	text_adds(t, r->service);
	text_adds(t, "/" TERMINATOR "\n");
	text_adds(t, hash);
}

/* hex(HMAC(signing key for the request's date, region and service,
 * string to sign)) into r->expected_signature. */
static void sign(const struct sigv4_key *key, struct sigv4_result *r)
{
	unsigned char k[SES_KEY_LEN], mac[SES_KEY_LEN];

	ses_signing_key(key->secret, r->request_date, r->region, r->service, k);
	ses_hmac_sha256(k, sizeof k, r->string_to_sign, strlen(r->string_to_sign), mac);
	hex_encode(mac, sizeof mac, r->expected_signature);
	OPENSSL_cleanse(k, sizeof k);
	OPENSSL_cleanse(mac, sizeof mac);
}

/* Step 11: the canonical request, the string to sign, the comparison. */
static enum sigv4_status check_signature(const struct sigv4_request *req,
                                         const struct auth_parts *a, const struct sigv4_key *key,
                                         struct sigv4_result *out)
{
	struct text creq = {0}, sts = {0};

	build_canonical_request(&creq, req, a->signed_headers);
	out->canonical_request = creq.s;
	if (creq.failed)
		return SIGV4_INTERNAL;
	build_string_to_sign(&sts, out);
	out->string_to_sign = sts.s;
	if (sts.failed)
		return SIGV4_INTERNAL;
	sign(key, out);
	if (a->signature.n == HEX_SHA256 &&
	    CRYPTO_memcmp(a->signature.p, out->expected_signature, HEX_SHA256) == 0)
		return SIGV4_OK;
	return SIGV4_MISMATCH;
}

/* --- the order of checks ------------------------------------------------ */

static void describe_authorization(const char *auth, struct sigv4_result *out)
{
	unsigned char md[32];

	copy_string(out->authorization, sizeof out->authorization, auth);
	EVP_Digest(auth, strlen(auth), md, NULL, EVP_sha256(), NULL);
	EVP_EncodeBlock((unsigned char *)out->authorization_hash, md, sizeof md);
}

/* Steps 4-5: the date's format and the skew window. */
static enum sigv4_status check_date(const char *date, int is_amz, double now,
                                    struct sigv4_result *out)
{
	time_t signed_at;

	copy_string(out->date, sizeof out->date, date);
	if (parse_basic_time(date, &signed_at) != 0 &&
	    (is_amz || parse_http_time(date, &signed_at) != 0))
		return SIGV4_BAD_DATE;
	format_basic_time(signed_at, out->signing_time);
	memcpy(out->request_date, out->signing_time, 8);
	out->request_date[8] = '\0';
	return check_window(signed_at, now, out);
}

/* Steps 8-10: the credential, its scope and its key. */
static enum sigv4_status check_credential(const struct auth_parts *a, const struct sigv4_key *keys,
                                          size_t nkeys, const struct sigv4_key **key,
                                          struct sigv4_result *out)
{
	struct span parts[5];

	if (split_credential(a->credential, parts) != 0) {
		copy_span(out->credential, sizeof out->credential, a->credential);
		return SIGV4_BAD_CREDENTIAL;
	}
	copy_span(out->key_id, sizeof out->key_id, parts[0]);
	copy_span(out->scope_date, sizeof out->scope_date, parts[1]);
	copy_span(out->scope_region, sizeof out->scope_region, parts[2]);
	copy_span(out->scope_service, sizeof out->scope_service, parts[3]);
	copy_span(out->scope_terminator, sizeof out->scope_terminator, parts[4]);
	out->scope_errors = scope_errors(parts, out->request_date, out->region, out->service);
	if (out->scope_errors != 0)
		return SIGV4_BAD_SCOPE;
	*key = find_key(keys, nkeys, parts[0], &out->key_index);
	return *key != NULL ? SIGV4_OK : SIGV4_UNKNOWN_KEY;
}

static enum sigv4_status verify(const struct sigv4_request *req, const struct sigv4_key *keys,
                                size_t nkeys, double now, struct sigv4_result *out)
{
	const char *auth = find_header(req, "authorization");
	const struct sigv4_key *key = NULL;
	struct auth_parts a;
	const char *date;
	int is_amz;
	enum sigv4_status s;

	if (auth == NULL || strncmp(auth + strspn(auth, " \t"), "AWS4-", 5) != 0)
		return SIGV4_MISSING;
	describe_authorization(auth, out);
	if ((s = parse_authorization(auth, &a, out)) != SIGV4_OK)
		return s;
	date = request_date_header(req, &is_amz);
	if ((out->missing = missing_parts(&a, date)) != 0)
		return SIGV4_INCOMPLETE;
	if ((s = check_date(date, is_amz, now, out)) != SIGV4_OK)
		return s;
	if (!each_signed_name(a.signed_headers, is_host_name, NULL))
		return SIGV4_HOST_NOT_SIGNED;
	if (!span_is(a.algorithm, ALGORITHM)) {
		copy_span(out->algorithm, sizeof out->algorithm, a.algorithm);
		return SIGV4_BAD_ALGORITHM;
	}
	if ((s = check_credential(&a, keys, nkeys, &key, out)) != SIGV4_OK)
		return s;
	return check_signature(req, &a, key, out);
}

enum sigv4_status sigv4_verify(const struct sigv4_request *req, const struct sigv4_key *keys,
                               size_t nkeys, const char *region, const char *service, double now,
                               struct sigv4_result *out)
{
	memset(out, 0, sizeof *out);
	out->skew_minutes = SIGV4_SKEW_SECONDS / 60;
	copy_string(out->region, sizeof out->region, region);
	copy_string(out->service, sizeof out->service, service);
	out->status = verify(req, keys, nkeys, now, out);
	return out->status;
}

void sigv4_result_free(struct sigv4_result *r)
{
	free(r->canonical_request);
	free(r->string_to_sign);
	r->canonical_request = NULL;
	r->string_to_sign = NULL;
}

const char *sigv4_status_name(enum sigv4_status status)
{
	static const char *const names[] = {
	    [SIGV4_OK] = "ok",
	    [SIGV4_MISSING] = "missing",
	    [SIGV4_MALFORMED_PAIR] = "malformed-pair",
	    [SIGV4_INCOMPLETE] = "incomplete",
	    [SIGV4_BAD_DATE] = "bad-date",
	    [SIGV4_EXPIRED] = "expired",
	    [SIGV4_NOT_YET_CURRENT] = "not-yet-current",
	    [SIGV4_HOST_NOT_SIGNED] = "host-not-signed",
	    [SIGV4_BAD_ALGORITHM] = "bad-algorithm",
	    [SIGV4_BAD_CREDENTIAL] = "bad-credential",
	    [SIGV4_BAD_SCOPE] = "bad-scope",
	    [SIGV4_UNKNOWN_KEY] = "unknown-key",
	    [SIGV4_MISMATCH] = "mismatch",
	    [SIGV4_INTERNAL] = "internal",
	};

	return (size_t)status < sizeof names / sizeof names[0] && names[status] != NULL
	           ? names[status]
	           : "unknown";
}
