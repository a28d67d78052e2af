/*
 * embedded.h - files compiled into the binary (embedded_data.S): the default
 * configuration, the provider catalogs and the providers' own defaults. Each is NUL-terminated.
 */
#ifndef EDSIM_EMBEDDED_H
#define EDSIM_EMBEDDED_H

#include <stddef.h>

extern const unsigned char embedded_default_yaml[];
extern const unsigned char embedded_catalog_oci_yaml[];
extern const unsigned char embedded_catalog_ses_yaml[];
extern const unsigned char embedded_ses_defaults_yaml[];

size_t embedded_default_yaml_len(void);
size_t embedded_catalog_oci_yaml_len(void);
size_t embedded_catalog_ses_yaml_len(void);
size_t embedded_ses_defaults_yaml_len(void);

#endif
