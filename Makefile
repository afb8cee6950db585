# wisp: a thin wrapper over CMake. Every target installs missing dependencies first
# (scripts/install-deps.sh, idempotent), so a fresh Debian machine needs nothing else.
#
#   make demo    build and run the examples on loopback, printing what happened
#   make test    normal build + ASan/UBSan build against Debian's mbedTLS 2.28, and a
#                build against mbedTLS 3.6 LTS from Debian's source package (fetched
#                once into $(MBEDTLS3)/mbedtls-src, built in $(MBEDTLS3)); every ctest
#                in all three; and a build against mbedTLS 2.28 from Debian's source
#                package ($(MBEDTLS2), WISP_MBEDTLS_SOURCE_DIR), which runs the TLS,
#                install and client-only tests; and, when clang is present, every
#                libFuzzer target for FUZZ_SHORT_SECONDS with ASan+UBSan (fuzz-short)
#   make bench   benchmarks (bench/), results in bench/RESULTS.md, the scaling plot
#                bench/scaling.png (bench/scaling.sh, gnuplot)
#   make firmware  Cortex-M4 build (cached cross mbedTLS, libwisp, the QEMU test image)
#   make fuzz    opt-in: libFuzzer (clang + ASan/UBSan) on every target, FUZZ_SECONDS each
#   make soak    opt-in: tests/soak's wisp-soak, SOAK_TRANSACTIONS (100,000) transactions
#                with injected faults paced over about SOAK_SECONDS (600), then the plot
#                bench/soak.png from its samples (gnuplot); `make test` runs the short
#                version (ctest soak_short, 2,000 transactions)
#   make allocfail-embedded  opt-in: the fake-network and policy allocation-failure
#                sweeps against the embedded mbedTLS profile built for the host, so
#                mbedTLS's allocations are refused too (about 1 minute from scratch)

BUILD ?= build
ASAN  ?= build-asan
FUZZ  ?= build-fuzz
MBEDTLS3 ?= build-mbedtls3
MBEDTLS2 ?= build-mbedtls2
FW    ?= build-firmware
EMBEDDED ?= build-embedded
FUZZ_SECONDS ?= 60
FUZZ_SHORT_SECONDS ?= 10
JOBS  ?= $(shell nproc 2>/dev/null || echo 2)
# What the mbedTLS 2.28 source tree runs (see the mbedtls2 rule), and of those the
# test programs it builds (each named as its test); the rest of that tree is not built.
MBEDTLS2_TESTS = ^(install_consumer|integration_|interop_tls_|tls_client_only)
MBEDTLS2_PROGRAMS = ^(integration_|interop_tls_)
# Skipped in $(MBEDTLS3), where they would repeat $(BUILD)'s answer: the lints that
# read only the sources; build_option_matrix (it configures its trees against
# Debian's 2.28 whatever the parent uses); policy_json_off (a symbol check of
# libwisp.a that does not depend on mbedTLS; a JSON-off build on 3.6 is what the
# firmware 3.6 tree is).
MBEDTLS3_SKIP = ^(lint_(format|cppcheck|no_nano_printf|verify_always_planted)|build_option_matrix|policy_json_off)$$
SOAK_TRANSACTIONS ?= 100000
SOAK_SECONDS ?= 600
SOAK_SEED ?= 1
CMAKE_FLAGS ?=

.PHONY: all deps build asan mbedtls3 mbedtls2 firmware test demo bench fuzz fuzz-build fuzz-short \
	allocfail-embedded soak clean format format-check

all: build

deps:
	@scripts/install-deps.sh

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWISP_WERROR=ON $(CMAKE_FLAGS)
	cmake --build $(BUILD) -j$(JOBS)

asan: deps
	cmake -S . -B $(ASAN) -DCMAKE_BUILD_TYPE=Debug -DWISP_SANITIZE=ON -DWISP_WERROR=ON \
		$(CMAKE_FLAGS)
	cmake --build $(ASAN) -j$(JOBS)

# mbedTLS for the firmware is cross-built once and cached in $(FW)/mbedtls-2.28.
firmware: deps
	JOBS=$(JOBS) scripts/firmware-build.sh $(FW)

# wisp against mbedTLS 3.6 (TLS 1.2 and 1.3), its default configuration plus
# MBEDTLS_USE_PSA_CRYPTO (cmake/mbedtls-user-config-psa.h). The source is fetched once;
# mbedTLS's libraries are rebuilt only when they change.
mbedtls3: deps
	src=$$(scripts/get-mbedtls-source.sh 3.6 $(MBEDTLS3)/mbedtls-src) && \
	cmake -S . -B $(MBEDTLS3) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWISP_WERROR=ON \
		-DWISP_MBEDTLS_SOURCE_DIR=$$src \
		-DMBEDTLS_USER_CONFIG_FILE=$(CURDIR)/cmake/mbedtls-user-config-psa.h $(CMAKE_FLAGS)
	cmake --build $(MBEDTLS3) -j$(JOBS)

# The other source build: 2.28 as a source tree, where the whole suite already runs
# against Debian's packaged 2.28, so only what the source build changes is run again:
# TLS, the installed package (mbedTLS inside wisp's export and wisp.pc) and client-only.
mbedtls2: deps
	src=$$(scripts/get-mbedtls-source.sh 2.28 $(MBEDTLS2)/mbedtls-src) && \
	cmake -S . -B $(MBEDTLS2) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWISP_WERROR=ON \
		-DWISP_MBEDTLS_SOURCE_DIR=$$src $(CMAKE_FLAGS)
	cmake --build $(MBEDTLS2) -j$(JOBS) --target wisp_static wisp_shared wisp-policy wisp-stream \
		$$(ctest --test-dir $(MBEDTLS2) -N -R '$(MBEDTLS2_PROGRAMS)' | sed -n 's/^ *Test *#[0-9]*: //p')

test: build asan mbedtls3 mbedtls2 firmware
	ctest --test-dir $(BUILD) --output-on-failure -j$(JOBS)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
		ctest --test-dir $(ASAN) --output-on-failure -j$(JOBS) -LE nosan
	ctest --test-dir $(MBEDTLS3) --output-on-failure -j$(JOBS) -E '$(MBEDTLS3_SKIP)'
	ctest --test-dir $(MBEDTLS2) --output-on-failure -j$(JOBS) \
		-R '$(MBEDTLS2_TESTS)'
	ctest --test-dir $(FW)/client --output-on-failure -j$(JOBS)
	if [ "$${WISP_FW_MBEDTLS36:-1}" = 1 ]; then \
		ctest --test-dir $(FW)/client-3.6 --output-on-failure -j$(JOBS); fi
	$(MAKE) fuzz-short

demo: build
	@scripts/demo.sh $(BUILD)

bench: build firmware
	bench/awake.sh bench/run.sh $(BUILD)
	bench/awake.sh bench/scaling.sh $(BUILD) --update bench/RESULTS.md
	bench/server.sh $(BUILD) --update bench/RESULTS.md
	bench/firmware-sizes.sh $(FW) --update bench/RESULTS.md
	bench/syscalls.sh $(BUILD) --update bench/RESULTS.md
	bench/handshake.sh $(BUILD) --update bench/RESULTS.md

# The long soak run: its summary in $(BUILD)/soak-summary.txt, its samples in
# $(BUILD)/soak.dat, the plot in bench/soak.png (drawn even when the run found a
# violation: the exit status is the run's).
soak: build
	@uptime
	SOAK_TRANSACTIONS=$(SOAK_TRANSACTIONS) SOAK_SECONDS=$(SOAK_SECONDS) SOAK_SEED=$(SOAK_SEED) \
		SOAK_DATA=$(BUILD)/soak.dat $(BUILD)/tests/soak/wisp-soak > $(BUILD)/soak-summary.txt; \
	rc=$$?; cat $(BUILD)/soak-summary.txt; uptime; \
	gnuplot -e "datafile='$(BUILD)/soak.dat'; outfile='bench/soak.png'; \
		title='wisp soak: $(SOAK_TRANSACTIONS) transactions, seed $(SOAK_SEED)'" \
		tests/soak/plot.gp || rc=1; exit $$rc

# Every target with a corpus in tests/fuzz/corpus/ (the fuzz_targets CMake target).
fuzz-build: deps
	CC=clang cmake -S . -B $(FUZZ) -DCMAKE_BUILD_TYPE=Debug -DWISP_FUZZ=ON \
		-DWISP_SANITIZE=ON -DWISP_WERROR=ON -DCMAKE_C_FLAGS=-fsanitize=fuzzer-no-link \
		$(CMAKE_FLAGS)
	cmake --build $(FUZZ) -j$(JOBS) --target fuzz_targets

fuzz: fuzz-build
	tests/fuzz/run-fuzz.sh $(FUZZ) $(FUZZ_SECONDS) $(JOBS)

# The short run of make test. Without clang the corpora are still replayed by ctest in
# every tree; nothing is fuzzed, and this says so rather than pass quietly.
fuzz-short:
	@if command -v clang >/dev/null 2>&1; then \
		$(MAKE) fuzz-build && tests/fuzz/run-fuzz.sh $(FUZZ) $(FUZZ_SHORT_SECONDS) $(JOBS); \
	else \
		echo "fuzz-short: clang not found: no libFuzzer run (corpus replay only, see tests/fuzz/README.md)"; \
	fi

allocfail-embedded: deps
	JOBS=$(JOBS) scripts/embedded-host-build.sh $(EMBEDDED)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
		ctest --test-dir $(EMBEDDED)/wisp --output-on-failure --timeout 900 \
		-R '^(unit_test_stream_allocfail_fake|unit_test_policy_alloc|integration_test_heap_budget)$$'

format:
	find include lib tools minimal-examples tests bench -name '*.[ch]' -not -path '*/corpus/*' \
		-print0 | xargs -0 clang-format -i

format-check:
	tests/lint/format-check.sh .

clean:
	rm -rf $(BUILD) $(ASAN) $(FUZZ) $(MBEDTLS3) $(MBEDTLS2) $(FW) $(EMBEDDED)
