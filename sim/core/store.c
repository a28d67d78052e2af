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
	store_format_id(m->seq, m->id);
}

void store_format_id(uint64_t seq, char out[17])
{
	static const char hex[] = "0123456789abcdef";

	for (int i = 15; i >= 0; i--, seq >>= 4)
		out[i] = hex[seq & 15];
	out[16] = '\0';
}

int store_parse_id(const char *id, uint64_t *seq)
{
	char *end;

	if (strlen(id) != 16 || strspn(id, "0123456789abcdef") != 16)
		return -1;
	*seq = strtoull(id, &end, 16);
	return 0;
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
