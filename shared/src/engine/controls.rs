//! Runtime controls smoothed by linear ramps (allocation-free, per sample or per block).

/// A value that glides linearly to its target over a fixed number of samples.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ramp {
    value: f32,
    target: f32,
    step: f32,
    remaining: u32,
    len: u32,
}

impl Ramp {
    /// A ramp resting at `value`, gliding over `len` samples (0 = jump) on every new target.
    pub fn new(value: f32, len: u32) -> Self {
        Self {
            value,
            target: value,
            step: 0.0,
            remaining: 0,
            len,
        }
    }

    /// The current value.
    pub fn value(&self) -> f32 {
        self.value
    }

    /// The target value.
    pub fn target(&self) -> f32 {
        self.target
    }

    /// True while gliding.
    pub fn is_moving(&self) -> bool {
        self.remaining > 0
    }

    /// Starts a glide from the current value to `target` (ignored when unchanged).
    pub fn set_target(&mut self, target: f32) {
        if target == self.target {
            return;
        }
        self.target = target;
        if self.len == 0 {
            self.snap();
        } else {
            self.remaining = self.len;
            self.step = (target - self.value) / self.len as f32;
        }
    }

    /// Jumps to the target.
    pub fn snap(&mut self) {
        self.value = self.target;
        self.remaining = 0;
        self.step = 0.0;
    }

    /// Advances one sample and returns the new value.
    #[inline]
    pub fn tick(&mut self) -> f32 {
        if self.remaining > 0 {
            self.remaining -= 1;
            self.value = if self.remaining == 0 {
                self.target
            } else {
                self.value + self.step
            };
        }
        self.value
    }

    /// Writes the next `out.len()` per-sample values into `out`.
    #[inline]
    pub fn fill(&mut self, out: &mut [f32]) {
        if self.remaining == 0 {
            out.iter_mut().for_each(|v| *v = self.value);
        } else {
            out.iter_mut().for_each(|v| *v = self.tick());
        }
    }

    /// Advances `n` samples and returns the value reached.
    pub fn advance(&mut self, n: usize) -> f32 {
        let k = (n as u64).min(u64::from(self.remaining)) as u32;
        if k == self.remaining {
            self.snap();
        } else {
            self.remaining -= k;
            self.value += self.step * k as f32;
        }
        self.value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ramp_is_linear_and_lands_on_target() {
        let mut r = Ramp::new(0.0, 4);
        r.set_target(1.0);
        let mut out = [0.0; 6];
        r.fill(&mut out);
        assert_eq!(out, [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]);
        r.set_target(0.0);
        assert_eq!(r.advance(2), 0.5);
        assert!(r.is_moving());
        assert_eq!(r.advance(10), 0.0);
        assert!(!r.is_moving());
    }
}
