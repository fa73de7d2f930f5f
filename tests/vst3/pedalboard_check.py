"""Drive the Tailor Reverb VST3 bundle in a real VST3 host: Spotify's pedalboard (JUCE's VST3 host).

Usage: python pedalboard_check.py "path/to/Tailor Reverb.vst3"

Checks, each failing with a message that names the problem (exit status 1):
  * the bundle loads as a VST3 effect and its parameters are listed by name, "Mix" among them;
  * fully wet (Mix at its maximum), 2 s of white noise then 3 s of silence at 48 kHz stereo,
    processed in 512-sample blocks, give a finite, non-silent output whose tail after the input
    stops has energy and decays;
  * fully dry (Mix at its minimum), the same input gives the input back (after the plugin's 20 ms
    parameter ramp) and a silent tail, so the tail above comes from the reverb and the host's
    parameter change reached the plugin;
  * the pre-delay jumping between its ends (0 -> 500 ms and back) 1.5 s into a 220 Hz sine, at
    the default Mix and fully wet, makes no click: the largest sample-to-sample step in the 100 ms
    from the jump is at most 2x the largest step of steady renders at the old and the new delay
    over the same 100 ms (a gliding delay read made it 10-29x).
Prints a short report and "VST3 HOST CHECK PASSED" when all hold.
"""

import sys

import numpy as np
import pedalboard

SAMPLE_RATE_HZ = 48_000.0
NOISE_S = 2.0
SILENCE_S = 3.0
BLOCK_SAMPLES = 512
WINDOW_S = 0.25
# The tail is measured from this long after the input stops (skips the last block's transient).
TAIL_START_S = 0.05
# Mean square floor for "has energy": -100 dBFS.
TAIL_FLOOR = 1e-10
# The last tail window must sit at least this far below the first (dB).
MIN_DECAY_DB = 3.0
# No tail window may sit more than this above the one before it (dB).
MAX_RISE_DB = 1.0
# Levels below this count as digital silence in the tail fit (dBFS).
LEVEL_FLOOR_DB = -200.0
# Parameter changes ramp over 20 ms in the plugin; the dry comparison starts after this (s).
RAMP_SKIP_S = 0.05
# Fully dry: tail energy at most this far below the wet tail (dB) counts as silent.
DRY_TAIL_REL_DB = -60.0
# Fully dry: output vs input error energy relative to the input energy (dB).
DRY_MATCH_REL_DB = -60.0
# Click check: sine frequency (Hz), jump time (s), window after the jump (s), largest step ratio.
CLICK_SINE_HZ = 220.0
CLICK_JUMP_S = 1.5
CLICK_WINDOW_S = 0.1
CLICK_MAX_RATIO = 2.0


class CheckFailed(Exception):
    """A check failed; the message names the problem."""


def db(x: float) -> float:
    """Power ratio in dB, with -inf for 0."""
    return 10.0 * np.log10(x) if x > 0.0 else float("-inf")


def mean_square(x: np.ndarray) -> float:
    """Mean square over all channels and samples."""
    return float(np.mean(np.square(x, dtype=np.float64))) if x.size else 0.0


def find_param(plugin, wanted: str):
    """The parameter whose display name (or pedalboard key) is `wanted`, case-insensitive."""
    for key, p in plugin.parameters.items():
        if key.lower() == wanted.lower() or str(p.name).strip().lower() == wanted.lower():
            return key, p
    names = ", ".join(str(p.name) for p in plugin.parameters.values())
    raise CheckFailed(f"no parameter named {wanted!r}; the host lists: {names}")


def render(plugin, audio: np.ndarray) -> np.ndarray:
    """Process `audio` (channels x samples, float32) from a reset state in host-sized blocks."""
    out = plugin.process(audio, SAMPLE_RATE_HZ, buffer_size=BLOCK_SAMPLES, reset=True)
    out = np.asarray(out)
    if out.shape != audio.shape:
        raise CheckFailed(f"output shape {out.shape} differs from input shape {audio.shape}")
    if not np.all(np.isfinite(out)):
        bad = np.argwhere(~np.isfinite(out))[0]
        raise CheckFailed(
            f"non-finite output sample at channel {bad[0]}, t = {bad[1] / SAMPLE_RATE_HZ:.4f} s"
        )
    return out


def tail_windows_db(out: np.ndarray, start: int) -> list:
    """Mean-square level (dBFS, floored at LEVEL_FLOOR_DB) of WINDOW_S windows from `start` on."""
    w = int(WINDOW_S * SAMPLE_RATE_HZ)
    return [
        max(db(mean_square(out[:, i : i + w])), LEVEL_FLOOR_DB)
        for i in range(start, out.shape[1] - w + 1, w)
    ]


def check(bundle: str) -> None:
    """Run every check on the bundle at `bundle`; raise CheckFailed on the first failure."""
    try:
        plugin = pedalboard.load_plugin(bundle, plugin_name="Tailor Reverb")
    except Exception as e:  # pedalboard raises ImportError/RuntimeError with JUCE's reason
        raise CheckFailed(f"pedalboard could not load {bundle}: {e}") from e
    print(f"host: pedalboard {pedalboard.__version__} (JUCE VST3 host)")
    print(f"plugin: {plugin.name!r} ({type(plugin).__name__}), is_effect={plugin.is_effect}")
    if not isinstance(plugin, pedalboard.VST3Plugin):
        raise CheckFailed(f"{bundle} loaded as {type(plugin).__name__}, not a VST3 plugin")
    if not plugin.is_effect:
        raise CheckFailed("the plugin is not reported as an audio effect")
    if not plugin.parameters:
        raise CheckFailed("the host lists no parameters")
    print(f"parameters ({len(plugin.parameters)}):")
    for key, p in plugin.parameters.items():
        print(f"  {p.name!r:>14} (key {key}): {p.string_value!r}")
    mix_key, mix = find_param(plugin, "Mix")
    mix_default = mix.raw_value

    n_noise = int(NOISE_S * SAMPLE_RATE_HZ)
    n_total = n_noise + int(SILENCE_S * SAMPLE_RATE_HZ)
    rng = np.random.default_rng(20240613)
    audio = np.zeros((2, n_total), dtype=np.float32)
    audio[:, :n_noise] = rng.uniform(-0.25, 0.25, size=(2, n_noise)).astype(np.float32)
    tail_start = n_noise + int(TAIL_START_S * SAMPLE_RATE_HZ)

    # Fully wet.
    mix.raw_value = 1.0
    print(f"Mix raw 1.0 -> {mix.string_value!r}")
    wet = render(plugin, audio)
    wet_noise = mean_square(wet[:, :n_noise])
    wet_tail = mean_square(wet[:, tail_start:])
    levels = tail_windows_db(wet, tail_start)
    print(f"wet: level during noise {db(wet_noise):.1f} dBFS, tail {db(wet_tail):.1f} dBFS")
    print("wet tail, 0.25 s windows (dBFS): " + " ".join(f"{x:.1f}" for x in levels))
    if wet_noise <= TAIL_FLOOR:
        raise CheckFailed(f"wet output is silent while noise plays ({db(wet_noise):.1f} dBFS)")
    if wet_tail <= TAIL_FLOOR:
        raise CheckFailed(f"no reverb tail after the input stops ({db(wet_tail):.1f} dBFS)")
    if not levels[-1] <= levels[0] - MIN_DECAY_DB:
        raise CheckFailed(
            f"the tail does not decay: first window {levels[0]:.1f} dBFS, "
            f"last {levels[-1]:.1f} dBFS"
        )
    rise = max(b - a for a, b in zip(levels, levels[1:]))
    if rise > MAX_RISE_DB:
        raise CheckFailed(
            f"the tail rises by {rise:.1f} dB between two windows (want <= {MAX_RISE_DB} dB)"
        )
    live = [x for x in levels if x > LEVEL_FLOOR_DB]
    slope_db_s = np.polyfit(np.arange(len(live)) * WINDOW_S, live, 1)[0] if len(live) > 1 else 0.0
    t60 = f"{-60.0 / slope_db_s:.2f} s" if slope_db_s < 0 else "n/a"
    print(f"wet tail: decay slope {slope_db_s:.1f} dB/s (T60 about {t60}), "
          f"largest window-to-window change {rise:+.1f} dB")

    # Fully dry.
    mix.raw_value = 0.0
    print(f"Mix raw 0.0 -> {mix.string_value!r}")
    dry = render(plugin, audio)
    dry_tail = mean_square(dry[:, tail_start:])
    skip = int(RAMP_SKIP_S * SAMPLE_RATE_HZ)
    err = mean_square(dry[:, skip:n_noise] - audio[:, skip:n_noise]) / mean_square(
        audio[:, skip:n_noise]
    )
    print(f"dry: tail {db(dry_tail):.1f} dBFS ({db(dry_tail) - db(wet_tail):.1f} dB re wet tail), "
          f"output vs input error after {RAMP_SKIP_S * 1e3:.0f} ms {db(err):.1f} dB")
    if db(dry_tail) - db(wet_tail) > DRY_TAIL_REL_DB:
        raise CheckFailed(
            f"with Mix at 0 the tail is {db(dry_tail) - db(wet_tail):.1f} dB re the wet tail "
            f"(want <= {DRY_TAIL_REL_DB} dB): the Mix change did not reach the plugin"
        )
    if db(err) > DRY_MATCH_REL_DB:
        raise CheckFailed(
            f"with Mix at 0 the output differs from the input by {db(err):.1f} dB "
            f"(want <= {DRY_MATCH_REL_DB} dB)"
        )

    check_predelay_jumps(plugin, mix, mix_default)


def largest_step(out: np.ndarray, start: int, length: int) -> float:
    """Largest |y[n] - y[n-1]| of any channel over samples start..start+length."""
    return float(np.max(np.abs(np.diff(out[:, start - 1 : start + length], axis=1))))


def render_jump(plugin, param, start_raw: float, end_raw: float, audio: np.ndarray, at: int):
    """Render `audio` from a reset state with `param` at `start_raw`, set to `end_raw` at `at`."""
    param.raw_value = start_raw
    head = plugin.process(audio[:, :at], SAMPLE_RATE_HZ, buffer_size=BLOCK_SAMPLES, reset=True)
    param.raw_value = end_raw
    rest = plugin.process(audio[:, at:], SAMPLE_RATE_HZ, buffer_size=BLOCK_SAMPLES, reset=False)
    out = np.concatenate([np.asarray(head), np.asarray(rest)], axis=1)
    if not np.all(np.isfinite(out)):
        raise CheckFailed("non-finite output around a parameter jump")
    return out


def check_predelay_jumps(plugin, mix, mix_default: float) -> None:
    """The pre-delay jumps between its ends mid-stream without a click (see the module docs)."""
    _, predelay = find_param(plugin, "Pre-delay")
    n = int((CLICK_JUMP_S + 0.3) * SAMPLE_RATE_HZ)
    t = np.arange(n) / SAMPLE_RATE_HZ
    audio = np.stack(
        [0.25 * np.sin(2 * np.pi * CLICK_SINE_HZ * t + phase) for phase in (0.0, 1.0)]
    ).astype(np.float32)
    at = int(CLICK_JUMP_S * SAMPLE_RATE_HZ) // BLOCK_SAMPLES * BLOCK_SAMPLES
    window = int(CLICK_WINDOW_S * SAMPLE_RATE_HZ)
    for label, mix_raw in (("default mix", mix_default), ("fully wet", 1.0)):
        mix.raw_value = mix_raw
        steady = max(
            largest_step(render_jump(plugin, predelay, v, v, audio, at), at, window)
            for v in (0.0, 1.0)
        )
        for a, b in ((0.0, 1.0), (1.0, 0.0)):
            out = render_jump(plugin, predelay, a, b, audio, at)
            ratio = largest_step(out, at, window) / steady
            print(f"pre-delay raw {a} -> {b}, {label}: largest step {ratio:.2f}x the steady one")
            if ratio > CLICK_MAX_RATIO:
                raise CheckFailed(
                    f"the pre-delay jump {a} -> {b} ({label}) clicks: largest step {ratio:.1f}x "
                    f"the steady signals' (want <= {CLICK_MAX_RATIO}x)"
                )


def main() -> int:
    """Entry point: exit 0 when every check passes, 1 with the reason otherwise, 2 on bad usage."""
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        check(sys.argv[1])
    except CheckFailed as e:
        print(f"VST3 HOST CHECK FAILED: {e}", file=sys.stderr)
        return 1
    print("VST3 HOST CHECK PASSED")
    return 0


if __name__ == "__main__":
    sys.exit(main())
