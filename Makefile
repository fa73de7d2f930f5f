# Tailor: the README's two commands.
#   make demo  - installs missing system packages (as root), builds, runs the main job
#   make test  - what CI runs (.ci/run calls it): format check, clippy, all tests
#   make vst3-check - CI's VST3 host step: debug bundle, then pedalboard loads and runs it

CARGO ?= cargo
SYS_PACKAGES := libasound2-dev libjack-jackd2-dev libx11-dev libxcursor-dev libxcb1-dev \
                libxcb-icccm4-dev libx11-xcb-dev libgl-dev pkg-config

.PHONY: demo test deps build lint vst3-check

deps:
	@missing=""; for p in $(SYS_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null; then \
	    echo "installing:$$missing"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  else echo "warning: missing system packages (install as root):$$missing"; fi; \
	fi

build: deps
	$(CARGO) build --release -p tailor-trainer

# The main job: fit the bundled meeting-room IR, render the fitted preset, compare it with the room.
ROOM_IR := data/rir/meetingroom_to_hallway_290cm.wav
TAILOR = $(CARGO) run --release -q -p tailor-trainer --
demo: build
	@mkdir -p out
	$(TAILOR) fit $(ROOM_IR) --out out/meetingroom_fit.json
	$(TAILOR) render out/meetingroom_fit.json --seconds 4 --out out/meetingroom_fit.wav
	$(TAILOR) compare $(ROOM_IR) out/meetingroom_fit.wav
	@echo "summary plot (room vs fit): out/meetingroom_fit.summary.png"

# The workspace build unifies features (the trainer turns on `tailor/grad`), so the plugin and
# `tailor` are also linted on their own, without `grad`, and the plugin's tree must hold no candle.
lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(CARGO) clippy -p tailor-plugin --all-targets -- -D warnings
	$(CARGO) clippy -p tailor --no-default-features --all-targets -- -D warnings
	@if $(CARGO) tree -p tailor-plugin -e normal --prefix none | grep '^candle'; then \
	  echo "error: tailor-plugin depends on candle (tailor's feature grad leaked in)"; exit 1; fi

# The golden conformance (`tailor conformance data/golden`) runs inside the trainer's CLI tests.
test: deps lint
	$(CARGO) test --workspace

# A real VST3 host (pedalboard, from PyPI, in a cached venv) loads the debug bundle, lists its
# parameters and renders noise + silence through it; see tests/vst3/run_host_check.sh.
vst3-check:
	tests/vst3/bundle_from_test_build.sh
	tests/vst3/run_host_check.sh "$${CARGO_TARGET_DIR:-target}/bundled/Tailor Reverb.vst3"
