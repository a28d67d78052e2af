/*
 * control_api.h - the HTTP + JSON control API on loopback (evhttp).
 *
 * Read access to messages, events and transcripts for tests and people, and
 * deleting captured messages. Every error is a JSON body {"code","message"}.
 */
#ifndef EDSIM_CONTROL_API_H
#define EDSIM_CONTROL_API_H

#include <stddef.h>

struct env;
struct scenario;
struct control_api;

/* What only the composition root can do, asked through these: the
 * scenario in force changes the configuration, the clock and every front
 * end at once. */
struct control_ops {
	/* Makes sc (or none) the active scenario (owning it); -1 with *errors
	 * when its settings do not apply (the old one stays). */
	int (*use_scenario)(void *arg, struct scenario *sc, char **errors);
	/* POST /api/v1/reset: the active scenario starts afresh. */
	void (*restart_scenario)(void *arg);
	/* GET /api/v1/health: open SMTP sessions, draining, seconds up. */
	void (*health)(void *arg, size_t *sessions, int *draining, double *uptime);
	void *arg;
};

/* Binds host:port; the bound port is written to *port. */
struct control_api *control_api_new(const struct env *env, const struct control_ops *ops,
                                    const char *listen, int *port, char *err, size_t errlen);
void control_api_free(struct control_api *api);

#endif
