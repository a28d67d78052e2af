/*
 * dkim.c - DKIM signing (RFC 6376) of outgoing messages.
 *
 * dkim_new() reads every configured PEM RSA key once; after that the signer
 * is read-only, so one struct dkim may sign from several threads.
 *
 * dkim_sign() takes the message as stored: CRLF line ends, the header
 * section up to the first empty line (the whole message when there is
 * none). Lines end at CRLF only; a bare CR or LF is an ordinary character.
 * The domain of the first address in the first From field picks the key.
 * Signatures are rsa-sha256 with relaxed/relaxed canonicalisation (RFC 6376
 * 3.4.2 and 3.4.4) over the fields of signed_names that the message holds,
 * each occurrence listed in h= and hashed from the bottom-most instance
 * upward (5.4.2). The DKIM-Signature field is folded below DKIM_LINE_MAX
 * columns and its own hash input is the relaxed form of exactly the text
 * emitted, up to the empty b= tag, so folding never breaks verification.
 *
 * Returns: 1 signed, 0 no key applies (or no From), -1 out of memory or an
 * OpenSSL failure. Cryptography is OpenSSL's; nothing here is hand-written.
 * The signer's own structures come from xmalloc.h; what dkim_sign()
 * allocates grows with the message (its fields, its body), so a failure
 * there is the -1 answer and the message goes unsigned.
 */
#include "dkim.h"

#include <ctype.h>
#include <event2/buffer.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "config.h"
#include "message.h"
#include "util.h"
#include "xmalloc.h"

#define DKIM_LINE_MAX 76 /* columns of a DKIM-Signature line, CRLF excluded */

/* The fields signed when present, in h= order (RFC 6376 5.4.1). */
static const char *const signed_names[] = {
    "from",        "to",         "cc",           "subject",      "date",
    "message-id",  "reply-to",   "mime-version", "content-type", "content-transfer-encoding",
    "in-reply-to", "references",
};

struct dkim_key {
	char *domain, *selector;
	EVP_PKEY *pkey;
};

struct dkim {
	struct dkim_key *keys;
	size_t nkeys;
};

/* One header field: p[0..len) without its final CRLF, folds included;
 * name_len bytes before the colon (0 when the line has no colon). */
struct field {
	const char *p;
	size_t len, name_len;
};

struct fields {
	struct field *v;
	size_t n;
};

/* The DKIM-Signature field being written and the column its last line is at. */
struct fold {
	struct evbuffer *b;
	size_t col;
};

/* ---- keys ------------------------------------------------------------------- */

/* Domain and selector go into the header as written: plain DNS labels only. */
static int label_ok(const char *s)
{
	if (s == NULL || *s == '\0')
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '.' && *s != '_')
			return 0;
	return 1;
}

static EVP_PKEY *read_key(const char *path, char *err, size_t errlen)
{
	FILE *fp = fopen(path, "r");
	EVP_PKEY *pkey;
	const char *why;

	if (fp == NULL) {
		snprintf(err, errlen, "dkim: cannot read key %s: %s", path, strerror(errno));
		return NULL;
	}
	pkey = PEM_read_PrivateKey(fp, NULL, NULL, NULL);
	fclose(fp);
	if (pkey == NULL) {
		why = ERR_reason_error_string(ERR_peek_last_error());
		snprintf(err, errlen, "dkim: cannot read key %s: %s", path,
		         why ? why : "not a PEM private key");
		ERR_clear_error();
		return NULL;
	}
	if (EVP_PKEY_base_id(pkey) != EVP_PKEY_RSA) {
		snprintf(err, errlen, "dkim: cannot read key %s: not an RSA key", path);
		EVP_PKEY_free(pkey);
		return NULL;
	}
	return pkey;
}

static int load_key(const struct config_dkim *c, size_t i, struct dkim_key *k, char *err,
                    size_t errlen)
{
	if (c->key == NULL || *c->key == '\0') {
		snprintf(err, errlen, "dkim: entry %zu has no key file", i + 1);
		return -1;
	}
	if (!label_ok(c->domain) || !label_ok(c->selector)) {
		snprintf(err, errlen, "dkim: key %s: bad domain or selector", c->key);
		return -1;
	}
	if ((k->pkey = read_key(c->key, err, errlen)) == NULL)
		return -1;
	k->domain = xstrdup(c->domain);
	k->selector = xstrdup(c->selector);
	return 0;
}

struct dkim *dkim_new(const struct config_dkim *keys, size_t nkeys, char *err, size_t errlen)
{
	struct dkim *d = xcalloc(1, sizeof *d);

	d->keys = xcalloc(nkeys, sizeof *d->keys);
	for (; d->nkeys < nkeys; d->nkeys++)
		if (load_key(&keys[d->nkeys], d->nkeys, &d->keys[d->nkeys], err, errlen) < 0) {
			d->nkeys++; /* free the partly loaded entry too */
			dkim_free(d);
			return NULL;
		}
	return d;
}

void dkim_free(struct dkim *d)
{
	if (d == NULL)
		return;
	for (size_t i = 0; i < d->nkeys; i++) {
		free(d->keys[i].domain);
		free(d->keys[i].selector);
		EVP_PKEY_free(d->keys[i].pkey);
	}
	free(d->keys);
	free(d);
}

static const struct dkim_key *find_key(const struct dkim *d, const char *domain)
{
	for (size_t i = 0; d && i < d->nkeys; i++)
		if (strcasecmp(d->keys[i].domain, domain) == 0)
			return &d->keys[i];
	return NULL;
}

/* ---- message structure ------------------------------------------------------ */

static int is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

static size_t line_end(const char *raw, size_t pos, size_t len)
{
	const char *crlf = memmem(raw + pos, len - pos, LIT("\r\n"));

	return crlf ? (size_t)(crlf - raw) : len;
}

static int add_field(struct fields *f, const char *p, size_t len)
{
	struct field *v = realloc(f->v, (f->n + 1) * sizeof *v);
	const char *colon = memchr(p, ':', len);

	if (v == NULL)
		return -1;
	f->v = v;
	v[f->n].p = p;
	v[f->n].len = len;
	v[f->n].name_len = colon ? (size_t)(colon - p) : 0;
	f->n++;
	return 0;
}

/* Splits raw into header fields; *body_off is where the body starts (len
 * when there is no empty line). */
static int split_message(const char *raw, size_t len, struct fields *f, size_t *body_off)
{
	size_t pos = 0;

	*body_off = len;
	while (pos < len) {
		size_t eol = line_end(raw, pos, len);
		if (eol == pos) {
			*body_off = pos + 2;
			break;
		}
		if (is_wsp(raw[pos]) && f->n > 0)
			f->v[f->n - 1].len = eol - (size_t)(f->v[f->n - 1].p - raw);
		else if (add_field(f, raw + pos, eol - pos) < 0)
			return -1;
		pos = eol < len ? eol + 2 : len;
	}
	return 0;
}

static int field_is(const struct field *fl, const char *name)
{
	size_t n = strlen(name);

	return fl->name_len == n && strncasecmp(fl->p, name, n) == 0;
}

/* The domain of the first address of the first From field, in out. */
static int from_domain(const struct fields *f, char *out, size_t outlen)
{
	char addr[1][256], *value, *at;
	size_t i, n = 0;

	for (i = 0; i < f->n && !field_is(&f->v[i], "from"); i++)
		;
	if (i == f->n)
		return 0;
	if ((value = malloc(f->v[i].len + 1)) == NULL)
		return -1;
	for (size_t j = f->v[i].name_len + 1; j < f->v[i].len; j++)
		if (f->v[i].p[j] != '\r' && f->v[i].p[j] != '\n')
			value[n++] = f->v[i].p[j];
	value[n] = '\0';
	n = message_parse_address_list(value, addr, 1);
	free(value);
	if (n == 0 || (at = strrchr(addr[0], '@')) == NULL || at[1] == '\0')
		return 0;
	snprintf(out, outlen, "%s", at + 1);
	return 1;
}

/* ---- canonicalisation (RFC 6376 3.4.2, 3.4.4) ------------------------------- */

/* Relaxed header: lowercase name, unfolded value, WSP runs as one SP, no
 * WSP around the colon or at the end. */
static void add_char(struct evbuffer *b, char c)
{
	evbuffer_add(b, &c, 1);
}

static void canon_header(struct evbuffer *b, const char *p, size_t len, size_t name_len, int crlf)
{
	int started = 0, space = 0;
	size_t name_end = name_len;

	while (name_end > 0 && is_wsp(p[name_end - 1]))
		name_end--;
	for (size_t i = 0; i < name_end; i++)
		add_char(b, (char)tolower((unsigned char)p[i]));
	add_char(b, ':');
	for (size_t i = name_len + 1; i < len; i++) {
		if (p[i] == '\r' && i + 1 < len && p[i + 1] == '\n') {
			i++;
			continue;
		}
		if (is_wsp(p[i])) {
			space = started;
			continue;
		}
		if (space)
			add_char(b, ' ');
		add_char(b, p[i]);
		started = 1;
		space = 0;
	}
	if (crlf)
		evbuffer_add(b, LIT("\r\n"));
}

static int blank_line(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!is_wsp(p[i]))
			return 0;
	return 1;
}

/* Writes the relaxed form of one non-blank line and its CRLF at out. */
static size_t canon_body_line(const char *p, size_t n, char *out)
{
	size_t o = 0;
	int space = 0;

	for (size_t i = 0; i < n; i++) {
		if (is_wsp(p[i])) {
			space = 1;
			continue;
		}
		if (space)
			out[o++] = ' ';
		out[o++] = p[i];
		space = 0;
	}
	out[o++] = '\r';
	out[o++] = '\n';
	return o;
}

/* Relaxed body into out (room for n + 2 bytes): trailing empty lines go, a
 * last line without CRLF gets one, an empty body stays empty. */
static size_t canon_body(const char *body, size_t n, char *out)
{
	size_t pos = 0, o = 0, blanks = 0;

	while (pos < n) {
		size_t eol = line_end(body, pos, n);
		if (blank_line(body + pos, eol - pos)) {
			blanks++;
		} else {
			for (; blanks > 0; blanks--) {
				out[o++] = '\r';
				out[o++] = '\n';
			}
			o += canon_body_line(body + pos, eol - pos, out + o);
		}
		pos = eol < n ? eol + 2 : n;
	}
	return o;
}

/* ---- OpenSSL ------------------------------------------------------------------ */

/* Of a digest or a signature: as long as the key makes it, never NULL. */
static char *base64(const unsigned char *in, size_t n)
{
	char *out = xmalloc(4 * ((n + 2) / 3) + 1);

	EVP_EncodeBlock((unsigned char *)out, in, (int)n);
	return out;
}

static char *body_hash(const char *body, size_t n)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char *canon = malloc(n + 3); /* as long as the body */
	char *b64 = NULL;

	if (canon == NULL)
		return NULL;
	n = canon_body(body, n, canon);
	if (EVP_Digest(canon, n, md, &mdlen, EVP_sha256(), NULL) == 1)
		b64 = base64(md, mdlen);
	free(canon);
	return b64;
}

static char *sign_rsa_sha256(EVP_PKEY *pkey, struct evbuffer *in)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	size_t len = evbuffer_get_length(in), siglen = 0;
	const unsigned char *data = evbuffer_pullup(in, -1);
	unsigned char *sig = NULL;
	char *b64 = NULL;

	if (ctx != NULL && (data != NULL || len == 0) &&
	    EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, pkey) == 1 &&
	    EVP_DigestSign(ctx, NULL, &siglen, data, len) == 1) {
		sig = xmalloc(siglen); /* the key's size */
		if (EVP_DigestSign(ctx, sig, &siglen, data, len) == 1)
			b64 = base64(sig, siglen);
	}
	free(sig);
	EVP_MD_CTX_free(ctx);
	ERR_clear_error();
	return b64;
}

/* ---- the DKIM-Signature field ----------------------------------------------- */

/* Appends sep and tok, or a fold and tok when the line would grow too long. */
static void fold_add(struct fold *f, const char *sep, const char *tok)
{
	size_t n = strlen(tok), s = strlen(sep);

	if (f->col > 1 && f->col + s + n > DKIM_LINE_MAX) {
		evbuffer_add(f->b, LIT("\r\n\t"));
		f->col = 1;
	} else {
		evbuffer_add(f->b, sep, s);
		f->col += s;
	}
	evbuffer_add(f->b, tok, n);
	f->col += n;
}

/* h=: every present occurrence of each signed name, folded at colons. */
static void fold_names(struct fold *f, const struct fields *fs)
{
	char tok[64];
	size_t total = 0, done = 0;

	for (size_t i = 0; i < sizeof signed_names / sizeof *signed_names; i++)
		for (size_t j = 0; j < fs->n; j++)
			total += field_is(&fs->v[j], signed_names[i]);
	for (size_t i = 0; i < sizeof signed_names / sizeof *signed_names; i++)
		for (size_t j = 0; j < fs->n; j++) {
			if (!field_is(&fs->v[j], signed_names[i]))
				continue;
			done++;
			snprintf(tok, sizeof tok, "%s%s%c", done == 1 ? "h=" : "", signed_names[i],
			         done == total ? ';' : ':');
			fold_add(f, done == 1 ? " " : "", tok);
		}
}

/* The field up to and including the empty "b=", as it will be emitted. */
static void write_sig_head(struct fold *f, const struct dkim_key *k, const struct fields *fs,
                           const char *bh)
{
	char tok[320];

	fold_add(f, "", "DKIM-Signature:");
	fold_add(f, " ", "v=1;");
	fold_add(f, " ", "a=rsa-sha256;");
	fold_add(f, " ", "c=relaxed/relaxed;");
	snprintf(tok, sizeof tok, "d=%s;", k->domain);
	fold_add(f, " ", tok);
	snprintf(tok, sizeof tok, "s=%s;", k->selector);
	fold_add(f, " ", tok);
	/* Real time, not clock_wall(): verifiers reject signatures from the future. */
	snprintf(tok, sizeof tok, "t=%lld;", (long long)time(NULL));
	fold_add(f, " ", tok);
	fold_names(f, fs);
	snprintf(tok, sizeof tok, "bh=%s;", bh);
	fold_add(f, " ", tok);
	evbuffer_add(f->b, LIT("\r\n\tb="));
	f->col = 3;
}

/* The b= value, folded, and the field's CRLF. */
static void write_sig_value(struct fold *f, const char *b64)
{
	size_t left = strlen(b64);

	while (left > 0) {
		size_t room = DKIM_LINE_MAX > f->col ? DKIM_LINE_MAX - f->col : 0;
		size_t n = left < room ? left : room;
		if (n == 0) {
			evbuffer_add(f->b, LIT("\r\n\t"));
			f->col = 1;
			continue;
		}
		evbuffer_add(f->b, b64, n);
		f->col += n;
		b64 += n;
		left -= n;
	}
	evbuffer_add(f->b, LIT("\r\n"));
}

/* The hash input: signed fields bottom-up per name, then the signature
 * field so far without its CRLF. */
static void hash_input(struct evbuffer *in, const struct fields *fs, struct evbuffer *sig)
{
	for (size_t i = 0; i < sizeof signed_names / sizeof *signed_names; i++)
		for (size_t j = fs->n; j-- > 0;)
			if (field_is(&fs->v[j], signed_names[i]))
				canon_header(in, fs->v[j].p, fs->v[j].len, fs->v[j].name_len, 1);
	canon_header(in, (const char *)evbuffer_pullup(sig, -1), evbuffer_get_length(sig),
	             strlen("DKIM-Signature"), 0);
}

static int sign_with(const struct dkim_key *k, const struct fields *fs, const char *raw, size_t len,
                     size_t body_off, struct evbuffer *out)
{
	struct fold f = {out, 0};
	struct evbuffer *in = evbuffer_new();
	char *bh = body_hash(raw + body_off, len - body_off), *b = NULL;
	int rc = -1;

	if (bh != NULL && in != NULL) {
		write_sig_head(&f, k, fs, bh);
		hash_input(in, fs, out);
		if ((b = sign_rsa_sha256(k->pkey, in)) != NULL) {
			write_sig_value(&f, b);
			rc = evbuffer_add(out, raw, len);
		}
	}
	free(bh);
	if (in != NULL)
		evbuffer_free(in);
	free(b);
	return rc;
}

int dkim_sign(const struct dkim *d, const char *raw, size_t len, char **signed_raw,
              size_t *signed_len)
{
	struct fields fs = {0};
	struct evbuffer *out = evbuffer_new();
	const struct dkim_key *k = NULL;
	char domain[256];
	size_t body_off;
	int rc;

	if (split_message(raw, len, &fs, &body_off) < 0)
		rc = -1;
	else if ((rc = from_domain(&fs, domain, sizeof domain)) == 1 &&
	         (k = find_key(d, domain)) == NULL)
		rc = 0;
	if (rc == 1 && (out == NULL || sign_with(k, &fs, raw, len, body_off, out) < 0))
		rc = -1;
	free(fs.v);
	if (rc == 1) {
		*signed_len = evbuffer_get_length(out);
		if ((*signed_raw = malloc(*signed_len + 1)) == NULL)
			rc = -1;
		else {
			evbuffer_remove(out, *signed_raw, *signed_len);
			(*signed_raw)[*signed_len] = '\0';
		}
	}
	if (out != NULL)
		evbuffer_free(out);
	return rc;
}
