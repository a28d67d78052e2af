/*
 * ses_https.h - the SES APIs over HTTPS (profile: ses): the v2 rest-json
 * API under /v2/email/ and the v1 Query API at POST /, on the shared
 * HTTPS front end, with SigV4 (https.auth) and the account of
 * ses_account.h.
 *
 * https_ses.c owns the front end's callbacks, authentication, the request
 * rate and the routing between the two APIs; ses_v2.c and ses_v1.c answer
 * their operations; ses_send.c is the send path both share (checks, the
 * account, the message, the commit); ses_mime.c builds a Simple message.
 */
#ifndef EDSIM_SES_HTTPS_H
#define EDSIM_SES_HTTPS_H

#include <stddef.h>

struct env;
struct https_front;
struct https_req;
struct ses_account;

struct ses_api {
	struct https_front *front;
	const struct env *env;
	struct ses_account *account;
};

/* The profile's https_new (struct profile): the front end, the APIs' state
 * inside it (https_front_free() and https_front_scenario_changed() serve
 * as its other hooks). */
struct https_front *ses_https_new(const struct env *env, const char *listen, int *port, char *err,
                                  size_t errlen);

/* An API's operations, after authentication and the request rate: user is
 * the signing access key (NULL without https.auth verify), h the request
 * hook's answer (2: native rejections lifted). */
void ses_v2_handle(struct ses_api *api, struct https_req *r, const char *user, int h);
void ses_v1_handle(struct ses_api *api, struct https_req *r, const char *user, int h);

#endif
