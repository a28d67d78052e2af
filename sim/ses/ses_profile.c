/*
 * ses_profile.c - the Amazon SES profile: scenarios/catalog/ses.yaml and
 * sim/ses/defaults.yaml (both embedded), SES's EHLO shape and message ids,
 * its account (ses_account.c), what SES does at the end of DATA
 * (ses_smtp.c) and its v2 and v1 APIs over HTTPS (https_ses.c).
 */
#include "ses_profile.h"

#include "embedded.h"
#include "env.h"
#include "ses_account.h"
#include "https_front.h"
#include "ses_https.h"
#include "ses_smtp.h"
#include "store.h"

/* As SES's endpoints answer EHLO (observed): no PIPELINING, no enhanced
 * status codes, and "250 Ok" to end. */
static const char *const ehlo_lines[] = {"8BITMIME", "SIZE", "STARTTLS", "AUTH", "Ok", NULL};

/* SES has one send rate (per second) and one daily quota, both counted by
 * the account; the engine's own quotas, when configured, answer with the
 * same rows. */
static const char *const reply_ids[][2] = {
    {"rate-minute", "ses.smtp.max-send-rate"}, {"rate-day", "ses.smtp.daily-quota"}, {NULL, NULL}};

static void *account_new(const struct env *env)
{
	return ses_account_new(env->cfg, env->clock);
}

static void account_use_quota(void *account, unsigned long long n)
{
	ses_account_use_quota(account, n);
}

static void account_free(void *account)
{
	ses_account_free(account);
}

static void account_reset(void *account)
{
	ses_account_reset(account);
}

const struct profile ses_profile = {
    .name = "ses",
    .catalog_file = "scenarios/catalog/ses.yaml",
    .catalog = embedded_catalog_ses_yaml,
    .catalog_len = embedded_catalog_ses_yaml_len,
    .defaults_file = "<embedded sim/ses/defaults.yaml>",
    .defaults = embedded_ses_defaults_yaml,
    .defaults_len = embedded_ses_defaults_yaml_len,
    .smtp_reply_prefix = "ses.smtp.",
    .https_new = ses_https_new,
    .https_free = https_front_free,
    .https_scenario_changed = https_front_scenario_changed,
    .ehlo_lines = ehlo_lines,
    .smtp_reply_ids = reply_ids,
    .message_id_style = STORE_ID_SES,
    .account_new = account_new,
    .account_free = account_free,
    .account_reset = account_reset,
    .smtp_login = ses_smtp_login,
    .smtp_data_end = ses_smtp_data_end,
    .smtp_accepted = ses_smtp_accepted,
    .account_use_quota = account_use_quota,
};
