# The two commands a fresh machine needs: `make run` and `make test`.
BUILD_DIR ?= build
ASAN_BUILD_DIR ?= build-asan
FUZZ_BUILD_DIR ?= build-fuzz
JOBS ?= $(shell nproc)
PYTEST = /usr/bin/python3 -m pytest

.PHONY: all deps build run test unit integration bench test-asan fuzz fuzz-smoke fuzz-long clean

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

test: unit integration

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

clean:
	rm -rf $(BUILD_DIR) $(ASAN_BUILD_DIR) $(FUZZ_BUILD_DIR)
