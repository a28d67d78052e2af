# edsim - Email Delivery simulator.
#   make          build ./edsim (optimised)
#   make run      install what is missing, build, start edsim in the foreground
#   make test     install what is missing, build with sanitizers, run every test
#   make bench    run the benchmarks in bench/ (results in bench/RESULTS.md)
#   make bench-quick  ./edsim against the commit bench/RESULTS.md was measured
#                 at (bench/quick.sh, about a minute): SMTP CPU per message and
#                 msg/s, idle RSS, start-up, HTTPS; REGRESSION lines. Run it
#                 before closing any change to the SMTP/store/relay/events path
#   make fresh-check  make run's quick start and make test in a bare Debian 12 root
#   make fresh-clean  remove fresh-check's cached base root

CC       ?= cc
# edsim's libraries. libcurl is not among them: sim/curl_lazy.c dlopen()s it
# when webhooks or `edsim health` need it (its headers are still used), so
# an edsim without webhooks never maps it (about 3.7 MB resident). libevent
# is linked as libevent_core + libevent_extra, the two libevent_openssl
# uses, and --as-needed drops the all-in-one libevent that libevent_openssl's
# .pc names: one copy of libevent's code, not two.
EDSIM_PKGS := libevent_core libevent_extra libevent_openssl openssl yaml-0.1 jansson sqlite3 libcares
# The conformance runner and the reference client call libcurl directly.
PKGS     := $(EDSIM_PKGS) libcurl
# sim/ is the composition root (main.c, server.c); below it one folder per
# layer: core (configuration, catalog, clock, store, scenario engine, ...),
# smtp (the SMTP engine), relay, flow (the way of an accepted message),
# control (the control API) and one folder per provider (oci; ses, begun).
SIM_DIRS := sim sim/core sim/smtp sim/https sim/relay sim/flow sim/control sim/oci sim/ses
CSTD     := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror $(addprefix -I,$(SIM_DIRS)) -I.
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread -lm
EDSIM_LIBS = -Wl,--as-needed $(shell pkg-config --libs $(EDSIM_PKGS) 2>/dev/null) -lpthread -lm
SAN      := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

# The Debian packages each target needs, every one named: tools/install-deps
# installs those missing with apt-get --no-install-recommends, so what Debian
# only recommends is named here too. A fresh Debian 12 machine is the
# reference (make fresh-check proves it in a bare debootstrap root).
#   RUN_DEPS      building and running edsim: the compiler and libc headers
#                 (libc6-dev is only recommended by gcc), the libraries' -dev
#                 packages, pkg-config, and libcurl4: edsim loads libcurl.so.4
#                 at run time for webhooks and `edsim health` (the -dev
#                 package depends on it; named since a run needs it, not a build)
RUN_DEPS  := gcc libc6-dev make pkg-config libevent-dev libssl-dev libyaml-dev libjansson-dev \
             libsqlite3-dev libcurl4-openssl-dev libcurl4 libc-ares-dev
#   EXAMPLE_DEPS  the README's commands after make run: swaks with its TLS
#                 module (Net::SSLeay, only recommended by swaks: without it
#                 `swaks --tls` exits "TLS not available"), curl, and jq (the
#                 "Use it in CI" recipe's assertions)
EXAMPLE_DEPS := swaks libnet-ssleay-perl curl jq
#   TEST_DEPS     make test, and the ready-made conformance clients
#                 (conformance/clients/*.yaml):
#     libcunit1-dev            the unit tests
#     expect tcl-expect        Expect dialogs, the openssl-expect client, tools/edsim-replay
#     swaks libnet-ssleay-perl swaks --tls, --tls-on-connect (tests, the swaks client)
#     postfix                  smtp-sink, smtp-source, sendmail, postqueue (relay tests,
#                              the postfix client, benchmarks); its postinst makes the
#                              postfix user and postdrop group that postfix-mta.sh needs
#     libsasl2-modules         Cyrus SASL's PLAIN and LOGIN, only recommended by
#                              libsasl2-2: without it the postfix client's AUTH
#                              fails "no mechanism available"
#     curl openssl sqlite3     the control API, s_client and keys, the store's file
#     procps                   ps, pgrep, kill
#     python3                  the test helpers (json, ssl, sqlite3, smtplib, http.server)
#     python3-dkim             DKIM verification (relay_dkim.sh)
#     python3-jsonschema       report.json against its schema (no format checks:
#                              its recommended format packages are not needed)
#     dnsmasq-base             MX lookups against a real DNS server
#     libxml2-utils            xmllint: junit.xml against conformance/junit.xsd
#     chromium                 report.html rendered headless
#     msmtp                    the msmtp client
#     nodejs npm               the nodemailer, oci-sdk and aws-sdk-js clients and tests/sdk
#                              (npm ci; Debian 12's nodejs 18 runs them)
#     python3-boto3            the boto3 and boto3-standard clients, sdk_ses.sh (run
#                              with /usr/bin/python3: Debian's boto3, whatever else is
#                              on the PATH)
#     awscli                   the aws-cli client (/usr/bin/aws, version 2), sdk_ses.sh
#     ca-certificates          npm ci over HTTPS
#     bc                       https_scenarios.sh's arithmetic on times
#     util-linux mount         setpriv (postfix-mta.sh), flock; mount and umount
#     coreutils                (storage_full.sh); timeout, base64: required
#                              packages, named all the same
TEST_DEPS := $(RUN_DEPS) $(EXAMPLE_DEPS) libcunit1-dev expect tcl-expect postfix libsasl2-modules openssl sqlite3 \
             procps python3 python3-dkim python3-jsonschema dnsmasq-base libxml2-utils chromium \
             msmtp nodejs npm python3-boto3 awscli ca-certificates bc util-linux mount coreutils
#   BENCH_DEPS    make bench, make bench-quick: wrk (bench/https.sh), beyond TEST_DEPS
BENCH_DEPS := $(TEST_DEPS) wrk

SIM_SRC  := $(filter-out sim/main.c,$(foreach d,$(SIM_DIRS),$(wildcard $(d)/*.c)))
CONF_SRC := $(filter-out conformance/runner_main.c,$(wildcard conformance/*.c))
CONF_HDR := $(wildcard conformance/*.h)
SIM_HDR  := $(foreach d,$(SIM_DIRS),$(wildcard $(d)/*.h))
vpath %.c $(SIM_DIRS)
EMBEDDED := sim/default.yaml scenarios/catalog/oci.yaml scenarios/catalog/ses.yaml sim/ses/defaults.yaml
UNIT_SRC := $(wildcard tests/unit/*.c)

REL := build/release
DBG := build/asan

.PHONY: all run test unit integration bench bench-quick deps deps-test deps-bench clean format fresh-check fresh-clean

all: edsim edsim-conform conformance/clients/refclient

$(REL)/%.o: %.c $(SIM_HDR) | $(REL)
	$(CC) $(CSTD) -O2 -g $(PKG_CFLAGS) -c $< -o $@
$(REL)/embedded_data.o: sim/embedded_data.S $(EMBEDDED) | $(REL)
	$(CC) -I. -c $< -o $@
$(DBG)/%.o: %.c $(SIM_HDR) | $(DBG)
	$(CC) $(CSTD) -O1 -g $(SAN) $(PKG_CFLAGS) -c $< -o $@
$(DBG)/embedded_data.o: sim/embedded_data.S $(EMBEDDED) | $(DBG)
	$(CC) -I. -c $< -o $@
$(REL) $(DBG):
	mkdir -p $@

REL_OBJ := $(patsubst %.c,$(REL)/%.o,$(notdir $(SIM_SRC))) $(REL)/embedded_data.o
DBG_OBJ := $(patsubst %.c,$(DBG)/%.o,$(notdir $(SIM_SRC))) $(DBG)/embedded_data.o
REL_CONF := $(patsubst conformance/%.c,$(REL)/conf_%.o,$(CONF_SRC))
DBG_CONF := $(patsubst conformance/%.c,$(DBG)/conf_%.o,$(CONF_SRC))

$(REL)/conf_%.o: conformance/%.c $(CONF_HDR) $(SIM_HDR) | $(REL)
	$(CC) $(CSTD) -Iconformance -O2 -g $(PKG_CFLAGS) -c $< -o $@
$(DBG)/conf_%.o: conformance/%.c $(CONF_HDR) $(SIM_HDR) | $(DBG)
	$(CC) $(CSTD) -Iconformance -O1 -g $(SAN) $(PKG_CFLAGS) -c $< -o $@

# The conformance runner and the reference client (conformance/).
edsim-conform: $(REL_OBJ) $(REL_CONF) conformance/runner_main.c $(CONF_HDR) $(SIM_HDR)
	$(CC) $(CSTD) -Iconformance -O2 -g $(PKG_CFLAGS) -o $@ conformance/runner_main.c $(REL_CONF) $(REL_OBJ) $(PKG_LIBS)
$(DBG)/edsim-conform: $(DBG_OBJ) $(DBG_CONF) conformance/runner_main.c $(CONF_HDR) $(SIM_HDR)
	$(CC) $(CSTD) -Iconformance -O1 -g $(SAN) $(PKG_CFLAGS) -o $@ conformance/runner_main.c $(DBG_CONF) $(DBG_OBJ) $(PKG_LIBS)
conformance/clients/refclient: $(REL)/refclient
	cp $< $@
REF_SRC := conformance/clients/refclient.c conformance/clients/refclient_ses.c
REF_HDR := conformance/clients/refclient_ses.h
$(REL)/refclient: $(REF_SRC) $(REF_HDR) | $(REL)
	$(CC) $(CSTD) -O2 -g $(PKG_CFLAGS) -o $@ $(REF_SRC) $(PKG_LIBS)
$(DBG)/refclient: $(REF_SRC) $(REF_HDR) | $(DBG)
	$(CC) $(CSTD) -O1 -g $(SAN) $(PKG_CFLAGS) -o $@ $(REF_SRC) $(PKG_LIBS)

edsim: $(REL_OBJ) $(REL)/main.o
	$(CC) -o $@ $^ $(EDSIM_LIBS)

$(DBG)/edsim: $(DBG_OBJ) $(DBG)/main.o
	$(CC) $(SAN) -o $@ $^ $(EDSIM_LIBS)

$(DBG)/unit-tests: $(DBG_OBJ) $(DBG_CONF) $(UNIT_SRC) $(SIM_HDR) $(CONF_HDR)
	$(CC) $(CSTD) -Iconformance -O1 -g $(SAN) $(PKG_CFLAGS) -o $@ $(UNIT_SRC) $(DBG_CONF) $(DBG_OBJ) $(PKG_LIBS) -lcunit

deps:
	@tools/install-deps $(RUN_DEPS) $(EXAMPLE_DEPS)
deps-test:
	@tools/install-deps $(TEST_DEPS)
deps-bench:
	@tools/install-deps $(BENCH_DEPS)

run: deps
	@$(MAKE) --no-print-directory edsim
	./edsim

test: deps-test
	@$(MAKE) --no-print-directory edsim $(DBG)/edsim $(DBG)/unit-tests edsim-conform \
		$(DBG)/edsim-conform conformance/clients/refclient $(DBG)/refclient
	@$(MAKE) --no-print-directory unit integration

unit:
	ASAN_OPTIONS=detect_leaks=1 $(DBG)/unit-tests

integration:
	EDSIM=$(CURDIR)/$(DBG)/edsim tests/run-integration

bench: deps-bench edsim
	bench/run-all

bench-quick: deps-bench edsim
	bench/quick.sh

# A bare Debian 12 root (cached), a clean clone of HEAD, the quick start and
# make test inside it (tools/fresh-check; not part of .ci/run).
fresh-check:
	tools/fresh-check

fresh-clean:
	tools/fresh-check --clean

format:
	clang-format -i $(foreach d,$(SIM_DIRS),$(d)/*.c $(d)/*.h) tests/unit/*.c conformance/*.c conformance/*.h conformance/clients/*.c conformance/clients/*.h

clean:
	rm -rf build edsim edsim-conform conformance/clients/refclient
