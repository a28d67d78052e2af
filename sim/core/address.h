/*
 * address.h - the syntax of a mailbox address (RFC 5321 section 4.1.2):
 * what SMTP paths and the providers' JSON recipients are both checked against.
 */
#ifndef EDSIM_ADDRESS_H
#define EDSIM_ADDRESS_H

/* 1 when addr is local-part@domain: a dot-atom or quoted local part, and a
 * domain of LDH labels or an address literal; at most 254 characters. */
int address_is_valid(const char *addr);

#endif
