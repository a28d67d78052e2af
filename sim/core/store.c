/*
 * store.c - what every store implementation shares: message ids and
 * freeing a message record.
 */
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"

void store_assign_id(struct store *st, struct store_message *m)
{
	uint64_t now = (uint64_t)(clock_wall() * 1000.0) << 20;

	st->last_seq = now > st->last_seq ? now : st->last_seq + 1;
	m->seq = st->last_seq;
	store_format_id(st, m->seq, m->id);
}

static void hex_digits(uint64_t v, int n, char *out)
{
	static const char hex[] = "0123456789abcdef";

	for (int i = n - 1; i >= 0; i--, v >>= 4)
		out[i] = hex[v & 15];
}

/* The UUID's last groups: a fixed scramble of seq (splitmix64), so the id
 * looks like SES's and stays the same for the same message. */
static uint64_t scramble(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* The UUID's first group: the low 20 bits of seq (the counter beside the
 * time) masked by a scramble of the time, so that it looks random and
 * parses back. */
static uint64_t first_group(uint64_t seq)
{
	return (scramble(seq >> 20) & 0xffffffffULL) ^ (seq & 0xfffff);
}

/* 0100 + ms(12) "-" first(8) "-" r(4) "-" r(4) "-" r(4) "-" r(12) "-000000" */
static void format_ses(uint64_t seq, char *out)
{
	uint64_t r = scramble(seq), r2 = scramble(r);

	memcpy(out, "0100", 4);
	hex_digits(seq >> 20, 12, out + 4);
	out[16] = '-';
	hex_digits(first_group(seq), 8, out + 17);
	out[25] = '-';
	hex_digits(r >> 48, 4, out + 26);
	out[30] = '-';
	hex_digits(r >> 32, 4, out + 31);
	out[35] = '-';
	hex_digits(r >> 16, 4, out + 36);
	out[40] = '-';
	hex_digits(r2, 12, out + 41);
	memcpy(out + 53, "-000000", 8);
}

void store_format_id(const struct store *st, uint64_t seq, char out[STORE_ID_MAX])
{
	if (st != NULL && st->id_style == STORE_ID_SES) {
		format_ses(seq, out);
		return;
	}
	hex_digits(seq, 16, out);
	out[16] = '\0';
}

static int all_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strchr("0123456789abcdef", s[i]) == NULL || s[i] == '\0')
			return 0;
	return 1;
}

static uint64_t hex_value(const char *s, size_t n)
{
	uint64_t v = 0;

	for (size_t i = 0; i < n; i++)
		v = v << 4 | (uint64_t)(s[i] <= '9' ? s[i] - '0' : s[i] - 'a' + 10);
	return v;
}

int store_parse_id(const char *id, uint64_t *seq)
{
	char again[STORE_ID_MAX];

	if (strlen(id) == 16 && all_hex(id, 16)) {
		*seq = hex_value(id, 16);
		return 0;
	}
	if (strlen(id) != 60 || strncmp(id, "0100", 4) != 0 || !all_hex(id + 4, 12) ||
	    !all_hex(id + 17, 8))
		return -1;
	*seq = hex_value(id + 4, 12) << 20;
	*seq |= (hex_value(id + 17, 8) ^ scramble(*seq >> 20)) & 0xfffff;
	format_ses(*seq, again);
	return strcmp(again, id) == 0 ? 0 : -1;
}

void store_message_free(struct store_message *m)
{
	if (m == NULL)
		return;
	free(m->user);
	free(m->mail_from);
	for (size_t i = 0; i < m->nrcpt; i++)
		free(m->rcpts[i].address);
	free(m->rcpts);
	free(m->message_id);
	free(m->subject);
	free(m->raw);
	free(m->delivery_state);
	free(m->delivery_recipients);
	free(m->delivery_attempts);
	free(m);
}
