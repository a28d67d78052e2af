/* embedded_data.S - includes the default configuration and the catalog verbatim.
 * Paths are relative to the repository root (the Makefile passes -I.). */
	.section .rodata
	.global embedded_default_yaml
embedded_default_yaml:
	.incbin "sim/default.yaml"
	.byte 0
	.global embedded_catalog_oci_yaml
embedded_catalog_oci_yaml:
	.incbin "scenarios/catalog/oci.yaml"
	.byte 0
	.global embedded_catalog_ses_yaml
embedded_catalog_ses_yaml:
	.incbin "scenarios/catalog/ses.yaml"
	.byte 0
	.global embedded_ses_defaults_yaml
embedded_ses_defaults_yaml:
	.incbin "sim/ses/defaults.yaml"
	.byte 0
	.section .note.GNU-stack,"",@progbits
