/*
 * https_oci.h - the OCI Email Delivery submission API over HTTPS (evhttp on
 * OpenSSL bufferevents, the server's TLS context).
 */
#ifndef EDSIM_HTTPS_OCI_H
#define EDSIM_HTTPS_OCI_H

#include <stddef.h>

struct env;
struct https_api;

/* Binds host:port (TLS); the bound port is written to *port. */
struct https_api *https_api_new(const struct env *env, const char *listen, int *port, char *err,
                                size_t errlen);
void https_api_free(struct https_api *api);
/* The scenario is about to change: requests a rule's delay holds resume now,
 * natively, and forget the old rule. */
void https_api_scenario_changed(struct https_api *api);

#endif
