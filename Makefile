# The two commands a fresh machine needs: `make run` and `make test`.
BUILD_DIR ?= build
ASAN_BUILD_DIR ?= build-asan
FUZZ_BUILD_DIR ?= build-fuzz
JOBS ?= $(shell nproc)
PYTEST = /usr/bin/python3 -m pytest

.PHONY: all deps build run test unit integration bench test-asan fuzz fuzz-seeds fuzz-smoke fuzz-long clean

all: build

deps:
	@scripts/install-deps

$(BUILD_DIR)/build.ninja:
	cmake -S . -B $(BUILD_DIR) -G Ninja

build: deps $(BUILD_DIR)/build.ninja
	cmake --build $(BUILD_DIR) -j $(JOBS)

# The main job: make an image and show it.
run: build
	@scripts/demo $(abspath $(BUILD_DIR))/instar

unit: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS)

integration: build
	INSTAR=$(abspath $(BUILD_DIR))/instar INSTAR_BUILD_DIR=$(abspath $(BUILD_DIR)) \
	  $(PYTEST) -q -rs tests/integration

# Fuzz smoke before the integration tests, so pytest's summary closes the run.
test: unit fuzz-smoke integration

bench: build
	@bench/run $(abspath $(BUILD_DIR))/instar

test-asan: deps
	cmake -S . -B $(ASAN_BUILD_DIR) -G Ninja -DINSTAR_SANITIZE=ON
	cmake --build $(ASAN_BUILD_DIR) -j $(JOBS)
	cd $(ASAN_BUILD_DIR) && ctest --output-on-failure -j $(JOBS)
	# LeakSanitizer stops the world with ptrace at exit, which the seccomp
	# sandbox refuses; leaks are checked by the unit tests (no sandbox).
	ASAN_OPTIONS=detect_leaks=0 INSTAR=$(abspath $(ASAN_BUILD_DIR))/instar \
	  INSTAR_BUILD_DIR=$(abspath $(ASAN_BUILD_DIR)) $(PYTEST) -q -rs tests/integration

# Fuzzing (clang + libFuzzer, ASan + UBSan): docs/fuzzing.md.
FUZZ_JOBS ?= 2
FUZZ_SMOKE_SECONDS ?= 10

fuzz: deps
	cmake -S . -B $(FUZZ_BUILD_DIR) -G Ninja -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
	  -DINSTAR_FUZZ=ON -DBUILD_TESTING=OFF
	cmake --build $(FUZZ_BUILD_DIR) --target instar_fuzz_targets -j $(FUZZ_JOBS)

# Seed corpora, made again when the script or the seed generator changed.
FUZZ_SEED_STAMP = $(FUZZ_BUILD_DIR)/fuzz-seeds/.stamp
fuzz-seeds: fuzz
	@if [ ! -e $(FUZZ_SEED_STAMP) ] || [ scripts/fuzz-seeds -nt $(FUZZ_SEED_STAMP) ] || \
	    [ $(FUZZ_BUILD_DIR)/tests/fuzz/fuzz_make_seeds -nt $(FUZZ_SEED_STAMP) ]; then \
	  scripts/fuzz-seeds $(FUZZ_BUILD_DIR) && touch $(FUZZ_SEED_STAMP); fi

# Every target for FUZZ_SMOKE_SECONDS on its seeds; fails on any finding.
fuzz-smoke: fuzz-seeds
	@fail=0; for t in $$(cat $(FUZZ_BUILD_DIR)/fuzz-targets.txt); do \
	  tests/fuzz/run $(FUZZ_BUILD_DIR) $$t $(FUZZ_SMOKE_SECONDS) || fail=1; \
	done; exit $$fail

# One target for longer: make fuzz-long TARGET=fuzz_probe_vmdk SECONDS=3600
fuzz-long: fuzz-seeds
	@test -n "$(TARGET)" || { echo "usage: make fuzz-long TARGET=<target> [SECONDS=600]; targets:"; cat $(FUZZ_BUILD_DIR)/fuzz-targets.txt; exit 2; }
	tests/fuzz/run $(FUZZ_BUILD_DIR) $(TARGET) $(or $(SECONDS),600)

clean:
	rm -rf $(BUILD_DIR) $(ASAN_BUILD_DIR) $(FUZZ_BUILD_DIR)
