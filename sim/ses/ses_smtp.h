/*
 * ses_smtp.h - what SES does at the end of DATA over SMTP, after the
 * engine's own checks: the account's refusals (sending paused or suspended,
 * unverified identities, send rate, daily quota), an unknown configuration
 * set in X-SES-CONFIGURATION-SET, a duplicated header that may occur once;
 * then it removes its own X-SES-* header fields before the message is
 * stored and relayed.
 *
 * Replies are the catalog's ses.smtp.* rows; the hooks have the shape of
 * struct profile's account functions.
 */
#ifndef EDSIM_SES_SMTP_H
#define EDSIM_SES_SMTP_H

#include "profile.h"

int ses_smtp_login(void *account, const char *user, const char *password);
int ses_smtp_data_end(void *account, const struct catalog *c, struct smtp_submission *m,
                      struct provider_reply *reply);
void ses_smtp_accepted(void *account, const struct smtp_submission *m);

#endif
