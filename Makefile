# Convenience front end over CMake. `make run` and `make test` set up
# everything on a fresh Debian 12 (missing packages included).
BUILD      ?= build
JOBS       ?= $(shell nproc)
CMAKE_ARGS ?=
ifneq ($(CI),)
CMAKE_ARGS += -DES_WERROR=ON
endif

.PHONY: all deps test-deps build run test test-plain test-asan test-tsan bench fixtures clean

all: build

deps:
	@scripts/install-deps.sh build

test-deps:
	@scripts/install-deps.sh test

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) $(CMAKE_ARGS)

build: $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

# The main job. For now: the features of the bundled demo clip; the daemon
# takes this over once it exists.
run: deps build
	$(BUILD)/bin/earshot features --config conf/features/logmel64-16k.json \
	    demo/digits.wav --out $(BUILD)/demo-features.npy

# The whole suite: a plain build, then ASan+UBSan over everything, then TSan
# over the threaded tests.
test: test-deps test-plain test-asan test-tsan

test-plain: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

test-asan:
	cmake -S . -B build-asan -DES_SANITIZE=address $(CMAKE_ARGS)
	cmake --build build-asan -j $(JOBS)
	cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	    LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp \
	    ctest --output-on-failure -j $(JOBS)

test-tsan:
	cmake -S . -B build-tsan -DES_SANITIZE=thread $(CMAKE_ARGS)
	cmake --build build-tsan -j $(JOBS)
	# OpenBLAS's own threads synchronise invisibly to TSan: keep it on one
	cd build-tsan && OPENBLAS_NUM_THREADS=1 TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
	    ctest --output-on-failure -j $(JOBS) -L threads

# Benchmarks against PyTorch/torchaudio (installs them first).
bench: build
	@scripts/install-deps.sh bench
	/usr/bin/python3 bench/features_vs_torchaudio.py --earshot-bench $(BUILD)/bin/bench_features
	/usr/bin/python3 bench/nn_vs_torch.py --earshot-bench $(BUILD)/bin/bench_nn

# Regenerates the committed reference fixtures from torchaudio and PyTorch.
fixtures:
	@scripts/install-deps.sh bench
	/usr/bin/python3 tests/gen_fixtures.py tests/fixtures
	/usr/bin/python3 tests/gen_nn_fixtures.py tests/fixtures/nn

clean:
	rm -rf $(BUILD) build-asan build-tsan
