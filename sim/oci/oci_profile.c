/*
 * oci_profile.c - the OCI profile: scenarios/catalog/oci.yaml (embedded),
 * the "oci.smtp." replies, and the submitEmail / submitRawEmail API
 * (https_oci.c).
 */
#include "oci_profile.h"

#include "embedded.h"
#include "https_oci.h"

const struct profile oci_profile = {
    .name = "oci",
    .catalog_file = "scenarios/catalog/oci.yaml",
    .catalog = embedded_catalog_oci_yaml,
    .catalog_len = embedded_catalog_oci_yaml_len,
    .smtp_reply_prefix = "oci.smtp.",
    .https_new = https_api_new,
    .https_free = https_api_free,
    .https_scenario_changed = https_api_scenario_changed,
};
