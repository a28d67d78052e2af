/*
 * test_dkim.c - DKIM signing (sim/dkim.c).
 *
 * Each test makes a fresh RSA 2048 key, writes it to a temporary PEM file
 * and signs with it. Signatures are checked by a small verifier written
 * here independently of sim/dkim.c: it rebuilds the relaxed header hash
 * input from the signed message (h= bottom-up, b= emptied), recomputes bh=
 * and checks b= with EVP_DigestVerify against the public key alone.
 */
#include <CUnit/CUnit.h>
#include <ctype.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "config.h"
#include "dkim.h"
#include "unit.h"

#define EMPTY_BH "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
#define HELLO_BH "yGIXoM91E1DiKjvCBcC8NlWyw54TdfMQ08sdtwtOO4I=" /* "Hello world\r\n" */

static const char base_msg[] = "From: Alice <alice@example.com>\r\n"
                               "To: bob@example.org\r\n"
                               "Subject: Hello there\r\n"
                               "Date: Mon, 1 Jan 2024 00:00:00 +0000\r\n"
                               "Message-ID: <1@example.com>\r\n"
                               "X-Unsigned: yes\r\n"
                               "\r\n"
                               "Hello  world \r\n"
                               "\r\n"
                               "\r\n";

struct fixture {
	char path[64];
	EVP_PKEY *pub; /* the public half only */
	struct dkim *d;
};

/* ---- fixture ------------------------------------------------------------------ */

static EVP_PKEY *public_only(EVP_PKEY *key)
{
	unsigned char *der = NULL;
	const unsigned char *p;
	int n = i2d_PUBKEY(key, &der);
	EVP_PKEY *pub;

	if (n <= 0)
		return NULL;
	p = der;
	pub = d2i_PUBKEY(NULL, &p, n);
	OPENSSL_free(der);
	return pub;
}

static int write_key(EVP_PKEY *key, char *path)
{
	int fd;
	FILE *fp;
	int ok;

	strcpy(path, "/tmp/edsim-dkim-XXXXXX");
	if ((fd = mkstemp(path)) < 0)
		return -1;
	if ((fp = fdopen(fd, "w")) == NULL) {
		close(fd);
		return -1;
	}
	ok = PEM_write_PrivateKey(fp, key, NULL, NULL, 0, NULL, NULL);
	return fclose(fp) == 0 && ok == 1 ? 0 : -1;
}

static int fixture_open(struct fixture *fx, const char *domain)
{
	EVP_PKEY *key = EVP_RSA_gen(2048);
	char err[256] = "";
	struct config_dkim c;
	int rc = -1;

	memset(fx, 0, sizeof *fx);
	if (key != NULL && write_key(key, fx->path) == 0) {
		c.domain = (char *)domain;
		c.selector = "sel1";
		c.key = fx->path;
		fx->d = dkim_new(&c, 1, err, sizeof err);
		fx->pub = public_only(key);
		rc = fx->d != NULL && fx->pub != NULL ? 0 : -1;
	}
	if (rc < 0)
		fprintf(stderr, "dkim fixture: %s\n", err);
	EVP_PKEY_free(key);
	return rc;
}

static void fixture_close(struct fixture *fx)
{
	dkim_free(fx->d);
	EVP_PKEY_free(fx->pub);
	if (fx->path[0] != '\0')
		unlink(fx->path);
}

/* Signs msg; returns dkim_sign's result, the signed message in *out. */
static int sign(const struct fixture *fx, const char *msg, char **out)
{
	size_t len = 0;
	int rc;

	*out = NULL;
	rc = dkim_sign(fx->d, msg, strlen(msg), out, &len);
	if (rc == 1 && *out != NULL) {
		char *z = realloc(*out, len + 1); /* NUL-terminate for string checks */
		if (z == NULL) {
			free(*out);
			*out = NULL;
			return -1;
		}
		z[len] = '\0';
		*out = z;
		/* the original message follows the signature field unchanged */
		CU_ASSERT(len > strlen(msg) && strcmp(z + len - strlen(msg), msg) == 0);
	}
	return rc;
}

/* ---- the independent verifier ------------------------------------------------- */

struct hfield {
	const char *p;
	size_t len; /* without the final CRLF */
	int used;
};

/* Splits msg into at most max fields; *body is where the body starts. */
static size_t split_fields(const char *msg, struct hfield *f, size_t max, const char **body)
{
	const char *end = strstr(msg, "\r\n\r\n");
	const char *hend = end ? end + 2 : msg + strlen(msg);
	const char *p = msg;
	size_t n = 0;

	*body = end ? end + 4 : hend;
	while (p < hend && n < max) {
		const char *q = p;
		for (;;) {
			const char *crlf = strstr(q, "\r\n");
			if (crlf == NULL || crlf >= hend) {
				q = hend;
				break;
			}
			q = crlf + 2;
			if (q >= hend || (*q != ' ' && *q != '\t')) {
				q = crlf;
				break;
			}
		}
		f[n].p = p;
		f[n].len = (size_t)(q - p);
		f[n].used = 0;
		n++;
		p = q + 2;
	}
	return n;
}

/* Relaxed header form of one field, appended to fp. */
static void relaxed_header(FILE *fp, const char *p, size_t len, int crlf)
{
	const char *colon = memchr(p, ':', len);
	size_t nlen = (size_t)(colon - p), i, vlen = 0;
	char *v = malloc(len + 1), *s, *e;

	while (nlen > 0 && (p[nlen - 1] == ' ' || p[nlen - 1] == '\t'))
		nlen--;
	for (i = 0; i < nlen; i++)
		fputc(tolower((unsigned char)p[i]), fp);
	fputc(':', fp);
	/* unfold, then squeeze blanks, then trim */
	for (i = (size_t)(colon - p) + 1; i < len; i++) {
		if (p[i] == '\r' && p[i + 1] == '\n') {
			i++;
			continue;
		}
		char c = p[i] == '\t' ? ' ' : p[i];
		if (c == ' ' && vlen > 0 && v[vlen - 1] == ' ')
			continue;
		v[vlen++] = c;
	}
	v[vlen] = '\0';
	for (s = v; *s == ' '; s++)
		;
	for (e = v + vlen; e > s && e[-1] == ' '; e--)
		;
	fwrite(s, 1, (size_t)(e - s), fp);
	if (crlf)
		fputs("\r\n", fp);
	free(v);
}

/* Relaxed body the way RFC 6376 3.4.4 lists the steps. */
static char *relaxed_body(const char *body, size_t *outlen)
{
	size_t n = strlen(body), o = 0;
	char *a = malloc(n + 3);

	for (size_t i = 0; i < n; i++) { /* WSP runs to one SP */
		int wsp = body[i] == ' ' || body[i] == '\t';
		if (wsp && o > 0 && a[o - 1] == ' ')
			continue;
		a[o++] = wsp ? ' ' : body[i];
	}
	a[o] = '\0';
	for (char *sp; (sp = strstr(a, " \r\n")) != NULL;) /* WSP at line ends */
		memmove(sp, sp + 1, strlen(sp + 1) + 1);
	o = strlen(a);
	while (o >= 2 && a[o - 2] == '\r' && a[o - 1] == '\n') /* trailing CRLFs */
		o -= 2;
	if (o > 0) {
		a[o++] = '\r';
		a[o++] = '\n';
	}
	a[o] = '\0';
	*outlen = o;
	return a;
}

static char *b64(const unsigned char *p, size_t n)
{
	char *s = malloc(4 * ((n + 2) / 3) + 1);

	EVP_EncodeBlock((unsigned char *)s, p, (int)n);
	return s;
}

/* Tag value of name in a signature value stripped of all blanks; malloc'ed. */
static char *tag(const char *tags, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = tags; p && *p; p = strchr(p, ';'), p = p ? p + 1 : NULL)
		if (strncmp(p, name, n) == 0 && p[n] == '=') {
			const char *e = strchr(p + n + 1, ';');
			return strndup(p + n + 1, e ? (size_t)(e - p - n - 1) : strlen(p + n + 1));
		}
	return NULL;
}

/* The signature field with the b= value and the blanks inside it removed. */
static char *empty_b(const char *p, size_t len)
{
	char *s = strndup(p, len);
	char *b = s;

	while ((b = strstr(b, "b=")) != NULL && !(b[-1] == ';' || b[-1] == ' ' || b[-1] == '\t'))
		b += 2;
	if (b == NULL)
		return s;
	b += 2;
	size_t k = 0;
	while (b[k] != '\0' && b[k] != ';')
		k++;
	memmove(b, b + k, strlen(b + k) + 1);
	return s;
}

static int verify_sig(EVP_PKEY *pub, const char *data, size_t n, const char *b)
{
	unsigned char sig[1024];
	size_t blen = strlen(b);
	int slen, ok = 0;
	EVP_MD_CTX *ctx;

	if (blen > 1300 || (slen = EVP_DecodeBlock(sig, (const unsigned char *)b, (int)blen)) < 0)
		return 0;
	slen -= (blen > 0 && b[blen - 1] == '=') + (blen > 1 && b[blen - 2] == '=');
	ctx = EVP_MD_CTX_new();
	if (EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, pub) == 1)
		ok = EVP_DigestVerify(ctx, sig, (size_t)slen, (const unsigned char *)data, n) == 1;
	EVP_MD_CTX_free(ctx);
	return ok;
}

/* Appends the hash input of every name in h= (bottom-most unused first). */
static void hash_signed_fields(FILE *fp, struct hfield *f, size_t nf, const char *h)
{
	char *names = strdup(h), *save = NULL;

	for (char *name = strtok_r(names, ":", &save); name; name = strtok_r(NULL, ":", &save))
		for (size_t i = nf; i-- > 1;) {
			const char *colon = memchr(f[i].p, ':', f[i].len);
			if (f[i].used || colon == NULL ||
			    (size_t)(colon - f[i].p) != strlen(name) ||
			    strncasecmp(f[i].p, name, strlen(name)) != 0)
				continue;
			relaxed_header(fp, f[i].p, f[i].len, 1);
			f[i].used = 1;
			break;
		}
	free(names);
}

/* The blank-free value of the top field, which must be DKIM-Signature. */
static char *sig_tags(const struct hfield *top)
{
	char *t;
	size_t k = 0;

	if (strncasecmp(top->p, "DKIM-Signature:", 15) != 0)
		return NULL;
	t = malloc(top->len);
	for (size_t i = 15; i < top->len; i++)
		if (strchr(" \t\r\n", top->p[i]) == NULL)
			t[k++] = top->p[i];
	t[k] = '\0';
	return t;
}

/* 1 when msg's top DKIM-Signature verifies with pub, 0 otherwise. */
static int dkim_check(const char *msg, EVP_PKEY *pub)
{
	struct hfield f[64];
	const char *body;
	size_t nf = split_fields(msg, f, 64, &body), clen, hlen;
	char *tags = nf > 0 ? sig_tags(&f[0]) : NULL;
	char *h = tag(tags, "h"), *bh = tag(tags, "bh"), *b = tag(tags, "b");
	char *canon = relaxed_body(body, &clen), *bh_now, *hin = NULL, *sigf;
	unsigned char md[32];
	FILE *fp;
	int ok = 0;

	EVP_Digest(canon, clen, md, NULL, EVP_sha256(), NULL);
	bh_now = b64(md, sizeof md);
	if (h && bh && b && strcmp(bh, bh_now) == 0 && (fp = open_memstream(&hin, &hlen))) {
		hash_signed_fields(fp, f, nf, h);
		sigf = empty_b(f[0].p, f[0].len);
		relaxed_header(fp, sigf, strlen(sigf), 0);
		free(sigf);
		fclose(fp);
		ok = verify_sig(pub, hin, hlen, b);
	}
	free(hin);
	free(bh_now);
	free(canon);
	free(tags);
	free(h);
	free(bh);
	free(b);
	return ok;
}

/* ---- helpers for the tests ------------------------------------------------------ */

/* A copy of s with the first occurrence of from replaced by to. */
static char *replace(const char *s, const char *from, const char *to)
{
	const char *at = strstr(s, from);
	size_t n = strlen(s) - strlen(from) + strlen(to);
	char *r;

	CU_ASSERT_PTR_NOT_NULL_FATAL(at);
	r = malloc(n + 1);
	memcpy(r, s, (size_t)(at - s));
	strcpy(r + (at - s), to);
	strcat(r, at + strlen(from));
	return r;
}

/* The tag value of the top DKIM-Signature field of a signed message. */
static char *sig_tag(const char *signed_msg, const char *name)
{
	struct hfield f[64];
	const char *body;
	size_t nf = split_fields(signed_msg, f, 64, &body);
	char *tags = nf > 0 ? sig_tags(&f[0]) : NULL;
	char *v = tags ? tag(tags, name) : NULL;

	free(tags);
	return v;
}

static void assert_tag(const char *signed_msg, const char *name, const char *want)
{
	char *v = sig_tag(signed_msg, name);

	CU_ASSERT_PTR_NOT_NULL(v);
	if (v != NULL) {
		CU_ASSERT_STRING_EQUAL(v, want);
		if (strcmp(v, want) != 0)
			fprintf(stderr, "\n%s= is \"%s\", want \"%s\"\n", name, v, want);
	}
	free(v);
}

/* ---- tests ------------------------------------------------------------------------ */

static void test_sign_tags(void)
{
	struct fixture fx;
	char *out;
	unsigned char md[32];
	char *expect;

	CU_ASSERT_FATAL(fixture_open(&fx, "example.com") == 0);
	CU_ASSERT_EQUAL(sign(&fx, base_msg, &out), 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(out);
	CU_ASSERT_EQUAL(strncmp(out, "DKIM-Signature:", 15), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "d=example.com;"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "s=sel1;"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "a=rsa-sha256;"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "c=relaxed/relaxed;"));
	assert_tag(out, "v", "1");
	assert_tag(out, "h", "from:to:subject:date:message-id");
	/* "Hello  world \r\n\r\n\r\n" is "Hello world\r\n" once relaxed */
	assert_tag(out, "bh", HELLO_BH);
	EVP_Digest("Hello world\r\n", 13, md, NULL, EVP_sha256(), NULL);
	expect = b64(md, sizeof md);
	CU_ASSERT_STRING_EQUAL(expect, HELLO_BH);
	free(expect);
	/* the original message follows the signature field unchanged */
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "\r\nFrom: Alice"));
	CU_ASSERT_STRING_EQUAL(strstr(out, "\r\nFrom: Alice") + 2, base_msg);
	free(out);
	fixture_close(&fx);
}

static void test_sign_verifies(void)
{
	struct fixture fx;
	char *out;

	CU_ASSERT_FATAL(fixture_open(&fx, "example.com") == 0);
	CU_ASSERT_EQUAL(sign(&fx, base_msg, &out), 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(out);
	CU_ASSERT_EQUAL(dkim_check(out, fx.pub), 1);
	free(out);
	fixture_close(&fx);
}

static void test_relaxed_whitespace_verifies(void)
{
	struct fixture fx;
	char *out, *a, *b, *c;

	CU_ASSERT_FATAL(fixture_open(&fx, "example.com") == 0);
	CU_ASSERT_EQUAL(sign(&fx, base_msg, &out), 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(out);
	a = replace(out, "Subject: Hello there\r\n", "subject:\t Hello  \t there \r\n  \r\n");
	b = replace(a, "To: bob@example.org", "TO:bob@example.org   ");
	c = replace(b, "Hello  world \r\n", "Hello\tworld\r\n\r\n \r\n");
	CU_ASSERT_EQUAL(dkim_check(c, fx.pub), 1);
	free(a);
	free(b);
	free(c);
	free(out);
	fixture_close(&fx);
}

static void test_tampering_fails(void)
{
	struct fixture fx;
	char *out, *body, *head, *order;

	CU_ASSERT_FATAL(fixture_open(&fx, "example.com") == 0);
	CU_ASSERT_EQUAL(sign(&fx, base_msg, &out), 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(out);
	body = replace(out, "Hello  world", "Hello  World");
	CU_ASSERT_EQUAL(dkim_check(body, fx.pub), 0);
	head = replace(out, "Subject: Hello there", "Subject: Hello where");
	CU_ASSERT_EQUAL(dkim_check(head, fx.pub), 0);
	/* an unsigned field may change freely */
	order = replace(out, "X-Unsigned: yes", "X-Unsigned: no");
	CU_ASSERT_EQUAL(dkim_check(order, fx.pub), 1);
	free(body);
	free(head);
	free(order);
	free(out);
	fixture_close(&fx);
}

static void test_from_forms(void)
{
	static const char *const msgs[] = {
	    "From: bob@example.com\r\nSubject: x\r\n\r\nbody\r\n",
	    "From: \"Alice, A.\"\r\n <alice@EXAMPLE.com>\r\nSubject: x\r\n\r\nbody\r\n",
	    "Subject: x\r\nfrom:\r\n\tAlice\r\n <alice@Example.Com> (home)\r\n\r\nbody\r\n",
	};
	struct fixture fx;
	char *out;

	CU_ASSERT_FATAL(fixture_open(&fx, "Example.COM") == 0);
	for (size_t i = 0; i < UNIT_COUNT(msgs); i++) {
		CU_ASSERT_EQUAL(sign(&fx, msgs[i], &out), 1);
		CU_ASSERT_PTR_NOT_NULL(out);
		if (out != NULL) {
			CU_ASSERT_EQUAL(dkim_check(out, fx.pub), 1);
			assert_tag(out, "d", "Example.COM");
		}
		free(out);
	}
	fixture_close(&fx);
}

static void test_no_key_for_domain(void)
{
	static const char *const msgs[] = {
	    "From: a@other.example\r\nSubject: x\r\n\r\nbody\r\n",
	    "From: a@sub.example.com\r\n\r\nbody\r\n", /* exactly the domain, not below it */
	    "From: a@example.com.evil\r\n\r\nbody\r\n",
	};
	struct fixture fx;
	char *out = NULL;
	size_t len = 0;

	CU_ASSERT_FATAL(fixture_open(&fx, "example.com") == 0);
	for (size_t i = 0; i < UNIT_COUNT(msgs); i++) {
		CU_ASSERT_EQUAL(dkim_sign(fx.d, msgs[i], strlen(msgs[i]), &out, &len), 0);
		CU_ASSERT_PTR_NULL(out);
	}
	fixture_close(&fx);
}

static void test_no_from(void)
{
	static const char *const msgs[] = {
	    "To: a@example.com\r\nSubject: x\r\n\r\nbody\r\n",
	    "From: undisclosed\r\n\r\nbody\r\n",
	    "\r\nFrom: a@example.com\r\n", /* no header section: that is body */
	    "",
	};
	struct fixture fx;
	char *out = NULL;
	size_t len = 0;

	CU_ASSERT_FATAL(fixture_open(&fx, "example.com") == 0);
	for (size_t i = 0; i < UNIT_COUNT(msgs); i++) {
		CU_ASSERT_EQUAL(dkim_sign(fx.d, msgs[i], strlen(msgs[i]), &out, &len), 0);
		CU_ASSERT_PTR_NULL(out);
	}
	fixture_close(&fx);
}

static void test_repeated_fields_bottom_up(void)
{
	static const char msg[] = "From: a@example.com\r\n"
	                          "To: first@example.org\r\n"
	                          "References: <1@x>\r\n"
	                          "To: second@example.org\r\n"
	                          "References: <2@x>\r\n"
	                          "References: <3@x>\r\n"
	                          "\r\n"
	                          "Hello world\r\n\r\nBye\r\n";
	struct fixture fx;
	char *out, *swapped;

	CU_ASSERT_FATAL(fixture_open(&fx, "example.com") == 0);
	CU_ASSERT_EQUAL(sign(&fx, msg, &out), 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(out);
	assert_tag(out, "h", "from:to:to:references:references:references");
	assert_tag(out, "bh", "zC/3LU+8fIlQ5dXgN7UpUzFjGMmLvjZUWpAHuoSXnMs=");
	CU_ASSERT_EQUAL(dkim_check(out, fx.pub), 1);
	/* the order of same-name fields is signed */
	swapped = replace(out, "References: <1@x>", "References: <3@x>");
	CU_ASSERT_EQUAL(dkim_check(swapped, fx.pub), 0);
	free(swapped);
	free(out);
	fixture_close(&fx);
}

static void test_empty_bodies(void)
{
	static const char *const msgs[] = {
	    "From: a@example.com\r\nSubject: x\r\n",      /* no empty line */
	    "From: a@example.com\r\nSubject: x",          /* no final CRLF either */
	    "From: a@example.com\r\nSubject: x\r\n\r\n",  /* empty body */
	    "From: a@example.com\r\n\r\n\r\n \t\r\n\r\n", /* only empty lines */
	};
	struct fixture fx;
	char *out;

	CU_ASSERT_FATAL(fixture_open(&fx, "example.com") == 0);
	for (size_t i = 0; i < UNIT_COUNT(msgs); i++) {
		CU_ASSERT_EQUAL(sign(&fx, msgs[i], &out), 1);
		CU_ASSERT_PTR_NOT_NULL(out);
		if (out != NULL) {
			assert_tag(out, "bh", EMPTY_BH);
			CU_ASSERT_EQUAL(dkim_check(out, fx.pub), 1);
		}
		free(out);
	}
	fixture_close(&fx);
}

static void test_folding(void)
{
	static const char msg[] =
	    "From: a@example.com\r\nTo: b@example.org\r\nCc: c@example.org\r\n"
	    "Subject: all of them\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\n"
	    "Message-ID: <m@example.com>\r\nReply-To: r@example.com\r\n"
	    "MIME-Version: 1.0\r\nContent-Type: text/plain\r\n"
	    "Content-Transfer-Encoding: 7bit\r\nIn-Reply-To: <p@x>\r\n"
	    "References: <p@x>\r\nReferences: <q@x>\r\n\r\nbody\r\n";
	struct fixture fx;
	char *out;
	const char *line, *end;

	CU_ASSERT_FATAL(fixture_open(&fx, "example.com") == 0);
	CU_ASSERT_EQUAL(sign(&fx, msg, &out), 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(out);
	assert_tag(out, "h",
	           "from:to:cc:subject:date:message-id:reply-to:mime-version:content-type:"
	           "content-transfer-encoding:in-reply-to:references:references");
	end = strstr(out, "\r\nFrom: a@example.com");
	CU_ASSERT_PTR_NOT_NULL_FATAL(end);
	for (line = out; line < end;) {
		const char *eol = strstr(line, "\r\n");
		CU_ASSERT((size_t)(eol - line) < 78);
		CU_ASSERT(line == out || line[0] == '\t');
		line = eol + 2;
	}
	CU_ASSERT_EQUAL(dkim_check(out, fx.pub), 1);
	free(out);
	fixture_close(&fx);
}

static void test_new_missing_file(void)
{
	struct config_dkim c = {"example.com", "sel1", "/nonexistent/edsim-dkim.pem"};
	char err[256] = "";

	CU_ASSERT_PTR_NULL(dkim_new(&c, 1, err, sizeof err));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "/nonexistent/edsim-dkim.pem"));
	CU_ASSERT_EQUAL(strncmp(err, "dkim: cannot read key ", 22), 0);
}

static void test_new_not_a_key(void)
{
	char path[] = "/tmp/edsim-dkim-XXXXXX";
	int fd = mkstemp(path);
	struct config_dkim c = {"example.com", "sel1", path};
	char err[256] = "";

	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL(write(fd, "not a key\n", 10), 10);
	close(fd);
	CU_ASSERT_PTR_NULL(dkim_new(&c, 1, err, sizeof err));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, path));
	unlink(path);
}

static void test_no_keys(void)
{
	static const char msg[] = "From: a@example.com\r\n\r\nbody\r\n";
	char err[64] = "", *out = NULL;
	size_t len = 0;
	struct dkim *d = dkim_new(NULL, 0, err, sizeof err);

	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	CU_ASSERT_EQUAL(dkim_sign(d, msg, strlen(msg), &out, &len), 0);
	CU_ASSERT_PTR_NULL(out);
	dkim_free(d);
}

int register_dkim_tests(void)
{
	static const struct unit_test tests[] = {
	    {"signature tags and body hash", test_sign_tags},
	    {"signature verifies with the public key", test_sign_verifies},
	    {"relaxed: whitespace changes still verify", test_relaxed_whitespace_verifies},
	    {"changed body or signed field fails", test_tampering_fails},
	    {"From forms: bare, angle, folded, any case", test_from_forms},
	    {"no key for the From domain", test_no_key_for_domain},
	    {"no From address", test_no_from},
	    {"repeated fields signed bottom-up", test_repeated_fields_bottom_up},
	    {"empty bodies hash as empty", test_empty_bodies},
	    {"signature field folded below 78 columns", test_folding},
	    {"dkim_new: missing key file", test_new_missing_file},
	    {"dkim_new: file is not a key", test_new_not_a_key},
	    {"dkim_new: no keys signs nothing", test_no_keys},
	};

	return unit_add_suite("dkim", tests, UNIT_COUNT(tests));
}
