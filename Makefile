# sgid-fcgi: `make` builds build/sgid-fcgi; `make check` runs every test;
# `make run` starts the demo stack. See README.md.

CC      ?= cc
PKGS    := libcurl openssl json-c hiredis
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lfcgi -pthread

VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)
WARN    := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wstrict-prototypes \
           -Wmissing-prototypes -Wvla -Wpointer-arith -Wundef -Wnull-dereference
HARDEN  := -fstack-protector-strong -fPIE -D_FORTIFY_SOURCE=2
CFLAGS  ?= -O2 -g
ALL_CFLAGS := -std=c11 -pthread -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L \
              -DSGID_VERSION='"$(VERSION)"' -Iinclude $(WARN) $(PKG_CFLAGS) $(CFLAGS)
LDFLAGS ?= -pie -Wl,-z,relro,-z,now

BUILD   ?= build
SRCS    := $(sort $(wildcard src/*.c))
LIB_SRCS := $(filter-out src/main.c,$(SRCS))
LIB_OBJS := $(LIB_SRCS:src/%.c=$(BUILD)/obj/%.o)
TEST_SRCS := $(sort $(wildcard tests/unit/test_*.c))
TEST_BINS := $(TEST_SRCS:tests/unit/%.c=$(BUILD)/tests/%)

# Every node and npm that make runs (tests, `make run`) is the pinned one
# deploy/deps.sh installs (tests/node-runtime, README "Requirements"); scripts
# run outside make source tests/node-runtime/env.sh for the same.
export PATH := $(CURDIR)/tests/node-runtime/node_modules/.bin:$(PATH)

PREFIX  ?= /usr/local
DESTDIR ?=

.PHONY: all clean unit unit-asan check check-stock-debian deps integration gateway hostile browser singpass sanitized-stack faults soak valgrind run install \
	deb package-check test-bins tsan check-build check-build-asan check-build-tsan check-quick integration-nginx
all: $(BUILD)/sgid-fcgi

$(BUILD)/obj/%.o: src/%.c $(wildcard include/*.h) Makefile
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(HARDEN) -c -o $@ $<

$(BUILD)/libsgid.a: $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/sgid-fcgi: $(BUILD)/obj/main.o $(BUILD)/libsgid.a
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/tests/%: tests/unit/%.c $(wildcard tests/unit/*.h) $(BUILD)/libsgid.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests/unit -o $@ $< $(BUILD)/libsgid.a $(PKG_LIBS)

test-bins: $(TEST_BINS)

# Unit tests, then the same tests built with ASan + UBSan; tests/cli/run.sh
# (the key commands and --check-config) runs beside them, on this tree's binary.
unit: $(TEST_BINS) $(BUILD)/sgid-fcgi
	SGID_FCGI=$(BUILD)/sgid-fcgi tests/run-unit.sh $(TEST_BINS) tests/cli/run.sh

SAN_FLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
# make in the ASan+UBSan tree (build/asan) and in the ThreadSanitizer one
# (build/tsan, clang)
ASAN_MAKE = $(MAKE) BUILD=build/asan CFLAGS="$(SAN_FLAGS)" LDFLAGS="-fsanitize=address,undefined"
TSAN_CC    ?= clang
TSAN_FLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=thread
TSAN_MAKE = $(MAKE) BUILD=build/tsan CC=$(TSAN_CC) CFLAGS="$(TSAN_FLAGS)" LDFLAGS="-fsanitize=thread"
unit-asan:
	$(ASAN_MAKE) unit

deps:
	deploy/deps.sh

# Stack tests run in a private network namespace when allowed (as root):
# their fixed ports then never meet a `make run` or another suite.
NETNS := tests/in-netns.sh

integration: all
	$(NETNS) tests/integration/run.sh

# The nginx pass of it alone: a whole login through nginx.conf.example.
integration-nginx: all
	$(NETNS) env INTEGRATION_NGINX_ONLY=1 tests/integration/run.sh

# Against the supervised pool with --metrics-listen: the scrape taken after
# every case must pass promtool (sanitized-stack and tsan run the same cases
# against spawn-fcgi workers).
hostile: all
	$(NETNS) env HOSTILE_METRICS_OUT=$(CURDIR)/$(BUILD)/hostile-metrics.prom tests/hostile/run.sh
	promtool check metrics <$(BUILD)/hostile-metrics.prom

# Gateway mode (issue 12): deploy/gateway/'s nginx and lighttpd examples in
# front of an app, the login by navigation, forged identity headers, open
# redirects (tests/gateway/README.md).
gateway: all
	$(NETNS) tests/gateway/run.sh

browser: all
	$(NETNS) tests/browser/stack-run.sh

# Login with Singpass (issue 22): the stand-in (tests/singpass-op) proved on
# its own, then LOGIN_PROVIDER=singpass through nginx and lighttpd, the
# MockPass deviations, a DPoP nonce, Myinfo, the hostile Singpass, gateway
# mode and headless Chromium (tests/singpass/run.sh).
singpass: all
	$(NETNS) tests/singpass/run.sh

# Fault injection, scale-out, Sentinel failover and a short soak (issue 5);
# `make soak` runs the long soak alone (SOAK_SECONDS, default 180).
# FAULTS="NAME ..." runs only those tests (tests/faults/run.sh lists them).
faults: all
	$(NETNS) tests/faults/run.sh $(FAULTS)

soak: all
	$(NETNS) tests/faults/soak.sh

# Every unit test and the workers of the curl flow under valgrind memcheck.
valgrind: all $(TEST_BINS)
	tests/valgrind-stack.sh

# The whole app built with ASan+UBSan, under the hostile suite's traffic.
sanitized-stack:
	$(ASAN_MAKE) all
	tests/sanitized-stack.sh

# The unit tests and the app built with ThreadSanitizer (clang), then the
# hostile suite and 200 concurrent mixed requests against the threaded
# workers; any TSan report fails (tests/tsan-stack.sh).
tsan:
	$(TSAN_MAKE) all test-bins
	tests/tsan-stack.sh

# Every tree the suites use (plain, ASan+UBSan, TSan, the fuzz replay),
# built side by side by `make -j2 check-build` before the suites start.
check-build: all test-bins fuzz-replay-build check-build-asan check-build-tsan
check-build-asan:
	$(ASAN_MAKE) all test-bins
check-build-tsan:
	$(TSAN_MAKE) all test-bins

# `make check`: every suite, CHECK_SLOTS (5) at a time, started (and their
# output printed whole) in this order, the longest first (tests/run-check.sh:
# SUITE:N takes N slots, SUITE:alone all of them; the fault tests that time
# the app's answers, faults:timed, run last with nothing beside them).
CHECK_SLOTS  ?= 5
CHECK_SUITES := valgrind faults:timed tsan sanitized-stack hostile unit-asan gateway unit integration fuzz-replay \
	browser singpass
check: deps
	CHECK_BUILD=check-build CHECK_SLOTS=$(CHECK_SLOTS) FAULTS_QUICK=1 MAKE="$(MAKE)" \
		tests/run-check.sh $(CHECK_SUITES)

# `make check-quick`, the edit-compile-test loop: the unit tests (the
# handlers in-process among them: test_api) beside a whole login through
# nginx (integration-nginx). `make check` still runs everything.
check-quick: deps
	CHECK_BUILD="all test-bins" MAKE="$(MAKE)" tests/run-check.sh unit integration-nginx

# A fresh minimal Debian 12 root (debootstrap, cached outside the clone):
# `make deps` and the suites that use Node run inside it, as on a newcomer's
# machine (tests/stock-debian/run.sh). Not part of `make check`; CI runs it.
check-stock-debian:
	tests/stock-debian/run.sh

# PROVIDER=singpass: the Singpass stand-in instead of MockPass (README "Run").
PROVIDER ?= sgid
run: deps all
	PROVIDER=$(PROVIDER) deploy/run.sh

install: all
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(BUILD)/sgid-fcgi $(DESTDIR)$(PREFIX)/bin/sgid-fcgi
	install -d $(DESTDIR)$(PREFIX)/share/sgid-fcgi/demo-spa
	install -m 0644 deploy/demo-spa/* $(DESTDIR)$(PREFIX)/share/sgid-fcgi/demo-spa/
	install -m 0644 deploy/lighttpd-ratelimit.lua $(DESTDIR)$(PREFIX)/share/sgid-fcgi/
	install -m 0644 deploy/gateway/lighttpd-cookie.lua $(DESTDIR)$(PREFIX)/share/sgid-fcgi/
	install -m 0644 deploy/gateway/lighttpd-identity.lua $(DESTDIR)$(PREFIX)/share/sgid-fcgi/
	install -d $(DESTDIR)$(PREFIX)/share/sgid-fcgi/gateway
	install -m 0644 deploy/gateway/status-403.html $(DESTDIR)$(PREFIX)/share/sgid-fcgi/gateway/
	install -d $(DESTDIR)$(PREFIX)/share/doc/sgid-fcgi
	install -m 0644 README.md deploy/OPERATIONS.md deploy/sgid-fcgi.env.example \
		nginx.conf.example lighttpd.conf.example deploy/nginx-two-providers.conf.example \
		deploy/systemd/* $(DESTDIR)$(PREFIX)/share/doc/sgid-fcgi/
	install -d $(DESTDIR)$(PREFIX)/share/man/man8
	install -m 0644 deploy/sgid-fcgi.8 $(DESTDIR)$(PREFIX)/share/man/man8/
	install -d $(DESTDIR)$(PREFIX)/share/doc/sgid-fcgi/gateway
	install -m 0644 deploy/gateway/nginx.conf.example deploy/gateway/lighttpd.conf.example \
		$(DESTDIR)$(PREFIX)/share/doc/sgid-fcgi/gateway/

# The Debian package (issue 25): `dpkg-buildpackage -us -uc -b` in a copy of
# the tree, the .deb, -dbgsym, .buildinfo and .changes in build/deb/. Its
# version is VERSION's; debian/changelog must agree (checked).
DEB_ARCH := $(shell dpkg --print-architecture 2>/dev/null)
DEB     := build/deb/sgid-fcgi_$(VERSION)_$(DEB_ARCH).deb
DEB_INPUTS := $(shell git ls-files --cached --others --exclude-standard 2>/dev/null)
deb: $(DEB)
$(DEB): $(filter-out build/%,$(wildcard $(DEB_INPUTS)))
	deploy/deps.sh --packaging
	tests/package/build-deb.sh build/deb

# The package on a clean Debian 12 root (mmdebstrap, cached under
# /var/cache/sgid-fcgi/): lintian, the units, install, login through nginx,
# reload, upgrade, remove, purge (tests/package/README.md).
package-check: deps $(DEB)
	deploy/deps.sh --packaging
	tests/package/run.sh $(DEB)

clean:
	rm -rf build
include tests/bench/bench.mk
include tests/fuzz/fuzz.mk
