# uvfio - convenience front end over meson/ninja.
#
#   make demo    install missing build deps, build, run the demo
#   make check   build, run every test (plain, ASan+UBSan, valgrind);
#                last line: "N passed, N failed"
#   make bench   run the benchmarks
#   make fuzz    run each fuzz target for FUZZ_SECONDS (default 60)

BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_SECONDS ?= 60

.PHONY: all deps build check demo bench fuzz install clean

all: build

deps:
	@scripts/install-deps.sh

build: deps
	@[ -f $(BUILD)/build.ninja ] || meson setup $(BUILD) >/dev/null
	ninja -C $(BUILD)

check: deps
	@scripts/check.sh

demo: build
	@scripts/demo.sh $(BUILD)

bench: build
	@scripts/bench.sh $(BUILD)

fuzz: deps
	@scripts/fuzz.sh $(FUZZ_SECONDS)

install: build
	meson install -C $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) build-fuzz
