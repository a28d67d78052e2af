/*
 * embedded.h - files compiled into the binary (embedded_data.S): the default
 * configuration and the provider catalogs. Each is NUL-terminated.
 */
#ifndef EDSIM_EMBEDDED_H
#define EDSIM_EMBEDDED_H

#include <stddef.h>

extern const unsigned char embedded_default_yaml[];
extern const unsigned char embedded_catalog_oci_yaml[];

size_t embedded_default_yaml_len(void);
size_t embedded_catalog_oci_yaml_len(void);

#endif
