//! Scoring ABX results: correct/total per listener, one-sided binomial p-value, verdict.

use super::session::{read_answers, Session, RESULTS_FILE};
use anyhow::{bail, Result};
use std::collections::BTreeMap;
use std::path::Path;

/// One listener's score.
#[derive(Debug, Clone, PartialEq)]
pub struct ListenerScore {
    /// Listener name.
    pub listener: String,
    /// Trials answered correctly.
    pub correct: usize,
    /// Trials answered.
    pub total: usize,
    /// P(at least `correct` of `total` by guessing), one-sided binomial with p = 0.5.
    pub p_value: f64,
}

impl ListenerScore {
    /// "distinguishable at p < 0.05" or "not distinguishable at p < 0.05".
    pub fn verdict(&self) -> &'static str {
        if self.p_value < 0.05 {
            "distinguishable at p < 0.05"
        } else {
            "not distinguishable at p < 0.05"
        }
    }
}

/// P(X ≥ k) for X ~ Binomial(n, 1/2), exact (log-space sums; fine for any n used in practice).
pub fn binomial_p_value(k: usize, n: usize) -> f64 {
    if k == 0 {
        return 1.0;
    }
    if k > n {
        return 0.0;
    }
    let ln_choose = |n: usize, r: usize| -> f64 {
        (1..=r)
            .map(|i| ((n - r + i) as f64).ln() - (i as f64).ln())
            .sum()
    };
    let ln_half_n = n as f64 * 0.5f64.ln();
    (k..=n)
        .map(|i| (ln_choose(n, i) + ln_half_n).exp())
        .sum::<f64>()
        .min(1.0)
}

/// Scores a session directory with its answer key; each listener's first answer per trial counts.
pub fn score(dir: &Path, key_path: &Path) -> Result<Vec<ListenerScore>> {
    let session = Session::load(dir)?;
    session.verify_stimuli(dir)?;
    let key = session.load_key(key_path)?;
    let answers = read_answers(&dir.join(RESULTS_FILE))?;
    let mut per: BTreeMap<String, BTreeMap<usize, bool>> = BTreeMap::new();
    for a in answers {
        if a.trial == 0 || a.trial > key.x_is.len() {
            bail!(
                "results name trial {} but the session has {} trials",
                a.trial,
                key.x_is.len()
            );
        }
        let correct = key.x_is[a.trial - 1] == a.answer;
        per.entry(a.listener)
            .or_default()
            .entry(a.trial)
            .or_insert(correct);
    }
    Ok(per
        .into_iter()
        .map(|(listener, trials)| {
            let total = trials.len();
            let correct = trials.values().filter(|c| **c).count();
            ListenerScore {
                listener,
                correct,
                total,
                p_value: binomial_p_value(correct, total),
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binomial_tail_matches_hand_computation() {
        // 9 of 12: (C(12,9)+C(12,10)+C(12,11)+C(12,12)) / 2^12 = (220+66+12+1)/4096 = 299/4096.
        assert!((binomial_p_value(9, 12) - 299.0 / 4096.0).abs() < 1e-15);
        // 10 of 12: 79/4096 = 0.0193 → distinguishable.
        assert!((binomial_p_value(10, 12) - 79.0 / 4096.0).abs() < 1e-15);
        assert_eq!(binomial_p_value(0, 12), 1.0);
        assert!((binomial_p_value(12, 12) - 1.0 / 4096.0).abs() < 1e-18);
        assert!((binomial_p_value(6, 12) - 2510.0 / 4096.0).abs() < 1e-14);
    }
}
