/*
 * relay_hop.h - the relay's way to the next hop: destinations (the smarthost,
 * or each recipient domain through its MX records), their queues of jobs and
 * their connections. The queue (relay.c) makes the jobs; this module carries
 * them and hands each one back with relay_job_finish() (relay_priv.h).
 */
#ifndef EDSIM_RELAY_HOP_H
#define EDSIM_RELAY_HOP_H

#include <stddef.h>

struct relay;
struct dest;
struct job;

/* At relay_new(): the smarthost's addresses, the MX resolver, as the mode
 * asks (the client TLS context comes with the first connection). -1 with
 * err filled in when one fails. */
int hop_setup(struct relay *r, char *err, size_t errlen);
/* Closes every connection and drops every waiting job (not finished:
 * their messages are forgotten too); lookups in progress are abandoned. */
void hop_forget_all(struct relay *r);
/* The same, and frees the connections still closing (waiting for the
 * answer to QUIT), the TLS context if one was made, the resolver and the smarthost. */
void hop_free(struct relay *r);
/* Where address goes: the smarthost, or its domain (made on first use).
 * NULL when out of memory. */
struct dest *hop_dest_for(struct relay *r, const char *address);
/* Appends a job (j->d set, its transaction filled in) to its destination. */
void hop_enqueue(struct job *j);
/* Lets the destination resolve, connect or send its waiting jobs. */
void hop_pump(struct dest *d);
/* GET /api/v1/queue: open connections and jobs waiting, all destinations. */
void hop_count(const struct relay *r, size_t *conns, size_t *jobs);

#endif
