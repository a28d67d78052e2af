/*
 * https_oci.h - the OCI Email Delivery submission API over HTTPS, on the
 * shared front end (sim/https/https_front.h: evhttp on OpenSSL
 * bufferevents, the server's TLS context).
 */
#ifndef EDSIM_HTTPS_OCI_H
#define EDSIM_HTTPS_OCI_H

#include <stddef.h>

struct env;
struct https_front;

/* Binds host:port (TLS); the bound port is written to *port. Freed, and
 * told of scenario changes, as every front end is (https_front.h). */
struct https_front *https_oci_new(const struct env *env, const char *listen, int *port, char *err,
                                  size_t errlen);

#endif
