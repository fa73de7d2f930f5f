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

/// The pre-delay over one block: constant whole samples, or per-sample (fractional) values.
#[derive(Debug, Clone, Copy)]
pub enum DelayTime<'a> {
    /// The same whole number of samples for the whole block.
    Fixed(usize),
    /// One delay per sample, in samples (linear interpolation).
    Varying(&'a [f32]),
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

/// A multichannel pre-delay with a smoothly variable, fractional delay (linear interpolation).
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

    /// Writes samples `offset..offset + b` of each input channel (`b` ≤ the `max_block` given to
    /// [`PreDelay::new`]; non-finite samples, missing channels and samples past a channel's end
    /// are written as 0) into `dry` (the sanitised, undelayed input) and reads them back
    /// delayed by `delay` into `out` (both `channels` rows of `stride`, first `b` used).
    #[allow(clippy::too_many_arguments)]
    pub fn process(
        &mut self,
        input: &[&[f32]],
        offset: usize,
        delay: DelayTime<'_>,
        out: &mut [f32],
        dry: &mut [f32],
        stride: usize,
        b: usize,
    ) {
        let (cap, mask, w) = (self.cap, self.mask, self.write);
        for c in 0..self.channels {
            let src = input.get(c).and_then(|x| x.get(offset..)).unwrap_or(&[]);
            let src = &src[..src.len().min(b)];
            let dry = &mut dry[c * stride..c * stride + b];
            for (d, &x) in dry.iter_mut().zip(src) {
                *d = if x.is_finite() { x } else { 0.0 };
            }
            dry[src.len()..].iter_mut().for_each(|d| *d = 0.0);
            let ring = &mut self.data[c * cap..(c + 1) * cap];
            copy_into_ring(ring, w, dry);
            let row = &mut out[c * stride..c * stride + b];
            match delay {
                DelayTime::Fixed(d) => {
                    let d = d.min(self.max_delay as usize);
                    copy_from_ring(ring, (w + cap - d) & mask, row);
                }
                DelayTime::Varying(delay) => {
                    for (t, (o, &d)) in row.iter_mut().zip(delay).enumerate() {
                        let d = d.clamp(0.0, self.max_delay);
                        let whole = d as usize;
                        let frac = d - whole as f32;
                        let idx = (w + t + cap - whole) & mask;
                        let x0 = ring[idx];
                        let x1 = ring[(idx + cap - 1) & mask];
                        *o = x0 + frac * (x1 - x0);
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
        let mut dry = vec![0.0; 8];
        let mut got = Vec::new();
        let mut varying = Vec::new();
        let mut q = PreDelay::new(1, 10, 8);
        for blk in x.chunks(8) {
            p.process(&[blk], 0, DelayTime::Fixed(3), &mut out, &mut dry, 8, 8);
            got.extend_from_slice(&out);
            assert_eq!(dry, blk);
            q.process(
                &[blk],
                0,
                DelayTime::Varying(&[3.0; 8]),
                &mut out,
                &mut dry,
                8,
                8,
            );
            varying.extend_from_slice(&out);
        }
        assert_eq!(varying, got);
        let expect: Vec<f32> = (0..16)
            .map(|n| if n < 3 { 0.0 } else { (n - 2) as f32 })
            .collect();
        assert_eq!(got, expect);
    }
}
