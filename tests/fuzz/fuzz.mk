# Fuzzing, included from the top-level Makefile (after its variables):
#
#   include tests/fuzz/fuzz.mk
#
# make fuzz-replay   every target built with $(CC) (gcc or clang) + ASan/UBSan,
#                    no libFuzzer, replays the committed corpus tests/fuzz/corpus/;
#                    quick, meant for `make check`.
# make fuzz          builds the libFuzzer binaries with clang and fuzzes each
#                    target for FUZZ_SECONDS (default 60), one after the other.
#                    New inputs go to build/fuzz/corpus/<target>/ (the committed
#                    corpus is only read); crashes, leaks and timeouts to
#                    build/fuzz/findings/. Logs: build/fuzz/<target>.log.
# make fuzz-build    only builds the libFuzzer binaries.
#
# FUZZ_TARGETS=json make fuzz    fuzz one target; FUZZ_ARGS passes extra
# libFuzzer flags (e.g. FUZZ_ARGS=-dict=...). FUZZ_CC picks the clang.

FUZZ_TARGETS  ?= query cookie json parse_data jws jwe dotenv b64 resp returnurl jwk_ec jwe_ecdh dpop authz \
                 singpass
FUZZ_CC       ?= clang
FUZZ_SECONDS  ?= 60
FUZZ_RSS_MB   ?= 2048
FUZZ_ARGS     ?=

FUZZ_OUT        := build/fuzz
FUZZ_REPLAY_OUT := build/fuzz-replay
# Only the modules the targets reach (the parsers and what they call), so
# the fuzz builds do not depend on the server, Redis or HTTP-client code.
FUZZ_MODULES    ?= authz b64 buf cfg crypto crypto_ec dotenv dpop gateway http idtoken jose jose_build \
                   jose_ecdh json log resp returnurl singpass_parse sublist urlparse util
FUZZ_LIB_SRCS   := $(FUZZ_MODULES:%=src/%.c)
FUZZ_HDRS       := $(wildcard include/*.h) tests/fuzz/fuzz.h tests/fuzz/fuzz_keys.h tests/fuzz/strict_json.h
FUZZ_BASE_CFLAGS := -std=c11 -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L \
                    -DSGID_VERSION='"$(VERSION)"' -Iinclude -Itests/fuzz $(WARN) \
                    $(PKG_CFLAGS) -O1 -g -fno-omit-frame-pointer
FUZZ_SAN        := -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_LF_SAN     := -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
FUZZ_LF_OBJSAN  := -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all

FUZZ_REPLAY_OBJS := $(FUZZ_LIB_SRCS:src/%.c=$(FUZZ_REPLAY_OUT)/obj/%.o)
FUZZ_REPLAY_BINS := $(FUZZ_TARGETS:%=$(FUZZ_REPLAY_OUT)/fuzz_%-replay)
FUZZ_LF_OBJS     := $(FUZZ_LIB_SRCS:src/%.c=$(FUZZ_OUT)/obj/%.o)
FUZZ_LF_BINS     := $(FUZZ_TARGETS:%=$(FUZZ_OUT)/fuzz_%)

.PHONY: fuzz fuzz-build fuzz-replay fuzz-replay-build

# ---- replay: $(CC) with ASan + UBSan, no libFuzzer ----

$(FUZZ_REPLAY_OUT)/obj/%.o: src/%.c $(FUZZ_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(FUZZ_BASE_CFLAGS) $(FUZZ_SAN) -c -o $@ $<

$(FUZZ_REPLAY_OUT)/libsgid.a: $(FUZZ_REPLAY_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(FUZZ_REPLAY_OUT)/replay_main.o: tests/fuzz/replay_main.c tests/fuzz/fuzz.h
	@mkdir -p $(dir $@)
	$(CC) $(FUZZ_BASE_CFLAGS) $(FUZZ_SAN) -c -o $@ $<

$(FUZZ_REPLAY_OUT)/fuzz_%-replay: tests/fuzz/fuzz_%.c $(FUZZ_REPLAY_OUT)/replay_main.o \
		$(FUZZ_REPLAY_OUT)/libsgid.a $(FUZZ_HDRS)
	$(CC) $(FUZZ_BASE_CFLAGS) $(FUZZ_SAN) -o $@ $< $(FUZZ_REPLAY_OUT)/replay_main.o \
		$(FUZZ_REPLAY_OUT)/libsgid.a $(PKG_LIBS)

fuzz-replay-build: $(FUZZ_REPLAY_BINS)

fuzz-replay: fuzz-replay-build
	tests/fuzz/replay.sh $(FUZZ_REPLAY_OUT) $(FUZZ_TARGETS)

# ---- libFuzzer: clang, coverage-instrumented library ----

$(FUZZ_OUT)/obj/%.o: src/%.c $(FUZZ_HDRS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_BASE_CFLAGS) $(FUZZ_LF_OBJSAN) -c -o $@ $<

$(FUZZ_OUT)/libsgid.a: $(FUZZ_LF_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(FUZZ_OUT)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_OUT)/libsgid.a $(FUZZ_HDRS)
	$(FUZZ_CC) $(FUZZ_BASE_CFLAGS) $(FUZZ_LF_SAN) -o $@ $< $(FUZZ_OUT)/libsgid.a $(PKG_LIBS)

fuzz-build: $(FUZZ_LF_BINS)

fuzz: fuzz-build
	FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_RSS_MB=$(FUZZ_RSS_MB) FUZZ_ARGS="$(FUZZ_ARGS)" \
		tests/fuzz/run-fuzz.sh $(FUZZ_OUT) $(FUZZ_TARGETS)
