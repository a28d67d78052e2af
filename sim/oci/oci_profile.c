/*
 * oci_profile.c - the OCI profile: scenarios/catalog/oci.yaml (embedded),
 * the "oci.smtp." replies, and the submitEmail / submitRawEmail API
 * (https_oci.c).
 */
#include "oci_profile.h"

#include "embedded.h"
#include "https_front.h"
#include "https_oci.h"

/* OCI answers a bad MAIL FROM and a bad RCPT TO address alike. */
static const char *const reply_ids[][2] = {{"invalid-recipient", "oci.smtp.invalid-address"},
                                           {NULL, NULL}};

static const char *const ehlo_lines[] = {
    "PIPELINING", "SIZE", "8BITMIME", "STARTTLS", "AUTH", "ENHANCEDSTATUSCODES", NULL};

const struct profile oci_profile = {
    .name = "oci",
    .catalog_file = "scenarios/catalog/oci.yaml",
    .catalog = embedded_catalog_oci_yaml,
    .catalog_len = embedded_catalog_oci_yaml_len,
    .smtp_reply_prefix = "oci.smtp.",
    .https_new = https_oci_new,
    .https_free = https_front_free,
    .https_scenario_changed = https_front_scenario_changed,
    .ehlo_lines = ehlo_lines,
    .smtp_reply_ids = reply_ids,
};
