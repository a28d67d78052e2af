/*
 * jsonw.c - a JSON text writer for the hot paths (see jsonw.h).
 */
#include "jsonw.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "xmalloc.h"

static int reserve(struct jsonw *w, size_t more)
{
	size_t cap = w->cap ? w->cap : 256;
	char *grown;

	if (w->failed)
		return -1;
	while (cap < w->len + more + 1)
		cap *= 2;
	if (cap == w->cap)
		return 0;
	if ((grown = realloc(w->buf, cap)) == NULL) {
		w->failed = 1;
		return -1;
	}
	w->buf = grown;
	w->cap = cap;
	return 0;
}

void jsonw_raw_grow(struct jsonw *w, const char *s, size_t n)
{
	if (reserve(w, n) < 0)
		return;
	memcpy(w->buf + w->len, s, n);
	w->len += n;
	w->buf[w->len] = '\0';
}

static int is_ascii(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] >= 0x80)
			return 0;
	return 1;
}

/* Valid UTF-8 (jansson's own check); otherwise every byte above 0x7f is
 * written as '?'. */
static int is_utf8(const char *s, size_t n)
{
	json_t *probe = json_stringn(s, n);

	json_decref(probe);
	return probe != NULL;
}

/* The length of s's first run of bytes that go into a JSON string as
 * they are (printable ASCII but the quote and the backslash). */
static size_t plain_run(const char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c >= 0x80 || c == '"' || c == '\\')
			break;
		i++;
	}
	return i;
}

void jsonw_strn(struct jsonw *w, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	int keep_high;
	char *o;

	if (plain_run(s, n) == n) { /* nearly every string: one copy */
		jsonw_lit(w, "\"");
		jsonw_raw(w, s, n);
		jsonw_lit(w, "\"");
		return;
	}
	keep_high = is_ascii(s, n) || is_utf8(s, n);

	/* at most 6 bytes out per byte in, plus the quotes */
	if (reserve(w, 6 * n + 2) < 0)
		return;
	o = w->buf + w->len;
	*o++ = '"';
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\') {
			*o++ = '\\';
			*o++ = (char)c;
		} else if (c < 0x20) {
			memcpy(o, "\\u00", 4);
			o[4] = hex[c >> 4];
			o[5] = hex[c & 15];
			o += 6;
		} else {
			*o++ = c >= 0x80 && !keep_high ? '?' : (char)c;
		}
	}
	*o++ = '"';
	*o = '\0';
	w->len = (size_t)(o - w->buf);
}

void jsonw_str(struct jsonw *w, const char *s)
{
	if (s == NULL)
		jsonw_lit(w, "null");
	else
		jsonw_strn(w, s, strlen(s));
}

void jsonw_uint(struct jsonw *w, uint64_t v)
{
	char digits[24];
	size_t i = sizeof digits;

	do {
		digits[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v > 0);
	jsonw_raw(w, digits + i, sizeof digits - i);
}

void jsonw_int(struct jsonw *w, long long v)
{
	if (v < 0) {
		jsonw_lit(w, "-");
		jsonw_uint(w, (uint64_t)0 - (uint64_t)v);
	} else {
		jsonw_uint(w, (uint64_t)v);
	}
}

void jsonw_time(struct jsonw *w, double t)
{
	char stamp[CLOCK_STAMP_LEN + 1];

	clock_format(t, stamp, sizeof stamp);
	jsonw_lit(w, "\"");
	jsonw_raw(w, stamp, strlen(stamp));
	jsonw_lit(w, "\"");
}

void jsonw_reset(struct jsonw *w)
{
	w->len = 0;
	w->failed = 0;
	if (w->buf != NULL)
		w->buf[0] = '\0';
}

char *jsonw_take(struct jsonw *w)
{
	char *text = w->failed ? NULL : w->buf;

	if (!w->failed && text == NULL)
		text = xstrdup("");
	if (w->failed)
		free(w->buf);
	*w = (struct jsonw){0};
	return text;
}

void jsonw_free(struct jsonw *w)
{
	free(w->buf);
	*w = (struct jsonw){0};
}
