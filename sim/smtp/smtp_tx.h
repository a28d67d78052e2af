/*
 * smtp_tx.h - the mail transaction of an SMTP session: from MAIL FROM to the
 * answer after the final dot (or RSET, or a new EHLO), and the reading of
 * its message data.
 */
#ifndef EDSIM_SMTP_TX_H
#define EDSIM_SMTP_TX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"
#include "xmalloc.h"

#define ADDR_MAX 256

struct evbuffer;
struct rule;

/* smtp_tx_reset() empties it; the session owns one. */
struct smtp_tx {
	bool has_mail;
	bool data_line_start; /* the next data byte starts a line */
	bool data_answered;   /* a data-body rule replied: the rest of the data is swallowed */
	bool body_hooks;      /* the scenario has data-body rules: ask after each line */
	char mail_from[ADDR_MAX];
	struct store_rcpt *rcpts;
	size_t nrcpt;
	char *data; /* the message as received, dot-unstuffed */
	size_t data_len, data_cap, data_total, data_lines;
	uint64_t attempt;               /* the message's arrival number at data-end */
	char stored_id[STORE_ID_MAX];   /* id of the message being committed */
	const struct rule *commit_rule; /* a rule whose 2xx answers the commit */
};

/* Frees the envelope and the data: no transaction. */
void smtp_tx_reset(struct smtp_tx *tx);
void smtp_tx_add_rcpt(struct smtp_tx *tx, const char *address, int suppressed);
/* DATA was answered 354: the data starts (body_hooks: the scenario has
 * data-body rules, so every line is read alone and shown to them). */
void smtp_tx_start_data(struct smtp_tx *tx, int body_hooks);

enum tx_read {
	TX_MORE, /* the input holds no complete line: wait for more */
	TX_END,  /* the final dot was read */
	TX_LINE, /* a line was read and body_hooks is set: the session asks the rules */
};

/* Reads message data from in, keeping at most limit bytes. */
enum tx_read smtp_tx_read(struct smtp_tx *tx, struct evbuffer *in, size_t limit);

#endif
