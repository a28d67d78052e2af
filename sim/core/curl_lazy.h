/*
 * curl_lazy.h - libcurl, loaded with dlopen() when a caller first needs it.
 *
 * edsim does not link libcurl: libcurl and the libraries it brings (GnuTLS,
 * Kerberos, LDAP, p11-kit, ...) are about 3.7 MB resident, and only the
 * webhooks and `edsim health` use it. Each user owns a struct curl_lazy,
 * fills it with curl_lazy_load() and calls libcurl through its pointers
 * (c->easy_setopt(easy, CURLOPT_URL, url)); the types and constants still
 * come from <curl/curl.h>. At run time this needs Debian's libcurl4.
 */
#ifndef EDSIM_CURL_LAZY_H
#define EDSIM_CURL_LAZY_H

#include <curl/curl.h>
#include <stddef.h>

#define CURL_LAZY_SONAME  "libcurl.so.4"
#define CURL_LAZY_PACKAGE "libcurl4" /* the Debian package that ships it */

/* Every libcurl function edsim calls, without its curl_ prefix. */
#define CURL_LAZY_FUNCTIONS(X)                                                                     \
	X(global_init)                                                                             \
	X(global_cleanup)                                                                          \
	X(easy_init)                                                                               \
	X(easy_setopt)                                                                             \
	X(easy_perform)                                                                            \
	X(easy_getinfo)                                                                            \
	X(easy_cleanup)                                                                            \
	X(easy_strerror)                                                                           \
	X(slist_append)                                                                            \
	X(slist_free_all)                                                                          \
	X(multi_init)                                                                              \
	X(multi_setopt)                                                                            \
	X(multi_add_handle)                                                                        \
	X(multi_remove_handle)                                                                     \
	X(multi_socket_action)                                                                     \
	X(multi_info_read)                                                                         \
	X(multi_assign)                                                                            \
	X(multi_cleanup)

/* Each member has the type of libcurl's own function (curl_easy_setopt:
 * CURLcode (*)(CURL *, CURLoption, ...)), so calls are checked as usual. */
#define CURL_LAZY_MEMBER(name) __typeof__(curl_##name) *name;
struct curl_lazy {
	void *lib; /* the dlopen() handle; NULL when not loaded */
	CURL_LAZY_FUNCTIONS(CURL_LAZY_MEMBER)
};
#undef CURL_LAZY_MEMBER

/* Loads soname (CURL_LAZY_SONAME; another name only in tests), resolves
 * every function and runs curl_global_init(). 0, or -1 with a message in err
 * that names the library and the Debian package to install; c is then
 * zeroed. */
int curl_lazy_load(struct curl_lazy *c, const char *soname, char *err, size_t errlen);
/* curl_global_cleanup() and the handle released; accepts an unloaded c. */
void curl_lazy_unload(struct curl_lazy *c);

#endif
