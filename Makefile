# promptops developer entry points. `make run` and `make test` work on a fresh Debian 12 machine:
# both run scripts/setup (idempotent apt install) first.
BUILD ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc)
DATA ?= ./promptops-data
LISTEN ?= 127.0.0.1:8080
CMAKE_FLAGS ?=

.PHONY: all setup configure build run test test-sanitize bench format lint clean

all: build

setup:
	@scripts/setup

$(BUILD)/build.ninja:
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_FLAGS)

configure: setup $(BUILD)/build.ninja

build: configure
	cmake --build $(BUILD) -j $(JOBS)

# Starts the server on an embedded SQLite file with demo data and prints the URL and admin key.
run: build
	@scripts/run-demo $(BUILD)/promptops $(DATA) $(LISTEN)

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) --timeout 300

# The whole suite under AddressSanitizer + UndefinedBehaviorSanitizer, in its own build dir.
test-sanitize: setup
	$(MAKE) test BUILD=build-asan BUILD_TYPE=Debug CMAKE_FLAGS="-DPROMPTOPS_SANITIZE=ON -DPROMPTOPS_BENCH=OFF"

bench: build
	bench/run.sh $(BUILD)

format:
	git ls-files '*.cc' '*.h' | xargs clang-format -i

lint:
	git ls-files '*.cc' '*.h' | xargs clang-format --dry-run -Werror

clean:
	rm -rf $(BUILD) build-asan
