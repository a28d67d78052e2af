/*
 * smtp_tx.c - the mail transaction: its envelope and its message data, read
 * from the client's input (dot-unstuffed, each line's end made CRLF, bounded
 * by the message size limit).
 *
 * Invariants: data holds data_len bytes of the message as it will be stored;
 * data_total counts every byte received, so a message over the limit is
 * still read to its end (and refused there) without being kept. Nothing here
 * replies or talks to the scenario: the session does, from what
 * smtp_tx_read() returns.
 */
#include "smtp_tx.h"

#include <event2/buffer.h>
#include <stdlib.h>
#include <string.h>

void smtp_tx_reset(struct smtp_tx *tx)
{
	for (size_t i = 0; i < tx->nrcpt; i++)
		free(tx->rcpts[i].address);
	free(tx->rcpts);
	tx->rcpts = NULL;
	tx->nrcpt = 0;
	tx->has_mail = 0;
	tx->mail_from[0] = '\0';
	free(tx->data);
	tx->data = NULL;
	tx->data_len = tx->data_cap = tx->data_total = tx->data_lines = 0;
}

void smtp_tx_add_rcpt(struct smtp_tx *tx, const char *address, int suppressed)
{
	tx->rcpts = xrealloc(tx->rcpts, (tx->nrcpt + 1) * sizeof *tx->rcpts);
	tx->rcpts[tx->nrcpt].address = xstrdup(address);
	tx->rcpts[tx->nrcpt].suppressed = suppressed;
	tx->nrcpt++;
}

void smtp_tx_start_data(struct smtp_tx *tx, int body_hooks)
{
	tx->data_line_start = 1;
	tx->data_answered = 0;
	tx->body_hooks = body_hooks;
}

/* Room for want more bytes of message data: where to write them, or NULL
 * when the message is over message_bytes (or memory ran out), in which case
 * the bytes are only counted. */
static char *data_room(struct smtp_tx *tx, size_t want, size_t limit)
{

	tx->data_total += want;
	if (tx->data_total > limit)
		return NULL;
	if (tx->data_len + want > tx->data_cap) {
		size_t cap = tx->data_cap ? tx->data_cap : 4096;
		char *grown;
		while (cap < tx->data_len + want)
			cap *= 2;
		if ((grown = realloc(tx->data, cap)) == NULL) {
			tx->data_total = limit + 1;
			return NULL;
		}
		tx->data = grown;
		tx->data_cap = cap;
	}
	return tx->data + tx->data_len;
}

/* Moves n bytes of message data from the input, then CRLF if add_crlf. */
static void data_append(struct smtp_tx *tx, struct evbuffer *in, size_t n, int add_crlf,
                        size_t limit)
{
	size_t want = n + (add_crlf ? 2 : 0);
	char *at = data_room(tx, want, limit);

	if (at == NULL) {
		evbuffer_drain(in, n);
		return;
	}
	evbuffer_remove(in, at, n);
	if (add_crlf)
		memcpy(at + n, "\r\n", 2);
	tx->data_len += want;
}

/* One line of message data, its terminator made CRLF. */
static void data_put_line(struct smtp_tx *tx, const char *line, size_t n, size_t limit)
{
	char *at = data_room(tx, n + 2, limit);

	if (at == NULL)
		return;
	memcpy(at, line, n);
	memcpy(at + n, "\r\n", 2);
	tx->data_len += n + 2;
}

enum data_line { LINE_PLAIN, LINE_STUFFED, LINE_END };

/* What a line of message data is (RFC 5321 4.5.2): the end of the data
 * (".") or a line whose leading dot is taken away, at the start of a line
 * only; len is the line's length without its end, first its first byte. */
static enum data_line data_line_kind(const struct smtp_tx *tx, char first, size_t len)
{
	if (!tx->data_line_start || len == 0 || first != '.')
		return LINE_PLAIN;
	return len == 1 ? LINE_END : LINE_STUFFED;
}

/* The complete lines at the start of the input's first chunk, read in
 * place and drained at once (data-body rules need the slow way, a line at
 * a time). Returns 1 when the final dot was read; *progress says whether
 * any line was consumed. */
static int read_chunk_lines(struct smtp_tx *tx, struct evbuffer *in, size_t limit, int *progress)
{
	struct evbuffer_iovec v;
	const char *p, *end, *nl;
	int ended = 0;

	*progress = 0;
	if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
		return 0;
	p = v.iov_base;
	end = p + v.iov_len;
	while (p < end && (nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		size_t len = (size_t)(nl - p);
		const char *text = p;
		enum data_line kind;
		if (len > 0 && p[len - 1] == '\r')
			len--;
		kind = data_line_kind(tx, p[0], len);
		if (kind == LINE_END) {
			p = nl + 1;
			ended = 1;
			break;
		}
		if (kind == LINE_STUFFED) {
			text++;
			len--;
		}
		data_put_line(tx, text, len, limit);
		tx->data_lines++;
		tx->data_line_start = 1;
		p = nl + 1;
	}
	if (p != v.iov_base) {
		evbuffer_drain(in, (size_t)(p - (const char *)v.iov_base));
		*progress = 1;
	}
	return ended;
}

/* One line of message data the slow way (it may span chunks, or be longer
 * than 8 KB): TX_END, TX_MORE, TX_LINE (a line was read and data-body
 * rules want to see it) or -1 to go on. */
static int read_one_line(struct smtp_tx *tx, struct evbuffer *in, size_t limit)
{
	size_t eol_len = 0, avail = evbuffer_get_length(in);
	struct evbuffer_ptr p = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_CRLF);
	char first = '\0';
	enum data_line kind;

	if (p.pos < 0) {
		if (avail < 8192)
			return TX_MORE;
		data_append(tx, in, avail - 1, 0, limit); /* a long line: keep its last byte */
		tx->data_line_start = 0;
		return -1;
	}
	evbuffer_copyout(in, &first, p.pos > 0 ? 1 : 0);
	kind = data_line_kind(tx, first, (size_t)p.pos);
	if (kind == LINE_END) {
		evbuffer_drain(in, 1 + eol_len);
		return TX_END;
	}
	if (kind == LINE_STUFFED) {
		evbuffer_drain(in, 1);
		p.pos--;
	}
	data_append(tx, in, (size_t)p.pos, 1, limit);
	evbuffer_drain(in, eol_len);
	tx->data_lines++;
	tx->data_line_start = 1;
	return tx->body_hooks ? TX_LINE : -1;
}

enum tx_read smtp_tx_read(struct smtp_tx *tx, struct evbuffer *in, size_t limit)
{
	for (;;) {
		int progress = 0, rc;

		if (!tx->body_hooks) {
			if (read_chunk_lines(tx, in, limit, &progress))
				return TX_END;
			if (progress)
				continue;
		}
		if ((rc = read_one_line(tx, in, limit)) >= 0)
			return (enum tx_read)rc;
	}
}
