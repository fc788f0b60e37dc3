# `make bench` and `make bench-counts` (tests/bench/README.md). Not part of
# `make check`. Included from the top-level Makefile, after its variables.

BENCH_DIR := tests/bench
BENCH_BIN := $(BUILD)/bench

.PHONY: bench bench-counts bench-tools singpass-crypto-speed bench-singpass

bench-tools: $(BENCH_BIN)/trivial_fcgi $(BENCH_BIN)/rsa_speed

# Same compiler and flags as sgid-fcgi itself.
$(BENCH_BIN)/trivial_fcgi: $(BENCH_DIR)/trivial_fcgi.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(HARDEN) $(LDFLAGS) -o $@ $< -lfcgi $(shell pkg-config --libs hiredis 2>/dev/null || echo -lhiredis)

$(BENCH_BIN)/rsa_speed: $(BENCH_DIR)/rsa_speed.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(HARDEN) $(LDFLAGS) -o $@ $< $(shell pkg-config --libs libcrypto 2>/dev/null || echo -lcrypto)

# The CPU cost of the Singpass relying party's crypto, per operation and per
# login, through libsgid.a (SECONDS per operation, default 1).
$(BENCH_BIN)/singpass_crypto_speed: $(BENCH_DIR)/singpass_crypto_speed.c $(BUILD)/libsgid.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(HARDEN) $(LDFLAGS) -o $@ $< $(BUILD)/libsgid.a $(PKG_LIBS)

singpass-crypto-speed: $(BENCH_BIN)/singpass_crypto_speed
	$(BENCH_BIN)/singpass_crypto_speed $(or $(SECONDS),1)

# The CPU an access rule adds to one gateway check (issue 23), through
# libsgid.a's authz.c; run.sh runs it with the auth-rule rows' rule.
$(BENCH_BIN)/authz_speed: $(BENCH_DIR)/authz_speed.c $(BUILD)/libsgid.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(HARDEN) $(LDFLAGS) -o $@ $< $(BUILD)/libsgid.a $(PKG_LIBS)

bench: $(BUILD)/sgid-fcgi bench-tools $(BENCH_BIN)/authz_speed
	BUILD=$(BUILD) $(BENCH_DIR)/run.sh
	$(NETNS) $(BENCH_DIR)/singpass.sh

# The Singpass rows alone (tests/bench/singpass.sh): sgID and Singpass side
# by side, next door, 50 ms and 250 ms away, and a slow Singpass.
bench-singpass: $(BUILD)/sgid-fcgi
	$(NETNS) $(BENCH_DIR)/singpass.sh

bench-counts: $(BUILD)/sgid-fcgi bench-tools
	BUILD=$(BUILD) $(BENCH_DIR)/counts.sh
