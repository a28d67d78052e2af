/*
 * xmalloc.h - allocation that never returns NULL.
 *
 * edsim's structures are small and an exhausted heap leaves nothing sensible
 * to do: these abort with a message naming the size instead of returning
 * NULL, so callers need no failure path (as OpenSMTPD's and Postfix's do).
 * Where a large allocation sized by a client can fail (message data, a
 * request body), the caller keeps checking malloc() and answers the
 * documented error instead.
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

#endif
