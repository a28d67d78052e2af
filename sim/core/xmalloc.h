/*
 * xmalloc.h - allocation that never returns NULL.
 *
 * edsim's structures are small and an exhausted heap leaves nothing sensible
 * to do: these abort with a message naming the size instead of returning
 * NULL, so callers need no failure path (as OpenSMTPD's and Postfix's do).
 *
 * The rule, by who chooses the size:
 *  - edsim or its configuration: contexts, records, list entries, arrays
 *    sized by the configuration or a scenario, copies of names, addresses
 *    and configuration strings, buffers sized by a key or a digest. These
 *    use xmalloc() and friends and are never checked.
 *  - a client or the network: a request body, message data and what grows
 *    with it (a transcript, a header copy, the JSON text of an event or a
 *    message, a DKIM body hash). These use plain malloc()/realloc(), are
 *    checked, and the failure is the documented answer (HTTP 500 or
 *    oci.https.internal-error, an event or webhook dropped, a message left
 *    unsigned), never an abort a client could provoke.
 * Libraries' own allocators (json_*, evbuffer_*, sqlite3_*, OpenSSL's,
 * curl's) keep their own failure conventions and are not wrapped.
 * xcalloc(0, size) and xmalloc(0) return a valid pointer, so an empty list
 * from the configuration needs no special case.
 */
#ifndef EDSIM_XMALLOC_H
#define EDSIM_XMALLOC_H

#include <stddef.h>

void *xmalloc(size_t size);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t size);
/* A copy of s (NULL stays NULL). */
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* A vector of n strings: a deep copy, and freeing one (both NULL-safe). */
char **strings_copy(char *const *v, size_t n);
void strings_free(char **v, size_t n);

#endif
