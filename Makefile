# edsim - Email Delivery simulator.
#   make          build ./edsim (optimised)
#   make run      install what is missing, build, start edsim in the foreground
#   make test     install what is missing, build with sanitizers, run every test
#   make bench    run the benchmarks in bench/ (results in bench/RESULTS.md)

CC       ?= cc
PKGS     := libevent libevent_openssl openssl yaml-0.1 jansson sqlite3 libcurl libcares
CSTD     := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Isim -I.
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread -lm
SAN      := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

RUN_DEPS  := gcc make pkg-config libevent-dev libssl-dev libyaml-dev libjansson-dev libsqlite3-dev \
             libcurl4-openssl-dev libc-ares-dev
TEST_DEPS := $(RUN_DEPS) libcunit1-dev expect tcl-expect swaks postfix curl openssl sqlite3 procps python3 \
             python3-dkim dnsmasq-base libxml2-utils chromium \
             python3-jsonschema msmtp

SIM_SRC  := $(filter-out sim/main.c,$(wildcard sim/*.c))
CONF_SRC := $(filter-out conformance/runner_main.c,$(wildcard conformance/*.c))
CONF_HDR := $(wildcard conformance/*.h)
SIM_HDR  := $(wildcard sim/*.h)
EMBEDDED := sim/default.yaml scenarios/catalog/oci.yaml
UNIT_SRC := $(wildcard tests/unit/*.c)

REL := build/release
DBG := build/asan

.PHONY: all run test unit integration bench deps deps-test clean format

all: edsim edsim-conform conformance/clients/refclient

$(REL)/%.o: sim/%.c $(SIM_HDR) | $(REL)
	$(CC) $(CSTD) -O2 -g $(PKG_CFLAGS) -c $< -o $@
$(REL)/embedded_data.o: sim/embedded_data.S $(EMBEDDED) | $(REL)
	$(CC) -I. -c $< -o $@
$(DBG)/%.o: sim/%.c $(SIM_HDR) | $(DBG)
	$(CC) $(CSTD) -O1 -g $(SAN) $(PKG_CFLAGS) -c $< -o $@
$(DBG)/embedded_data.o: sim/embedded_data.S $(EMBEDDED) | $(DBG)
	$(CC) -I. -c $< -o $@
$(REL) $(DBG):
	mkdir -p $@

REL_OBJ := $(patsubst sim/%.c,$(REL)/%.o,$(SIM_SRC)) $(REL)/embedded_data.o
DBG_OBJ := $(patsubst sim/%.c,$(DBG)/%.o,$(SIM_SRC)) $(DBG)/embedded_data.o
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
$(REL)/refclient: conformance/clients/refclient.c | $(REL)
	$(CC) $(CSTD) -O2 -g $(PKG_CFLAGS) -o $@ $< $(PKG_LIBS)
$(DBG)/refclient: conformance/clients/refclient.c | $(DBG)
	$(CC) $(CSTD) -O1 -g $(SAN) $(PKG_CFLAGS) -o $@ $< $(PKG_LIBS)

edsim: $(REL_OBJ) $(REL)/main.o
	$(CC) -o $@ $^ $(PKG_LIBS)

$(DBG)/edsim: $(DBG_OBJ) $(DBG)/main.o
	$(CC) $(SAN) -o $@ $^ $(PKG_LIBS)

$(DBG)/unit-tests: $(DBG_OBJ) $(DBG_CONF) $(UNIT_SRC) $(SIM_HDR) $(CONF_HDR)
	$(CC) $(CSTD) -Iconformance -O1 -g $(SAN) $(PKG_CFLAGS) -o $@ $(UNIT_SRC) $(DBG_CONF) $(DBG_OBJ) $(PKG_LIBS) -lcunit

deps:
	@tools/install-deps $(RUN_DEPS)
deps-test:
	@tools/install-deps $(TEST_DEPS)

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

bench: deps-test edsim
	@tools/install-deps wrk
	bench/run-all

format:
	clang-format -i sim/*.c sim/*.h tests/unit/*.c conformance/*.c conformance/*.h conformance/clients/*.c

clean:
	rm -rf build edsim edsim-conform conformance/clients/refclient
