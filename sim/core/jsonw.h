/*
 * jsonw.h - a JSON text writer for the hot paths: events, delivery records,
 * the store's recipient lists. It appends to one growing buffer, so that a
 * record costs one allocation or none (a writer kept and reset between
 * records), where building a jansson tree and dumping it costs dozens.
 *
 * Invariants: buf is NUL-terminated whenever len > 0; after an allocation
 * failure the writer is "failed" until jsonw_reset(), and jsonw_take()
 * returns NULL (the text is incomplete). Strings that are not valid UTF-8 are written
 * with each bad byte as '?' (the same rule as json_text()).
 */
#ifndef EDSIM_JSONW_H
#define EDSIM_JSONW_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct jsonw {
	char *buf;
	size_t len, cap;
	int failed;
};

void jsonw_raw_grow(struct jsonw *w, const char *s, size_t n);
/* Appends n bytes as they are (punctuation, keys, numbers already text). */
static inline void jsonw_raw(struct jsonw *w, const char *s, size_t n)
{
	if (w->len + n < w->cap) { /* the usual case: room, no failure */
		memcpy(w->buf + w->len, s, n);
		w->len += n;
		w->buf[w->len] = '\0';
		return;
	}
	jsonw_raw_grow(w, s, n);
}
/* A string literal as it is: jsonw_lit(w, "\"state\":"). */
#define jsonw_lit(w, s) jsonw_raw((w), (s), sizeof(s) - 1)
/* s as a JSON string, or null when s is NULL. */
void jsonw_str(struct jsonw *w, const char *s);
/* The first n bytes of s as a JSON string. */
void jsonw_strn(struct jsonw *w, const char *s, size_t n);
void jsonw_uint(struct jsonw *w, uint64_t v);
void jsonw_int(struct jsonw *w, long long v);
/* A wall-clock time as a JSON string: "2026-12-03T14:00:00.123Z". */
void jsonw_time(struct jsonw *w, double t);

/* Empties the writer, keeping its buffer for the next record. */
void jsonw_reset(struct jsonw *w);
/* The text (malloc'ed, NUL-terminated, "" when empty) and an empty writer;
 * NULL when an allocation failed. */
char *jsonw_take(struct jsonw *w);
void jsonw_free(struct jsonw *w);

#endif
