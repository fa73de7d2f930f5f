//! The A/B/X playback state machine: three time-aligned stimuli, instant switching with a
//! sample-accurate linear crossfade, play/pause and loop without clicks.
//!
//! Every source keeps its own gain that glides linearly toward 1 (selected) or 0 at
//! `1 / fade_len` per frame, so a switch in the middle of another switch stays continuous. The
//! master gain glides the same way for play/pause and to zero at the loop point. `render` never
//! allocates: it is called from the audio callback.

/// One of the three stimuli of a trial.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The FDN rendering.
    A,
    /// The reference-IR rendering.
    B,
    /// The unknown (A or B, per the answer key).
    X,
}

impl Source {
    fn index(self) -> usize {
        match self {
            Source::A => 0,
            Source::B => 1,
            Source::X => 2,
        }
    }
}

/// A control event from the listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// Switch to a source (crossfade).
    Select(Source),
    /// Start or pause playback (faded).
    TogglePlay,
    /// Toggle looping at the end of the stimuli.
    ToggleLoop,
    /// Jump back to the start (faded out and in).
    Restart,
}

/// The audio of one trial: planar stimuli A, B and X of equal length and channel count.
#[derive(Debug, Clone, PartialEq)]
pub struct TrialAudio {
    /// Channels of A, B, X: `sources[s][channel][frame]`.
    pub sources: [Vec<Vec<f32>>; 3],
}

impl TrialAudio {
    /// Checks that the three stimuli have the same shape; returns (channels, frames).
    pub fn shape(&self) -> Result<(usize, usize), String> {
        let ch = self.sources[0].len();
        let len = self.sources[0].first().map_or(0, Vec::len);
        if ch == 0 || len == 0 {
            return Err("stimuli are empty".into());
        }
        for s in &self.sources {
            if s.len() != ch || s.iter().any(|c| c.len() != len) {
                return Err("stimuli A, B and X differ in channels or length".into());
            }
        }
        Ok((ch, len))
    }
}

/// The playback state machine.
#[derive(Debug)]
pub struct Player {
    audio: TrialAudio,
    channels: usize,
    len: usize,
    pos: usize,
    gains: [f32; 3],
    selected: Source,
    master: f32,
    playing: bool,
    looping: bool,
    restart_pending: bool,
    step: f32,
}

impl Player {
    /// A player for `audio` with crossfades of `fade_frames` frames (≥ 1), starting on A, paused.
    pub fn new(audio: TrialAudio, fade_frames: usize) -> Result<Self, String> {
        let (channels, len) = audio.shape()?;
        Ok(Self {
            audio,
            channels,
            len,
            pos: 0,
            gains: [1.0, 0.0, 0.0],
            selected: Source::A,
            master: 0.0,
            playing: false,
            looping: true,
            restart_pending: false,
            step: 1.0 / fade_frames.max(1) as f32,
        })
    }

    /// Replaces the trial (back to the start, keeps play/loop state); returns the old audio so
    /// the caller can drop it off the audio thread.
    pub fn load(&mut self, audio: TrialAudio) -> Result<TrialAudio, String> {
        let (channels, len) = audio.shape()?;
        self.channels = channels;
        self.len = len;
        self.pos = 0;
        self.master = 0.0;
        Ok(std::mem::replace(&mut self.audio, audio))
    }

    /// Applies a listener event.
    pub fn handle(&mut self, e: Event) {
        match e {
            Event::Select(s) => self.selected = s,
            Event::TogglePlay => self.playing = !self.playing,
            Event::ToggleLoop => self.looping = !self.looping,
            Event::Restart => self.restart_pending = true,
        }
    }

    /// The selected source.
    pub fn selected(&self) -> Source {
        self.selected
    }

    /// Whether playback is running (or fading in/out).
    pub fn is_playing(&self) -> bool {
        self.playing
    }

    /// Whether playback loops.
    pub fn is_looping(&self) -> bool {
        self.looping
    }

    /// Playback position in frames.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Output channel count.
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// Renders interleaved frames into `out` (`out.len() / out_channels` frames); stimulus channel
    /// `c % channels` feeds output channel `c`. Allocation-free.
    pub fn render(&mut self, out: &mut [f32], out_channels: usize) {
        let oc = out_channels.max(1);
        let fade = (1.0 / self.step).round() as usize;
        for frame in out.chunks_mut(oc) {
            // Master target: silent when paused, restarting or within one fade of the end.
            let near_end = self.len - self.pos <= fade;
            let want_master = if self.playing && !self.restart_pending && !near_end {
                1.0
            } else {
                0.0
            };
            self.master = glide(self.master, want_master, self.step);
            for s in 0..3 {
                let want = if s == self.selected.index() { 1.0 } else { 0.0 };
                self.gains[s] = glide(self.gains[s], want, self.step);
            }
            for (c, o) in frame.iter_mut().enumerate() {
                let ch = c % self.channels;
                let v: f32 = (0..3)
                    .map(|s| self.gains[s] * self.audio.sources[s][ch][self.pos])
                    .sum();
                *o = self.master * v;
            }
            if self.master == 0.0 && self.restart_pending {
                self.pos = 0;
                self.restart_pending = false;
                continue;
            }
            if self.playing || self.master > 0.0 {
                self.pos += 1;
                if self.pos >= self.len {
                    self.pos = 0;
                    if !self.looping {
                        self.playing = false;
                    }
                }
            }
        }
    }
}

fn glide(v: f32, target: f32, step: f32) -> f32 {
    if v < target {
        (v + step).min(target)
    } else {
        (v - step).max(target)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(freq: f32, phase: f32, len: usize) -> Vec<f32> {
        (0..len)
            .map(|n| 0.5 * (2.0 * std::f32::consts::PI * freq * n as f32 / 48000.0 + phase).sin())
            .collect()
    }

    fn max_step(x: &[f32]) -> f32 {
        x.windows(2)
            .map(|w| (w[1] - w[0]).abs())
            .fold(0.0, f32::max)
    }

    #[test]
    fn switching_is_continuous_and_sample_accurate() {
        let len = 48000;
        let a = tone(440.0, 0.0, len);
        let b = tone(440.0, 2.5, len); // same pitch, opposite-ish phase: a hard cut would click
        let audio = TrialAudio {
            sources: [vec![a.clone()], vec![b.clone()], vec![a.clone()]],
        };
        let own = max_step(&a).max(max_step(&b));
        let mut p = Player::new(audio, 480).unwrap();
        p.handle(Event::TogglePlay);
        let mut out = vec![0.0f32; 2 * len];
        // Switch every 1000 frames, sometimes mid-fade, and render in odd chunk sizes.
        let events = [
            (3000, Event::Select(Source::B)),
            (3200, Event::Select(Source::X)),
            (4000, Event::Select(Source::A)),
            (9000, Event::Select(Source::B)),
            (20000, Event::Restart),
            (30000, Event::Select(Source::A)),
        ];
        let mut done = 0;
        for (at, e) in events {
            while done < at {
                let n = (at - done).min(317);
                p.render(&mut out[done..done + n], 1);
                done += n;
            }
            p.handle(e);
        }
        let rest = out.len() - done;
        p.render(&mut out[done..done + rest], 1);
        let step = max_step(&out);
        assert!(step <= own * 1.05, "max step {step} vs source {own}");
        assert!(out.iter().all(|v| v.is_finite()));
        // After the B switch at 3000 plus one fade (480 frames) the output is B exactly, at the
        // same playhead (sample-accurate: no time offset between A and B).
        assert!(
            (out[2900] - a[2900]).abs() < 1e-6,
            "before the switch the output is A"
        );
        let j = 9000 + 600;
        assert!((out[j] - b[j]).abs() < 1e-6, "{} vs {}", out[j], b[j]);
    }

    #[test]
    fn pause_and_loop_point_are_faded() {
        let len = 4800;
        let a: Vec<f32> = vec![0.5; len]; // DC: any hard start/stop would be a 0.5 step
        let audio = TrialAudio {
            sources: [vec![a.clone()], vec![a.clone()], vec![a]],
        };
        let mut p = Player::new(audio, 480).unwrap();
        let mut out = vec![0.0f32; 3 * len];
        p.handle(Event::TogglePlay);
        p.render(&mut out[..len], 1);
        p.handle(Event::TogglePlay);
        p.render(&mut out[len..len + 1000], 1);
        p.handle(Event::TogglePlay);
        p.render(&mut out[len + 1000..], 1);
        assert!(
            max_step(&out) <= 1.0 / 480.0 * 0.5 + 1e-6,
            "{}",
            max_step(&out)
        );
        assert!(p.is_playing() && p.is_looping());
    }

    #[test]
    fn mismatched_stimuli_are_refused() {
        let audio = TrialAudio {
            sources: [vec![vec![0.0; 10]], vec![vec![0.0; 9]], vec![vec![0.0; 10]]],
        };
        assert!(Player::new(audio, 10).is_err());
    }
}
