# wisp: a thin wrapper over CMake. Every target installs missing dependencies first
# (scripts/install-deps.sh, idempotent), so a fresh Debian machine needs nothing else.
#
#   make demo    build and run the examples on loopback, printing what happened
#   make test    normal build + ASan/UBSan build, every ctest in both
#   make bench   benchmarks (bench/), results in bench/RESULTS.md
#   make firmware  Cortex-M4 build (cached cross mbedTLS, libwisp, the QEMU test image)
#   make fuzz    opt-in: libFuzzer (clang + ASan/UBSan) on every target, FUZZ_SECONDS each

BUILD ?= build
ASAN  ?= build-asan
FUZZ  ?= build-fuzz
FW    ?= build-firmware
FUZZ_SECONDS ?= 60
JOBS  ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=

.PHONY: all deps build asan firmware test demo bench fuzz clean format

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

test: build asan firmware
	ctest --test-dir $(BUILD) --output-on-failure -j$(JOBS)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
		ctest --test-dir $(ASAN) --output-on-failure -j$(JOBS) -LE nosan
	ctest --test-dir $(FW)/client --output-on-failure -j$(JOBS)

demo: build
	@scripts/demo.sh $(BUILD)

bench: build firmware
	@if [ -x bench/run.sh ]; then bench/run.sh $(BUILD); else echo "no benchmarks yet"; fi
	bench/firmware-sizes.sh $(FW) --update bench/RESULTS.md

fuzz: deps
	CC=clang cmake -S . -B $(FUZZ) -DCMAKE_BUILD_TYPE=Debug -DWISP_FUZZ=ON \
		-DWISP_SANITIZE=ON -DWISP_WERROR=ON -DCMAKE_C_FLAGS=-fsanitize=fuzzer-no-link \
		$(CMAKE_FLAGS)
	cmake --build $(FUZZ) -j$(JOBS) --target fuzz_policy fuzz_h1_response fuzz_h1_request
	for t in policy h1_response h1_request; do \
		mkdir -p $(FUZZ)/corpus/$$t && \
		$(FUZZ)/tests/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) \
			$(FUZZ)/corpus/$$t tests/fuzz/corpus/$$t || exit 1; \
	done

format:
	find include lib tools minimal-examples tests bench -name '*.[ch]' -print0 | \
		xargs -0 clang-format -i

clean:
	rm -rf $(BUILD) $(ASAN) $(FUZZ) $(FW)
