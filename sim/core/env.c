/*
 * env.c - the effects a scenario rule has on the handles of a front end.
 */
#include "env.h"

#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "config.h"
#include "log.h"
#include "policy.h"
#include "profile.h"
#include "scenario.h"

void env_apply_effects(const struct env *env, const struct rule_do *act, const char *user)
{
	char *errors = NULL;

	if (act->set_text != NULL &&
	    config_overlay_text(env->cfg, act->set_text, strlen(act->set_text), &errors) < 0)
		log_warn("a rule's set did not apply: %s", errors ? errors : "");
	free(errors);
	if (act->use_quota > 0)
		policy_quota_charge(env->policy, user, act->use_quota, vclock_now(env->clock));
	if (act->use_quota > 0 && env->account != NULL && env->profile != NULL &&
	    env->profile->account_use_quota != NULL)
		env->profile->account_use_quota(env->account, act->use_quota);
}
