/*
 * base64.h - strict base64 (RFC 4648's alphabet, padding to a multiple of
 * four) on OpenSSL's decoder, which on its own accepts sloppy input and
 * keeps the padding bytes in the length it gives.
 */
#ifndef EDSIM_BASE64_H
#define EDSIM_BASE64_H

#include <stddef.h>

/* The len characters at in decoded into out (room for len / 4 * 3 + 1
 * bytes, NUL-terminated); the decoded length, or -1 when in is not strict
 * base64 (the empty string is not) or out is too small. */
long base64_decode(const char *in, size_t len, unsigned char *out, size_t outlen);
/* The same, skipping ASCII white space (lines of a wrapped encoding), into
 * a buffer of its own (malloc'ed, NUL-terminated, *outlen set): NULL with
 * *bad set when in is not base64, NULL with *bad clear when memory ran out. */
unsigned char *base64_decode_alloc(const char *in, size_t len, size_t *outlen, int *bad);

#endif
