/*
 * oci_profile.h - OCI Email Delivery as a profile (profile.h): its catalog,
 * its SMTP reply names and its HTTPS submission API.
 */
#ifndef EDSIM_OCI_PROFILE_H
#define EDSIM_OCI_PROFILE_H

#include "profile.h"

extern const struct profile oci_profile;

#endif
