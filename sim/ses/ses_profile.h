/*
 * ses_profile.h - the Amazon SES profile.
 */
#ifndef EDSIM_SES_PROFILE_H
#define EDSIM_SES_PROFILE_H

#include "profile.h"

extern const struct profile ses_profile;

#endif
