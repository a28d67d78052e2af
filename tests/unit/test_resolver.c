/*
 * test_resolver.c - MX lookup against a real DNS server (sim/resolver.c).
 *
 * The suite starts dnsmasq (Debian's dnsmasq-base) on 127.0.0.1 with a free
 * port and a small zone written as command-line records, and stops it in the
 * suite's clean-up, whatever the tests did. Without dnsmasq every test fails
 * and says what to install. Each test runs its own event loop until the
 * resolver answers, bounded by a guard timer.
 */
#include <CUnit/CUnit.h>
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "resolver.h"
#include "unit.h"

#ifndef DNSMASQ
#define DNSMASQ "/usr/sbin/dnsmasq"
#endif
#define DNS_START_TRIES 3
#define DNS_WAIT_MS     3000
#define GUARD_SECONDS   8
#define SMTP_PORT       2525

extern char **environ;

/* The dnsmasq of this suite: set by its init, cleared by its clean-up. */
static pid_t dns_pid = -1;
static int dns_port;
static char dns_error[256];

/* ---- dnsmasq ---------------------------------------------------------------------- */

static double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A port free for both UDP and TCP on 127.0.0.1 (dnsmasq listens on both). */
static int free_port(void)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	socklen_t len = sizeof sin;
	int udp, tcp = -1, port = -1;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	udp = socket(AF_INET, SOCK_DGRAM, 0);
	if (udp >= 0 && bind(udp, (struct sockaddr *)&sin, sizeof sin) == 0 &&
	    getsockname(udp, (struct sockaddr *)&sin, &len) == 0) {
		tcp = socket(AF_INET, SOCK_STREAM, 0);
		if (tcp >= 0 && bind(tcp, (struct sockaddr *)&sin, sizeof sin) == 0)
			port = ntohs(sin.sin_port);
	}
	if (udp >= 0)
		close(udp);
	if (tcp >= 0)
		close(tcp);
	return port;
}

static pid_t dnsmasq_spawn(int port)
{
	char port_opt[32], user_opt[80];
	struct passwd *pw = getpwuid(geteuid());
	char *argv[] = {
	    DNSMASQ, "-k", "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
	    "--listen-address=127.0.0.1", "--bind-interfaces", port_opt, "--pid-file=", user_opt,
	    "--log-facility=/dev/null", "--local=/test/",
	    /* two MX of different preference; dnsmasq answers the records of a name
	     * in the reverse of its command line, so mx2 comes first on the wire */
	    "--mx-host=two.test,mx1.two.test,10", "--mx-host=two.test,mx2.two.test,20",
	    "--host-record=mx1.two.test,127.0.0.1", "--host-record=mx2.two.test,127.0.0.2",
	    /* equal preference: the server's order is kept */
	    "--mx-host=tie.test,mxa.tie.test,5", "--mx-host=tie.test,mxb.tie.test,5",
	    "--host-record=mxa.tie.test,127.0.0.4", "--host-record=mxb.tie.test,127.0.0.5",
	    /* an IPv6-only exchange */
	    "--mx-host=six.test,mx.six.test,10", "--host-record=mx.six.test,::1",
	    /* no MX: the domain's own address */
	    "--host-record=plain.test,127.0.0.3",
	    /* neither MX nor address records (the name exists) */
	    "--txt-record=empty.test,nothing here",
	    /* RFC 7505 null MX: preference 0, exchange "." */
	    "--mx-host=nullmx.test,.,0",
	    /* the only exchange does not exist */
	    "--mx-host=badmx.test,gone.test,10", NULL};
	pid_t pid;

	snprintf(port_opt, sizeof port_opt, "--port=%d", port);
	snprintf(user_opt, sizeof user_opt, "--user=%s", pw != NULL ? pw->pw_name : "root");
	if (posix_spawn(&pid, DNSMASQ, NULL, NULL, argv, environ) != 0)
		return -1;
	return pid;
}

/* A DNS query for plain.test A: the answer shows that dnsmasq is serving. */
static int dnsmasq_answers(int port)
{
	static const unsigned char query[] = {0x12, 0x34, 0x01, 0x00, 0,   1,   0,   0,   0, 0,
	                                      0,    0,    5,    'p',  'l', 'a', 'i', 'n', 4, 't',
	                                      'e',  's',  't',  0,    0,   1,   0,   1};
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
	unsigned char reply[512];
	struct pollfd pfd;
	int fd = socket(AF_INET, SOCK_DGRAM, 0), ok = 0;

	if (fd < 0)
		return 0;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	pfd.fd = fd;
	pfd.events = POLLIN;
	if (sendto(fd, query, sizeof query, 0, (struct sockaddr *)&sin, sizeof sin) > 0 &&
	    poll(&pfd, 1, 100) == 1 && recv(fd, reply, sizeof reply, 0) >= 12)
		ok = reply[0] == 0x12 && reply[1] == 0x34;
	close(fd);
	return ok;
}

static void dnsmasq_stop(pid_t pid)
{
	kill(pid, SIGTERM);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
}

/* Polls until dnsmasq answers; 0 when it does, -1 when it died or is mute. */
static int dnsmasq_wait(pid_t pid, int port)
{
	double deadline = now_seconds() + DNS_WAIT_MS / 1000.0;

	while (now_seconds() < deadline) {
		if (waitpid(pid, NULL, WNOHANG) == pid)
			return -1;
		if (dnsmasq_answers(port)) /* waits up to 100 ms for the reply */
			return 0;
	}
	dnsmasq_stop(pid);
	return -1;
}

static int resolver_suite_init(void)
{
	if (access(DNSMASQ, X_OK) != 0) {
		snprintf(dns_error, sizeof dns_error,
		         "%s not found: install dnsmasq-base to run the resolver tests", DNSMASQ);
		return 0;
	}
	for (int i = 0; i < DNS_START_TRIES; i++) {
		int port = free_port();
		pid_t pid = port > 0 ? dnsmasq_spawn(port) : -1;
		if (pid > 0 && dnsmasq_wait(pid, port) == 0) {
			dns_pid = pid;
			dns_port = port;
			return 0;
		}
	}
	snprintf(dns_error, sizeof dns_error, "dnsmasq did not start (is dnsmasq-base intact?)");
	return 0;
}

static int resolver_suite_clean(void)
{
	if (dns_pid > 0)
		dnsmasq_stop(dns_pid);
	dns_pid = -1;
	return 0;
}

/* A failure whose text (shown in CUnit's report) says why: CU_FAIL() would
 * only show its argument's name. */
static void fail_no_dnsmasq(unsigned int line)
{
	CU_assertImplementation(CU_FALSE, line, dns_error, __FILE__, "", CU_FALSE);
}

/* ---- running one lookup ----------------------------------------------------------- */

struct lookup {
	struct event_base *base;
	struct resolver *r;
	int in_call;   /* set around resolver_mx() */
	int sync_call; /* the callback ran inside resolver_mx() */
	int calls;
	int free_in_callback;
	int status, permanent;
	char err[256];
	struct mx_target targets[8];
	size_t n;
};

static void lookup_done(void *arg, int status, const struct mx_target *targets, size_t n,
                        const char *err, int permanent)
{
	struct lookup *l = arg;

	l->calls++;
	l->sync_call |= l->in_call;
	l->status = status;
	l->permanent = permanent;
	snprintf(l->err, sizeof l->err, "%s", err != NULL ? err : "");
	l->n = n;
	for (size_t i = 0; i < n && i < UNIT_COUNT(l->targets); i++)
		l->targets[i] = targets[i];
	if (l->free_in_callback) {
		resolver_free(l->r);
		l->r = NULL;
	}
	event_base_loopbreak(l->base);
}

static int lookup_start(struct lookup *l, const char *server)
{
	char err[256];

	memset(l, 0, sizeof *l);
	l->base = event_base_new();
	if (l->base == NULL)
		return -1;
	l->r = resolver_new(l->base, server, err, sizeof err);
	if (l->r == NULL) {
		fprintf(stderr, "resolver_new(%s): %s\n", server, err);
		event_base_free(l->base);
		return -1;
	}
	return 0;
}

static void lookup_run(struct lookup *l, const char *domain)
{
	struct timeval guard = {GUARD_SECONDS, 0};

	l->in_call = 1;
	resolver_mx(l->r, domain, SMTP_PORT, lookup_done, l);
	l->in_call = 0;
	event_base_loopexit(l->base, &guard);
	event_base_dispatch(l->base);
}

static void lookup_end(struct lookup *l)
{
	resolver_free(l->r);
	event_base_free(l->base);
}

static const char *dns_server(char *buf, size_t len)
{
	snprintf(buf, len, "127.0.0.1:%d", dns_port);
	return buf;
}

/* Starts a lookup of domain against the suite's dnsmasq; fails the test when
 * there is no dnsmasq. */
static int lookup_domain(struct lookup *l, const char *domain)
{
	char server[64];

	if (dns_pid <= 0) {
		fail_no_dnsmasq(__LINE__);
		return -1;
	}
	if (lookup_start(l, dns_server(server, sizeof server)) < 0) {
		CU_FAIL("resolver_new failed");
		return -1;
	}
	lookup_run(l, domain);
	CU_ASSERT_EQUAL(l->calls, 1);
	CU_ASSERT_FALSE(l->sync_call);
	return 0;
}

static void assert_target(const struct mx_target *t, const char *host, const char *ip)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)&t->addr;
	char text[INET_ADDRSTRLEN] = "";

	CU_ASSERT_STRING_EQUAL(t->host, host);
	CU_ASSERT_EQUAL(t->addr.ss_family, AF_INET);
	CU_ASSERT_EQUAL(t->addrlen, sizeof(struct sockaddr_in));
	inet_ntop(AF_INET, &sin->sin_addr, text, sizeof text);
	CU_ASSERT_STRING_EQUAL(text, ip);
	CU_ASSERT_EQUAL(ntohs(sin->sin_port), SMTP_PORT);
}

/* ---- answers ---------------------------------------------------------------------- */

static void test_mx_order(void)
{
	struct lookup l;

	if (lookup_domain(&l, "two.test") < 0)
		return;
	CU_ASSERT_EQUAL(l.status, 0);
	CU_ASSERT_EQUAL(l.n, 2);
	if (l.n == 2) {
		assert_target(&l.targets[0], "mx1.two.test", "127.0.0.1");
		assert_target(&l.targets[1], "mx2.two.test", "127.0.0.2");
	}
	lookup_end(&l);
}

static void test_mx_equal_preference(void)
{
	struct lookup l;

	if (lookup_domain(&l, "tie.test") < 0)
		return;
	CU_ASSERT_EQUAL(l.status, 0);
	CU_ASSERT_EQUAL(l.n, 2);
	/* dnsmasq answers records of one name in the reverse of its command line:
	 * the server's order is mxb, mxa, and equal preferences keep it */
	if (l.n == 2) {
		assert_target(&l.targets[0], "mxb.tie.test", "127.0.0.5");
		assert_target(&l.targets[1], "mxa.tie.test", "127.0.0.4");
	}
	lookup_end(&l);
}

static void test_mx_ipv6(void)
{
	struct lookup l;
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&l.targets[0].addr;

	if (lookup_domain(&l, "six.test") < 0)
		return;
	CU_ASSERT_EQUAL(l.status, 0);
	CU_ASSERT_EQUAL(l.n, 1);
	CU_ASSERT_STRING_EQUAL(l.targets[0].host, "mx.six.test");
	CU_ASSERT_EQUAL(l.targets[0].addr.ss_family, AF_INET6);
	CU_ASSERT_EQUAL(l.targets[0].addrlen, sizeof(struct sockaddr_in6));
	CU_ASSERT_TRUE(IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr));
	CU_ASSERT_EQUAL(ntohs(sin6->sin6_port), SMTP_PORT);
	lookup_end(&l);
}

static void test_address_fallback(void)
{
	struct lookup l;

	if (lookup_domain(&l, "plain.test") < 0)
		return;
	CU_ASSERT_EQUAL(l.status, 0);
	CU_ASSERT_EQUAL(l.n, 1);
	assert_target(&l.targets[0], "plain.test", "127.0.0.3");
	lookup_end(&l);
}

/* ---- errors ----------------------------------------------------------------------- */

static void assert_failed(const struct lookup *l, int permanent, const char *text)
{
	CU_ASSERT_EQUAL(l->status, -1);
	CU_ASSERT_EQUAL(l->n, 0);
	CU_ASSERT_EQUAL(l->permanent, permanent);
	CU_ASSERT_PTR_NOT_NULL(strstr(l->err, text));
	if (strstr(l->err, text) == NULL)
		fprintf(stderr, "\nerror \"%s\" lacks \"%s\"\n", l->err, text);
}

static void test_nxdomain(void)
{
	struct lookup l;

	if (lookup_domain(&l, "nope.test") < 0)
		return;
	assert_failed(&l, 1, "no such domain: nope.test");
	lookup_end(&l);
}

static void test_null_mx(void)
{
	struct lookup l;

	if (lookup_domain(&l, "nullmx.test") < 0)
		return;
	assert_failed(&l, 1, "null MX: the domain accepts no mail");
	lookup_end(&l);
}

static void test_no_mx_no_address(void)
{
	struct lookup l;

	if (lookup_domain(&l, "empty.test") < 0)
		return;
	assert_failed(&l, 1, "empty.test");
	lookup_end(&l);
}

static void test_exchange_unresolvable(void)
{
	struct lookup l;

	if (lookup_domain(&l, "badmx.test") < 0)
		return;
	assert_failed(&l, 0, "badmx.test");
	lookup_end(&l);
}

static void test_refused(void)
{
	struct lookup l;

	/* dnsmasq without upstream servers refuses names outside its zones */
	if (lookup_domain(&l, "example.org") < 0)
		return;
	assert_failed(&l, 0, "example.org");
	lookup_end(&l);
}

static void test_invalid_name(void)
{
	struct lookup l;

	/* c-ares rejects the name before sending anything: the answer is still
	 * delivered later, from the loop */
	if (lookup_domain(&l, "bad..name") < 0)
		return;
	CU_ASSERT_EQUAL(l.status, -1);
	CU_ASSERT_EQUAL(l.permanent, 1);
	lookup_end(&l);
	if (lookup_domain(&l, "") < 0)
		return;
	CU_ASSERT_EQUAL(l.status, -1);
	lookup_end(&l);
}

static void test_no_server(void)
{
	char server[64];
	struct lookup l;
	int port = free_port();
	double start = now_seconds();

	CU_ASSERT_TRUE_FATAL(port > 0);
	snprintf(server, sizeof server, "127.0.0.1:%d", port);
	CU_ASSERT_EQUAL_FATAL(lookup_start(&l, server), 0);
	lookup_run(&l, "two.test");
	CU_ASSERT_EQUAL(l.calls, 1);
	CU_ASSERT_FALSE(l.sync_call);
	CU_ASSERT_EQUAL(l.status, -1);
	CU_ASSERT_EQUAL(l.permanent, 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(l.err, "two.test"));
	CU_ASSERT(now_seconds() - start < 7.0);
	lookup_end(&l);
}

/* ---- lifetime --------------------------------------------------------------------- */

static void test_free_pending(void)
{
	char server[64];
	struct lookup l;

	if (dns_pid <= 0) {
		fail_no_dnsmasq(__LINE__);
		return;
	}
	/* the query is on the wire when the resolver goes */
	CU_ASSERT_EQUAL_FATAL(lookup_start(&l, dns_server(server, sizeof server)), 0);
	resolver_mx(l.r, "two.test", SMTP_PORT, lookup_done, &l);
	resolver_mx(l.r, "plain.test", SMTP_PORT, lookup_done, &l);
	resolver_free(l.r);
	l.r = NULL;
	event_base_loop(l.base, EVLOOP_NONBLOCK);
	CU_ASSERT_EQUAL(l.calls, 0);
	event_base_free(l.base);

	/* the answer is waiting for its delivery when the resolver goes */
	CU_ASSERT_EQUAL_FATAL(lookup_start(&l, dns_server(server, sizeof server)), 0);
	resolver_mx(l.r, "bad..name", SMTP_PORT, lookup_done, &l);
	resolver_free(l.r);
	l.r = NULL;
	event_base_loop(l.base, EVLOOP_NONBLOCK);
	CU_ASSERT_EQUAL(l.calls, 0);
	event_base_free(l.base);
}

static void test_free_in_callback(void)
{
	char server[64];
	struct lookup l;
	struct timeval guard = {GUARD_SECONDS, 0};

	if (dns_pid <= 0) {
		fail_no_dnsmasq(__LINE__);
		return;
	}
	CU_ASSERT_EQUAL_FATAL(lookup_start(&l, dns_server(server, sizeof server)), 0);
	l.free_in_callback = 1;
	/* the first answer frees the resolver: the second is never reported */
	resolver_mx(l.r, "two.test", SMTP_PORT, lookup_done, &l);
	resolver_mx(l.r, "plain.test", SMTP_PORT, lookup_done, &l);
	event_base_loopexit(l.base, &guard);
	event_base_dispatch(l.base);
	CU_ASSERT_EQUAL(l.calls, 1);
	CU_ASSERT_EQUAL(l.status, 0);
	CU_ASSERT_PTR_NULL(l.r);
	event_base_loop(l.base, EVLOOP_NONBLOCK);
	CU_ASSERT_EQUAL(l.calls, 1);
	event_base_free(l.base);
}

static void test_server_syntax(void)
{
	static const char *const good[] = {NULL, "127.0.0.1", "127.0.0.1:5353", "::1",
	                                   "[::1]:5353"};
	static const char *const bad[] = {
	    "", "dns.example:53", "127.0.0.1:0", "127.0.0.1:99999", "127.0.0.1:x", "[::1]"};
	struct event_base *base = event_base_new();
	char err[256];

	CU_ASSERT_PTR_NOT_NULL_FATAL(base);
	for (size_t i = 0; i < UNIT_COUNT(good); i++) {
		struct resolver *r = resolver_new(base, good[i], err, sizeof err);
		CU_ASSERT_PTR_NOT_NULL(r);
		resolver_free(r);
	}
	for (size_t i = 0; i < UNIT_COUNT(bad); i++) {
		err[0] = '\0';
		CU_ASSERT_PTR_NULL(resolver_new(base, bad[i], err, sizeof err));
		CU_ASSERT_NOT_EQUAL(err[0], '\0');
	}
	event_base_free(base);
}

int register_resolver_tests(void)
{
	static const struct unit_test tests[] = {
	    {"MX records in preference order, port set", test_mx_order},
	    {"equal preferences: both exchanges", test_mx_equal_preference},
	    {"IPv6 exchange", test_mx_ipv6},
	    {"no MX: the domain's own address", test_address_fallback},
	    {"NXDOMAIN is permanent and names the domain", test_nxdomain},
	    {"null MX is permanent", test_null_mx},
	    {"neither MX nor address records is permanent", test_no_mx_no_address},
	    {"unresolvable exchange is temporary", test_exchange_unresolvable},
	    {"REFUSED is temporary", test_refused},
	    {"invalid names answer later, not at once", test_invalid_name},
	    {"no DNS server: temporary, in bounded time", test_no_server},
	    {"free with pending lookups: no callback, no leak", test_free_pending},
	    {"free from inside the callback", test_free_in_callback},
	    {"server syntax", test_server_syntax},
	};
	CU_pSuite suite = CU_add_suite("resolver: MX lookup (dnsmasq)", resolver_suite_init,
	                               resolver_suite_clean);

	if (suite == NULL)
		return -1;
	for (size_t i = 0; i < UNIT_COUNT(tests); i++)
		if (CU_add_test(suite, tests[i].name, tests[i].fn) == NULL)
			return -1;
	return 0;
}
