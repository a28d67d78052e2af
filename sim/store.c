/*
 * store.c - what every store implementation shares: message ids and
 * freeing a message record.
 */
#include "store.h"

#include <stdio.h>
#include <stdlib.h>

#include "clock.h"

void store_assign_id(struct store *st, struct store_message *m)
{
	unsigned long long ms = (unsigned long long)(clock_wall() * 1000.0);

	snprintf(m->id, sizeof m->id, "%011llx%05llx", ms,
	         (unsigned long long)(st->next_id++ & 0xfffff));
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
	free(m);
}
