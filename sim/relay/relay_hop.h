/*
 * relay_hop.h - the way to the next hop: destinations (the smarthost, or
 * each recipient domain through its MX records), their queues of jobs and
 * their connections. It knows nothing of the queue above it (relay.c): it
 * carries jobs and reports through a table of callbacks, as smtp_client.h
 * reports to it.
 *
 * The contract:
 *  - The owner makes a job (struct job below: sender, recipients, a reply
 *    slot for each) and keeps the memory; hop_enqueue() lends it to the hop
 *    layer until the job comes back through finished() or dropped(), after
 *    which the hop layer never touches it again. Everything the job points
 *    to (sender, addresses, replies, the text) must live that long.
 *  - load() is called when a connection is ready to carry the job: the
 *    owner sets j->raw and j->raw_len (the message as stored: CRLF lines,
 *    not dot-stuffed) and returns 0, or returns -1 when it cannot, and the
 *    job then finishes with a reply without a code.
 *  - sending() says the job is on the wire (the next hop may have it).
 *  - finished() gives the job back with its answers: j->replies[k] is the
 *    reply to RCPT for each recipient (code 0 when none came) and final the
 *    reply to the end of data, or why the destination could not be reached
 *    or the connection failed. destination names who answered ("host
 *    [address]:port", or the destination's name when no server did).
 *  - dropped() gives a job back unanswered: the owner forgets it (only from
 *    hop_forget_all() and hop_free()).
 * Callbacks run on the loop's thread, from the hop layer's own events or
 * from hop_pump(); they may not call back into the hop layer (they may
 * schedule work for later).
 *
 * The configuration is the one in force, read when needed (its contents
 * change with the scenario); only the mode, the smarthost's addresses and
 * the resolver are taken at hop_new().
 */
#ifndef EDSIM_RELAY_HOP_H
#define EDSIM_RELAY_HOP_H

#include <stddef.h>
#include <sys/queue.h>

#include "smtp_client.h"

struct event_base;
struct config;
struct hop;
struct hop_dest;

struct job {
	/* the owner's, set before hop_enqueue() */
	void *owner;           /* the owner's record of the job: the hop layer never looks */
	const char *mail_from; /* "" for the null sender */
	const char *const *rcpts;
	size_t nrcpt;
	struct hop_reply *replies; /* nrcpt of them, zeroed */
	/* set by the owner in load() */
	const char *raw;
	size_t raw_len;
	/* the hop layer's: the owner leaves them alone */
	struct hop_dest *dest;
	STAILQ_ENTRY(job) entry; /* in its destination's queue */
	struct smtp_txn txn;
};

struct hop_ops {
	int (*load)(void *arg, struct job *j);
	void (*sending)(void *arg, struct job *j);
	void (*finished)(void *arg, struct job *j, const char *destination,
	                 const struct hop_reply *final);
	void (*dropped)(void *arg, struct job *j);
};

/* The smarthost's addresses or the MX resolver, as cfg->relay.mode asks
 * (the client TLS context comes with the first connection). NULL with err
 * filled in when one fails. ops and arg are the owner's callbacks. */
struct hop *hop_new(struct event_base *base, const struct config *cfg, const struct hop_ops *ops,
                    void *arg, char *err, size_t errlen);
/* Frees the connections (those closing too), drops every job (dropped()),
 * abandons the lookups in progress, frees the TLS context if one was made. */
void hop_free(struct hop *h);
/* Closes every connection and drops every waiting job (dropped()); lookups
 * in progress are abandoned; the hop layer stays usable. */
void hop_forget_all(struct hop *h);
/* Where address goes: the smarthost, or its domain (made on first use). */
struct hop_dest *hop_dest_for(struct hop *h, const char *address);
/* "smarthost" or the recipient domain. */
const char *hop_dest_name(const struct hop_dest *d);
/* Appends j to d's queue (no callback from here). */
void hop_enqueue(struct hop_dest *d, struct job *j);
/* Lets the destination resolve, connect or send its waiting jobs; may
 * finish jobs at once (finished()) when it cannot be reached. */
void hop_pump(struct hop_dest *d);
/* GET /api/v1/queue: open connections and jobs waiting, all destinations. */
void hop_count(const struct hop *h, size_t *conns, size_t *jobs);

#endif
