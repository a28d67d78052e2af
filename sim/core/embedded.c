/*
 * embedded.c - lengths of the files that embedded.S compiles in.
 */
#include "embedded.h"

#include <string.h>

size_t embedded_default_yaml_len(void)
{
	return strlen((const char *)embedded_default_yaml);
}

size_t embedded_catalog_oci_yaml_len(void)
{
	return strlen((const char *)embedded_catalog_oci_yaml);
}

size_t embedded_catalog_ses_yaml_len(void)
{
	return strlen((const char *)embedded_catalog_ses_yaml);
}

size_t embedded_ses_defaults_yaml_len(void)
{
	return strlen((const char *)embedded_ses_defaults_yaml);
}
