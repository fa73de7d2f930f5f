//! Ring buffers: the FDN delay lines (block gather/scatter) and the input pre-delay.

/// The N delay lines of one FDN state, stored back to back in one allocation.
///
/// Line `i` holds exactly `m_i` samples; its read and write heads coincide (the reference
/// recursion reads `s(n − m_i)` and then writes `s(n)` at the same index). A block of `b ≤ m_i`
/// samples is read with [`DelayLines::gather`] and then overwritten with [`DelayLines::scatter`].
#[derive(Debug, Clone)]
pub struct DelayLines {
    data: Vec<f32>,
    offset: Vec<usize>,
    len: Vec<usize>,
    pos: Vec<usize>,
}

impl DelayLines {
    /// Zeroed lines of the given lengths (samples, each ≥ 1).
    pub fn new(lengths: &[usize]) -> Self {
        let mut offset = Vec::with_capacity(lengths.len());
        let mut total = 0;
        for &m in lengths {
            offset.push(total);
            total += m.max(1);
        }
        Self {
            data: vec![0.0; total],
            offset,
            len: lengths.iter().map(|&m| m.max(1)).collect(),
            pos: vec![0; lengths.len()],
        }
    }

    /// Number of lines.
    pub fn lines(&self) -> usize {
        self.len.len()
    }

    /// Shortest line in samples.
    pub fn min_len(&self) -> usize {
        self.len.iter().copied().min().unwrap_or(1)
    }

    /// Copies the next `dst.len()` (≤ line length) delayed samples of line `i` into `dst`.
    #[inline]
    pub fn gather(&self, i: usize, dst: &mut [f32]) {
        let (off, m, p) = (self.offset[i], self.len[i], self.pos[i]);
        let line = &self.data[off..off + m];
        let b = dst.len().min(m);
        let first = b.min(m - p);
        dst[..first].copy_from_slice(&line[p..p + first]);
        dst[first..b].copy_from_slice(&line[..b - first]);
    }

    /// Writes `src` (≤ line length samples) into line `i` at its head and advances the head.
    #[inline]
    pub fn scatter(&mut self, i: usize, src: &[f32]) {
        let (off, m, p) = (self.offset[i], self.len[i], self.pos[i]);
        let line = &mut self.data[off..off + m];
        let b = src.len().min(m);
        let first = b.min(m - p);
        line[p..p + first].copy_from_slice(&src[..first]);
        line[..b - first].copy_from_slice(&src[first..b]);
        self.pos[i] = (p + b) % m;
    }

    /// Clears every line and rewinds the heads.
    pub fn reset(&mut self) {
        self.data.iter_mut().for_each(|v| *v = 0.0);
        self.pos.iter_mut().for_each(|p| *p = 0);
    }
}

/// The pre-delay over one block: constant whole samples, or a crossfade between two taps.
#[derive(Debug, Clone, Copy)]
pub enum DelayTime<'a> {
    /// The same whole number of samples for the whole block.
    Fixed(usize),
    /// Two whole-sample taps mixed per sample: `(1 − w[t])·x(n − from) + w[t]·x(n − to)`.
    Crossfade {
        /// The delay faded out, in samples.
        from: usize,
        /// The delay faded in, in samples.
        to: usize,
        /// Weight of `to` per sample (0–1; samples past its end read `to` alone).
        weights: &'a [f32],
    },
}

/// A whole-sample delay time that changes by crossfading two read taps instead of gliding the
/// read position (a gliding read resamples the signal: a jump of the delay by 500 ms over 20 ms
/// plays the input 25 times too fast for those 20 ms). A new target starts a linear fade of `len`
/// samples from the current delay; a target arriving while a fade runs waits for that fade to
/// finish and then fades on from there (the latest target wins), so at most two taps are ever
/// read. Allocation-free and `Copy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DelayFade {
    /// The delay heard when no fade runs; the tap faded out while one runs (samples).
    current: usize,
    /// The tap faded in while a fade runs (samples).
    next: usize,
    /// The latest requested delay (samples).
    target: usize,
    /// Samples of the running fade already played.
    pos: usize,
    /// Fade length in samples (0 = jump).
    len: usize,
    fading: bool,
}

impl DelayFade {
    /// A delay resting at `delay` samples whose changes crossfade over `len` samples (0 = jump).
    pub fn new(delay: usize, len: usize) -> Self {
        Self {
            current: delay,
            next: delay,
            target: delay,
            pos: 0,
            len,
            fading: false,
        }
    }

    /// The latest requested delay in samples.
    pub fn target(&self) -> usize {
        self.target
    }

    /// True while a crossfade runs.
    pub fn is_fading(&self) -> bool {
        self.fading
    }

    /// Samples left in the running crossfade (0 when none runs).
    pub fn remaining(&self) -> usize {
        if self.fading {
            self.len - self.pos
        } else {
            0
        }
    }

    /// Asks for a delay of `delay` samples (a fade starts now, or after the running one).
    pub fn set_target(&mut self, delay: usize) {
        self.target = delay;
        if !self.fading {
            self.start();
        }
    }

    /// Jumps to the target and ends any fade.
    pub fn snap(&mut self) {
        self.current = self.target;
        self.next = self.target;
        self.pos = 0;
        self.fading = false;
    }

    fn start(&mut self) {
        if self.target == self.current {
            return;
        }
        if self.len == 0 {
            self.snap();
            return;
        }
        self.next = self.target;
        self.pos = 0;
        self.fading = true;
    }

    /// The delay over the next `weights.len()` samples (at most [`DelayFade::remaining`] while
    /// a fade runs; longer blocks hold the last weight, 1, which reads the new tap alone),
    /// writing the crossfade weights into `weights`. Advances the fade; when it completes, the
    /// next one (towards a target that moved meanwhile) starts with the following sample.
    pub fn block<'a>(&mut self, weights: &'a mut [f32]) -> DelayTime<'a> {
        if !self.fading {
            return DelayTime::Fixed(self.current);
        }
        let (from, to) = (self.current, self.next);
        let len = self.len as f32;
        for (t, w) in weights.iter_mut().enumerate() {
            *w = ((self.pos + t + 1) as f32 / len).min(1.0);
        }
        self.pos = (self.pos + weights.len()).min(self.len);
        if self.pos == self.len {
            self.current = self.next;
            self.fading = false;
            self.start();
        }
        DelayTime::Crossfade { from, to, weights }
    }
}

fn copy_into_ring(ring: &mut [f32], start: usize, src: &[f32]) {
    let first = src.len().min(ring.len() - start);
    ring[start..start + first].copy_from_slice(&src[..first]);
    ring[..src.len() - first].copy_from_slice(&src[first..]);
}

fn copy_from_ring(ring: &[f32], start: usize, dst: &mut [f32]) {
    let first = dst.len().min(ring.len() - start);
    dst[..first].copy_from_slice(&ring[start..start + first]);
    let rest = dst.len() - first;
    dst[first..].copy_from_slice(&ring[..rest]);
}

/// A multichannel pre-delay of whole samples; delay changes crossfade two taps ([`DelayFade`]).
#[derive(Debug, Clone)]
pub struct PreDelay {
    data: Vec<f32>,
    channels: usize,
    cap: usize,
    mask: usize,
    write: usize,
    max_delay: f32,
}

impl PreDelay {
    /// Room for `channels` channels, delays up to `max_delay` samples, blocks up to `max_block`.
    pub fn new(channels: usize, max_delay: usize, max_block: usize) -> Self {
        let cap = (max_delay + max_block + 4).next_power_of_two();
        Self {
            data: vec![0.0; cap * channels.max(1)],
            channels,
            cap,
            mask: cap - 1,
            write: 0,
            max_delay: max_delay as f32,
        }
    }

    /// Longest supported delay in samples.
    pub fn max_delay(&self) -> f32 {
        self.max_delay
    }

    /// Writes the first `b` samples of each channel row of `input` (`channels` rows of
    /// `stride`, `b` ≤ the `max_block` given to [`PreDelay::new`]) into the ring and reads them
    /// back delayed by `delay` into `out` (same layout).
    pub fn process(
        &mut self,
        input: &[f32],
        delay: DelayTime<'_>,
        out: &mut [f32],
        stride: usize,
        b: usize,
    ) {
        let (cap, mask, w) = (self.cap, self.mask, self.write);
        for c in 0..self.channels {
            let src = &input[c * stride..c * stride + b];
            let ring = &mut self.data[c * cap..(c + 1) * cap];
            copy_into_ring(ring, w, src);
            let row = &mut out[c * stride..c * stride + b];
            match delay {
                DelayTime::Fixed(d) => {
                    let d = d.min(self.max_delay as usize);
                    copy_from_ring(ring, (w + cap - d) & mask, row);
                }
                DelayTime::Crossfade { from, to, weights } => {
                    let max = self.max_delay as usize;
                    let (d0, d1) = (from.min(max), to.min(max));
                    for (t, o) in row.iter_mut().enumerate() {
                        let g = weights.get(t).copied().unwrap_or(1.0);
                        let x0 = ring[(w + t + cap - d0) & mask];
                        let x1 = ring[(w + t + cap - d1) & mask];
                        // (1 − g)·x0 + g·x1 is exactly x1 at g = 1.
                        *o = (1.0 - g) * x0 + g * x1;
                    }
                }
            }
        }
        self.write = (w + b) & mask;
    }

    /// Clears the buffer.
    pub fn reset(&mut self) {
        self.data.iter_mut().for_each(|v| *v = 0.0);
        self.write = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_delay_by_their_length_in_any_block_split() {
        let mut d = DelayLines::new(&[5]);
        let mut out = Vec::new();
        let input: Vec<f32> = (1..=20).map(|v| v as f32).collect();
        let mut t = 0;
        for b in [1, 3, 5, 2, 4, 5] {
            let mut buf = vec![0.0; b];
            d.gather(0, &mut buf);
            out.extend_from_slice(&buf);
            d.scatter(0, &input[t..t + b]);
            t += b;
        }
        let expect: Vec<f32> = (0..20)
            .map(|n| if n < 5 { 0.0 } else { (n - 4) as f32 })
            .collect();
        assert_eq!(out, expect);
    }

    #[test]
    fn predelay_integer_delay_is_exact() {
        let mut p = PreDelay::new(1, 10, 8);
        let x: Vec<f32> = (1..=16).map(|v| v as f32).collect();
        let mut out = vec![0.0; 8];
        let mut got = Vec::new();
        let mut faded = Vec::new();
        let mut q = PreDelay::new(1, 10, 8);
        for blk in x.chunks(8) {
            p.process(blk, DelayTime::Fixed(3), &mut out, 8, 8);
            got.extend_from_slice(&out);
            // A finished crossfade (weight 1) reads the new tap alone, exactly.
            let delay = DelayTime::Crossfade {
                from: 7,
                to: 3,
                weights: &[1.0; 8],
            };
            q.process(blk, delay, &mut out, 8, 8);
            faded.extend_from_slice(&out);
        }
        assert_eq!(faded, got);
        let expect: Vec<f32> = (0..16)
            .map(|n| if n < 3 { 0.0 } else { (n - 2) as f32 })
            .collect();
        assert_eq!(got, expect);
    }

    /// Renders a ramp input through a pre-delay driven by `fade`, in blocks of at most `block`
    /// (cut at fade ends and at the `events`: (sample, new target)).
    fn fade_render(
        fade: &mut DelayFade,
        n: usize,
        block: usize,
        events: &[(usize, usize)],
    ) -> Vec<f32> {
        let mut p = PreDelay::new(1, 64, block);
        let x: Vec<f32> = (0..n).map(|v| v as f32).collect();
        let (mut out, mut w) = (vec![0.0; block], vec![0.0; block]);
        let mut y = Vec::new();
        let mut at = 0;
        while at < n {
            for &(_, t) in events.iter().filter(|e| e.0 == at) {
                fade.set_target(t);
            }
            let next_event = events.iter().map(|e| e.0).filter(|&e| e > at).min();
            let mut b = block.min(n - at).min(next_event.unwrap_or(n) - at);
            if fade.is_fading() {
                b = b.min(fade.remaining());
            }
            let delay = fade.block(&mut w[..b]);
            p.process(&x[at..at + b], delay, &mut out, block, b);
            y.extend_from_slice(&out[..b]);
            at += b;
        }
        y
    }

    #[test]
    fn a_delay_change_crossfades_two_taps_without_resampling() {
        // Input x(n) = n: a tap at delay d reads n − d, so the output shows the taps' weights.
        let mut fade = DelayFade::new(2, 8);
        let y = fade_render(&mut fade, 40, 5, &[(10, 30)]);
        assert_eq!(
            &y[..10],
            &[0.0, 0.0, 0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]
        );
        for (k, &v) in y[10..18].iter().enumerate() {
            let n = (10 + k) as f32;
            let g = (k + 1) as f32 / 8.0;
            let want = (1.0 - g) * (n - 2.0) + g * (n - 30.0).max(0.0);
            assert!((v - want).abs() < 1e-4, "sample {}: {v} vs {want}", 10 + k);
        }
        // After the fade the new tap plays alone (x(n − 30) = 0 before the input began).
        assert!(y[18..30].iter().all(|&v| v == 0.0));
        assert_eq!(y[35], 5.0);
        assert!(!fade.is_fading());
    }

    #[test]
    fn a_target_arriving_mid_fade_fades_on_after_it_and_block_splits_agree() {
        let targets = [(0, 10), (4, 20), (6, 3)];
        let mut a = DelayFade::new(0, 8);
        let ya = fade_render(&mut a, 60, 16, &targets);
        let mut b = DelayFade::new(0, 8);
        let yb = fade_render(&mut b, 60, 1, &targets);
        assert_eq!(ya, yb);
        // 0 → 10 over samples 0–7, then 10 → 3 (the latest target) over 8–15, then 3 alone.
        assert_eq!(a.target(), 3);
        let x = |n: usize, d: usize| n.saturating_sub(d) as f32;
        assert_eq!(ya[7], x(7, 10));
        assert!((ya[11] - (0.5 * x(11, 10) + 0.5 * x(11, 3))).abs() < 1e-4);
        assert!((16..60).all(|n| ya[n] == x(n, 3)));
        // A zero-length fade jumps.
        let mut j = DelayFade::new(4, 0);
        j.set_target(9);
        assert!(!j.is_fading());
        assert!(matches!(j.block(&mut [0.0; 4]), DelayTime::Fixed(9)));
    }
}
