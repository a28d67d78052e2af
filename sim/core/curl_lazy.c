/*
 * curl_lazy.c - dlopen()s libcurl and resolves the functions edsim uses.
 *
 * Invariants: a struct curl_lazy is either all zero (not loaded) or has
 * every pointer set and curl_global_init() done; curl_lazy_unload() undoes
 * exactly one curl_lazy_load(). There is no process-wide table: each user
 * (the webhooks object, one `edsim health` run) holds its own, and
 * dlopen()'s reference count and curl_global_init()'s own counter make
 * several loads in one process (the unit tests) share the one library.
 *
 * The library is opened RTLD_NODELETE: once loaded, libcurl and what it
 * brings (GnuTLS, Kerberos, p11-kit, ...) stay mapped after the last
 * dlclose(). Unmapping them would run their destructors mid-run and turn
 * what their globals still point at into memory nobody can reach (leaks
 * for LeakSanitizer), for no gain: a process that loaded libcurl once is
 * likely to want it again (webhooks made anew, the unit tests).
 */
#include "curl_lazy.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

int curl_lazy_load(struct curl_lazy *c, const char *soname, char *err, size_t errlen)
{
	const char *missing = NULL;
	CURLcode rc;

	memset(c, 0, sizeof *c);
	c->lib = dlopen(soname, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
	if (c->lib == NULL) {
		const char *why = dlerror();

		snprintf(err, errlen, "cannot load %s (install Debian's %s package): %s", soname,
		         CURL_LAZY_PACKAGE, why ? why : "unknown error");
		return -1;
	}
#define CURL_LAZY_RESOLVE(name)                                                                    \
	c->name = (__typeof__(c->name))dlsym(c->lib, "curl_" #name);                               \
	if (c->name == NULL && missing == NULL)                                                    \
		missing = "curl_" #name;
	CURL_LAZY_FUNCTIONS(CURL_LAZY_RESOLVE)
#undef CURL_LAZY_RESOLVE
	if (missing != NULL) {
		snprintf(err, errlen, "%s has no %s (install Debian's %s package)", soname, missing,
		         CURL_LAZY_PACKAGE);
		dlclose(c->lib);
		memset(c, 0, sizeof *c);
		return -1;
	}
	if ((rc = c->global_init(CURL_GLOBAL_DEFAULT)) != CURLE_OK) {
		snprintf(err, errlen, "cannot initialise %s: %s", soname, c->easy_strerror(rc));
		dlclose(c->lib);
		memset(c, 0, sizeof *c);
		return -1;
	}
	return 0;
}

void curl_lazy_unload(struct curl_lazy *c)
{
	if (c == NULL || c->lib == NULL)
		return;
	c->global_cleanup();
	dlclose(c->lib);
	memset(c, 0, sizeof *c);
}
