/*
 * dkim.h - DKIM signing (RFC 6376) of outgoing messages.
 *
 * Keys come from the configuration (`dkim: [{domain, selector, key}]`) and
 * are loaded once at start. A message whose header From address is in a
 * configured domain (exactly, case-insensitively) is signed with
 * rsa-sha256, relaxed/relaxed canonicalisation; the DKIM-Signature header is
 * put before the message's first header. Nothing here keeps mutable state
 * after dkim_new().
 */
#ifndef EDSIM_DKIM_H
#define EDSIM_DKIM_H

#include <stddef.h>

struct config_dkim;
struct dkim;

/* Loads every key; NULL with a message naming the file in err on failure. */
struct dkim *dkim_new(const struct config_dkim *keys, size_t nkeys, char *err, size_t errlen);
void dkim_free(struct dkim *d);
/* The signer for the domain of the header From of raw (raw: the message as
 * stored, CRLF line ends, no dot-stuffing), or none.
 * Returns 1 and *signed_raw / *signed_len (malloc'ed: the DKIM-Signature
 * header followed by raw) when it signed, 0 when no key applies, -1 on error. */
int dkim_sign(const struct dkim *d, const char *raw, size_t len, char **signed_raw,
              size_t *signed_len);

#endif
