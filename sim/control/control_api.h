/*
 * control_api.h - the HTTP + JSON control API on loopback (evhttp).
 *
 * Read access to messages, events and transcripts for tests and people, and
 * deleting captured messages. Every error is a JSON body {"code","message"}.
 */
#ifndef EDSIM_CONTROL_API_H
#define EDSIM_CONTROL_API_H

#include <stddef.h>

struct server;
struct control_api;

/* Binds host:port; the bound port is written to *port. */
struct control_api *control_api_new(struct server *srv, const char *listen, int *port, char *err,
                                    size_t errlen);
void control_api_free(struct control_api *api);

#endif
