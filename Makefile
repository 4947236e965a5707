# Convenience front end over CMake. `make run` and `make test` set up
# everything on a fresh Debian 12 (missing packages included).
BUILD      ?= build
JOBS       ?= $(shell nproc)
CMAKE_ARGS ?=
ifneq ($(CI),)
CMAKE_ARGS += -DES_WERROR=ON
endif

.PHONY: all deps test-deps build run install units verify-units models eval test test-plain test-asan test-tsan bench fixtures clean

all: build

deps:
	@scripts/install-deps.sh build

test-deps:
	@scripts/install-deps.sh test

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) $(CMAKE_ARGS)

build: $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

# The main job: earshotd in the foreground with the default config and
# models, on the default microphone when there is one, else on the bundled
# demo recording; detections print as they happen (Ctrl-C stops it). Its
# socket is $(BUILD)/earshot.sock: `build/bin/earshot listen --socket
# build/earshot.sock` follows it from another terminal. What it is taught
# (examples, saved models) goes to $(BUILD)/state.
run: deps build
	@if $(BUILD)/bin/earshot devices 2>/dev/null | grep -q '^ *[0-9]'; then \
	    input=portaudio; else input=file:demo/digits.wav; \
	    echo "make run: no microphone; listening to demo/digits.wav"; fi; \
	exec $(BUILD)/bin/earshotd --config conf/earshotd.conf --socket $(BUILD)/earshot.sock \
	    --state-dir $(BUILD)/state --input $$input --log-level notice

# Installs binaries, config, models, units and docs (DESTDIR and PREFIX as usual).
PREFIX     ?= /usr/local
SYSCONFDIR ?= /etc
UNITDIR    ?= $(SYSCONFDIR)/systemd/system
install: build
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/earshot/models \
	    $(DESTDIR)$(SYSCONFDIR)/earshot $(DESTDIR)$(UNITDIR) \
	    $(DESTDIR)$(PREFIX)/lib/sysusers.d $(DESTDIR)$(PREFIX)/share/doc/earshot
	install -m 755 $(BUILD)/bin/earshot $(BUILD)/bin/earshotd $(DESTDIR)$(PREFIX)/bin/
	install -m 644 models/*.safetensors models/*.md $(DESTDIR)$(PREFIX)/share/earshot/models/
	sed -e 's#"\.\./models/#"$(PREFIX)/share/earshot/models/#' conf/earshotd.conf \
	    >$(DESTDIR)$(SYSCONFDIR)/earshot/earshotd.conf
	$(MAKE) --no-print-directory units UNITS_OUT=$(DESTDIR)$(UNITDIR) BINDIR=$(PREFIX)/bin
	install -m 644 systemd/earshot.sysusers $(DESTDIR)$(PREFIX)/lib/sysusers.d/earshot.conf
	install -m 644 README.md $(DESTDIR)$(PREFIX)/share/doc/earshot/

# The unit files with the paths filled in.
UNITS_OUT ?= $(BUILD)/systemd
BINDIR    ?= $(CURDIR)/$(BUILD)/bin
units:
	install -d $(UNITS_OUT)
	sed -e 's#@BINDIR@#$(BINDIR)#g' -e 's#@SYSCONFDIR@#$(SYSCONFDIR)#g' \
	    -e 's#@DOCDIR@#$(PREFIX)/share/doc/earshot#g' systemd/earshotd.service.in \
	    >$(UNITS_OUT)/earshotd.service
	install -m 644 systemd/earshotd.socket $(UNITS_OUT)/earshotd.socket

# systemd-analyze verify over the units as `make install` writes them.
verify-units: build units
	systemd-analyze verify $(BUILD)/systemd/earshotd.socket $(BUILD)/systemd/earshotd.service

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
	/usr/bin/python3 bench/seed_epoch_vs_torch.py --earshot $(BUILD)/bin/earshot
	/usr/bin/python3 bench/daemon_bench.py --earshotd $(BUILD)/bin/earshotd
	@scripts/install-deps.sh test
	/usr/bin/python3 bench/finetune_bench.py --earshotd $(BUILD)/bin/earshotd --earshot $(BUILD)/bin/earshot

# Retrains the shipped models from ../shared/data (models/*.md: their cards).
# The replay stores (rehearsal clips for fine-tuning) come from the recorded
# data only: FSDD's speakers, not the synthetic voices (measured: FSDD fell
# 2.3 points less after fine-tuning on German digits).
models: build test-deps
	scripts/make-training-voices.sh $(BUILD)/voices
	$(BUILD)/bin/earshot train --config conf/recipes/digits.cfg --val-groups none --out models/digits.safetensors
	$(BUILD)/bin/earshot train --config conf/recipes/digits.cfg --val-groups none --data ../shared/data/fsdd \
	    --replay-out models/digits.replay.safetensors --replay-per-class 50 --replay-only
	$(BUILD)/bin/earshot train --config conf/recipes/catdog.cfg --val-groups none --out models/catdog.safetensors \
	    --replay-out models/catdog.replay.safetensors --replay-per-class 10
	$(BUILD)/bin/earshot train --config conf/recipes/catdog-seed.cfg --val-groups none --out models/catdog-seed.safetensors

# The shipped models judged as a user meets them (README, "Judging a model
# as a user meets it"): clip accuracy on each held-out source, then a
# 30-minute scene of held-out clips through earshotd with the shipped config.
EVAL ?= $(BUILD)/eval
eval: build test-deps
	scripts/make-manifests.sh $(EVAL)/manifests
	$(BUILD)/bin/earshot eval --model models/digits.safetensors --manifest $(EVAL)/manifests/digits-test.csv
	$(BUILD)/bin/earshot eval --model models/catdog.safetensors --manifest $(EVAL)/manifests/catdog-test.csv
	BIN=$(BUILD)/bin scripts/eval-scene.sh $(EVAL) 30 1

# Regenerates the committed reference fixtures from torchaudio and PyTorch.
fixtures:
	@scripts/install-deps.sh bench
	/usr/bin/python3 tests/gen_fixtures.py tests/fixtures
	/usr/bin/python3 tests/gen_nn_fixtures.py tests/fixtures/nn

clean:
	rm -rf $(BUILD) build-asan build-tsan
