//! `train_fdn`: Adam exactly as torch (β 0.9/0.999, ε 1e-8, no weight decay, StepLR(2000, 0.1)),
//! pyFDN's plateau early stop (FDN reference §8), the TrainLog, best-step tracking, and JSON
//! checkpoints in a train dir with resume.

use anyhow::{bail, Context, Result};
use candle_core::{DType, Device, Tensor, Var};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use super::lbfgs::{flat_grads, flatten_vars, set_vars, Lbfgs, LbfgsOptions};
use super::loss::{Loss, LossContext};
use super::model::FdnModel;

/// Optimiser of [`train_fdn`] (pyFDN `optimizer="adam"|"lbfgs"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Optimizer {
    /// torch Adam + StepLR(2000, 0.1); logs the pre-update loss.
    #[default]
    Adam,
    /// torch LBFGS with strong-Wolfe line search, one `step(closure)` per step; logs the
    /// post-step loss. Checkpoints keep parameters only: a resumed run restarts the L-BFGS
    /// history.
    Lbfgs,
}

/// Options of [`train_fdn`].
#[derive(Debug, Clone)]
pub struct TrainOptions {
    /// Maximum number of steps.
    pub max_steps: usize,
    /// Adam learning rate.
    pub lr: f64,
    /// Plateau patience, steps.
    pub patience: usize,
    /// Plateau relative tolerance.
    pub tol: f64,
    /// Directory for `checkpoint.json` (written every `checkpoint_every` steps); `None` = none.
    pub train_dir: Option<PathBuf>,
    /// Checkpoint period, steps (≥ 1).
    pub checkpoint_every: usize,
    /// Continue from `train_dir/checkpoint.json` when it exists.
    pub resume: bool,
    /// Leave the model at its best (lowest logged loss) step instead of the last update.
    pub restore_best: bool,
    /// Optimiser (`lr` is its learning rate).
    pub optimizer: Optimizer,
}

impl Default for TrainOptions {
    fn default() -> Self {
        Self {
            max_steps: 2000,
            lr: 1e-3,
            patience: 10,
            tol: 1e-6,
            train_dir: None,
            checkpoint_every: 1,
            resume: false,
            restore_best: false,
            optimizer: Optimizer::Adam,
        }
    }
}

/// pyFDN `TrainLog` plus timing and the best step.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TrainLog {
    /// Weighted total per step (pre-update, as Adam logs it).
    pub train_loss: Vec<f64>,
    /// Unweighted value of each leaf per step.
    pub loss_log: BTreeMap<String, Vec<f64>>,
    /// Steps run (= `train_loss.len()`).
    pub steps_run: usize,
    /// `steps_run < max_steps`.
    pub stopped_early: bool,
    /// Mean wall time per step of this run (excluding resumed steps), milliseconds.
    pub ms_per_step: f64,
    /// Step index (0-based) with the lowest logged total.
    pub best_step: usize,
    /// The lowest logged total.
    pub best_loss: f64,
    /// Total of the parameters after the last update (Adam logs pre-update totals, so this is
    /// one more evaluation; for L-BFGS it is the last logged total).
    pub final_loss: f64,
    /// Total of the parameters the model is left with: `final_loss`, or with
    /// [`TrainOptions::restore_best`] the lower of `best_loss` and `final_loss`.
    pub exported_loss: f64,
}

/// pyFDN's plateau rule (§8), state carried across steps (and checkpoints).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct Plateau {
    /// Best total so far (+∞ at start).
    pub best: f64,
    /// Non-improving steps in a row.
    pub counter: usize,
}

impl Default for Plateau {
    fn default() -> Self {
        Self {
            best: f64::INFINITY,
            counter: 0,
        }
    }
}

impl Plateau {
    /// Feeds one logged total; true when training must stop after this step.
    pub fn update(&mut self, total: f64, tol: f64, patience: usize) -> bool {
        let rel = if self.best.is_finite() {
            (self.best - total) / (self.best.abs() + 1e-12)
        } else {
            f64::INFINITY
        };
        if total < self.best {
            self.best = total;
        }
        if rel > tol {
            self.counter = 0;
            false
        } else {
            self.counter += 1;
            self.counter >= patience
        }
    }
}

/// torch Adam state of one parameter.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Moments {
    m: Vec<f64>,
    v: Vec<f64>,
}

/// Everything needed to resume.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Checkpoint {
    step: usize,
    params: Vec<(String, Vec<f64>)>,
    moments: Vec<(String, Moments)>,
    train_loss: Vec<f64>,
    loss_log: BTreeMap<String, Vec<f64>>,
    plateau: Plateau,
    best_step: usize,
    best_params: Vec<(String, Vec<f64>)>,
}

/// torch Adam over a set of variables (β 0.9/0.999, ε 1e-8, no weight decay).
pub(crate) struct Adam {
    t: usize,
    state: Vec<(Var, Tensor, Tensor)>,
}

impl Adam {
    const B1: f64 = 0.9;
    const B2: f64 = 0.999;
    const EPS: f64 = 1e-8;

    pub(crate) fn new(vars: &[(String, Var)]) -> Result<Self> {
        let state = vars
            .iter()
            .map(|(_, v)| Ok((v.clone(), v.zeros_like()?, v.zeros_like()?)))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self { t: 0, state })
    }

    /// One torch-Adam update; `lr_now` includes the StepLR factor.
    pub(crate) fn step(
        &mut self,
        grads: &candle_core::backprop::GradStore,
        lr_now: f64,
    ) -> Result<()> {
        self.t += 1;
        let t = self.t as i32;
        let bc1 = 1.0 - Self::B1.powi(t);
        let bc2 = 1.0 - Self::B2.powi(t);
        for (var, m, v) in &mut self.state {
            let Some(g) = grads.get(var.as_tensor()) else {
                continue;
            };
            *m = ((&*m * Self::B1)? + (g * (1.0 - Self::B1))?)?;
            *v = ((&*v * Self::B2)? + (g.sqr()? * (1.0 - Self::B2))?)?;
            // torch: denom = sqrt(v)/sqrt(bc2) + eps; θ -= (lr/bc1)·m/denom.
            let denom = ((v.sqrt()? / bc2.sqrt())? + Self::EPS)?;
            let upd = ((&*m / &denom)? * (lr_now / bc1))?;
            var.set(&(var.as_tensor() - upd)?)?;
        }
        Ok(())
    }

    fn export(&self, names: &[String]) -> Result<Vec<(String, Moments)>> {
        let f = |t: &Tensor| -> Result<Vec<f64>> {
            Ok(t.to_device(&Device::Cpu)?
                .to_dtype(DType::F64)?
                .flatten_all()?
                .to_vec1::<f64>()?)
        };
        names
            .iter()
            .zip(&self.state)
            .map(|(n, (_, m, v))| Ok((n.clone(), Moments { m: f(m)?, v: f(v)? })))
            .collect()
    }

    fn import(&mut self, names: &[String], moments: &[(String, Moments)], t: usize) -> Result<()> {
        for (n, (var, m, v)) in names.iter().zip(&mut self.state) {
            let (_, mo) = moments
                .iter()
                .find(|(k, _)| k == n)
                .with_context(|| format!("checkpoint has no optimiser state for '{n}'"))?;
            if mo.m.len() != var.elem_count() || mo.v.len() != var.elem_count() {
                bail!("checkpoint optimiser state for '{n}' has the wrong size");
            }
            let mk = |x: &[f64]| -> Result<Tensor> {
                Ok(Tensor::from_vec(x.to_vec(), var.shape(), &Device::Cpu)?
                    .to_dtype(var.dtype())?
                    .to_device(var.device())?)
            };
            *m = mk(&mo.m)?;
            *v = mk(&mo.v)?;
        }
        self.t = t;
        Ok(())
    }
}

/// Path of the checkpoint file inside a train dir.
pub fn checkpoint_path(dir: &std::path::Path) -> PathBuf {
    dir.join("checkpoint.json")
}

/// The model's response through `loss`: the weighted total and each leaf.
fn evaluate(model: &FdnModel, loss: &mut Loss) -> Result<(Tensor, Vec<Tensor>)> {
    let (h, a) = model.response_and_feedback()?;
    let ctx = LossContext {
        h: &h,
        feedback: &a,
        model,
    };
    loss.evaluate(&ctx)
}

/// pyFDN `train_fdn(model, loss, …)` with Adam; calls `on_step(step, total)` after every step.
/// Mutates the model in place (see [`TrainOptions::restore_best`]).
pub fn train_fdn_with(
    model: &mut FdnModel,
    loss: &mut Loss,
    opts: &TrainOptions,
    on_step: &mut dyn FnMut(usize, f64),
) -> Result<TrainLog> {
    if !(opts.lr.is_finite() && opts.lr > 0.0) {
        bail!("lr must be positive, got {}", opts.lr);
    }
    if opts.checkpoint_every == 0 {
        bail!("checkpoint_every must be at least 1");
    }
    let vars = model.trainable_vars();
    if vars.is_empty() {
        bail!("the model has no trainable parameters");
    }
    let names: Vec<String> = vars.iter().map(|(n, _)| n.clone()).collect();
    let leaf_names = loss.leaf_names();
    let mut adam = Adam::new(&vars)?;
    let mut lbfgs = Lbfgs::new(LbfgsOptions {
        lr: opts.lr,
        ..Default::default()
    })?;
    let plain_vars: Vec<Var> = vars.iter().map(|(_, v)| v.clone()).collect();
    let mut train_loss = Vec::new();
    let mut loss_log: BTreeMap<String, Vec<f64>> =
        leaf_names.iter().map(|n| (n.clone(), Vec::new())).collect();
    let mut plateau = Plateau::default();
    let mut best_step = 0;
    let mut best_params = model.snapshot()?;
    let mut start = 0;
    if let (true, Some(dir)) = (opts.resume, &opts.train_dir) {
        let path = checkpoint_path(dir);
        if path.exists() {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("reading {}", path.display()))?;
            let ck: Checkpoint = serde_json::from_str(&text)
                .with_context(|| format!("parsing checkpoint {}", path.display()))?;
            model.restore(&ck.params)?;
            if opts.optimizer == Optimizer::Adam {
                adam.import(&names, &ck.moments, ck.step)?;
            }
            train_loss = ck.train_loss;
            loss_log = ck.loss_log;
            plateau = ck.plateau;
            best_step = ck.best_step;
            best_params = ck.best_params;
            start = ck.step;
        }
    }
    if let Some(dir) = &opts.train_dir {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let t0 = Instant::now();
    let mut stop = false;
    let mut step = start;
    while step < opts.max_steps && !stop {
        if opts.optimizer == Optimizer::Lbfgs {
            let mut x = flatten_vars(&plain_vars)?;
            let mut objective = |x: &[f64]| -> Result<(f64, Vec<f64>)> {
                set_vars(&plain_vars, x)?;
                let (total, _) = evaluate(model, loss)?;
                let grads = total.backward()?;
                let v = total.to_dtype(DType::F64)?.to_scalar::<f64>()?;
                Ok((v, flat_grads(&plain_vars, &grads)?))
            };
            lbfgs.step(&mut x, &mut objective)?;
            set_vars(&plain_vars, &x)?;
        }
        let (total, leaves) = evaluate(model, loss)?;
        let total_v = total.to_dtype(DType::F64)?.to_scalar::<f64>()?;
        for (name, leaf) in leaf_names.iter().zip(&leaves) {
            let v = leaf.to_dtype(DType::F64)?.to_scalar::<f64>()?;
            loss_log.entry(name.clone()).or_default().push(v);
        }
        train_loss.push(total_v);
        if total_v < plateau.best {
            best_step = step;
            best_params = model.snapshot()?;
        }
        stop = plateau.update(total_v, opts.tol, opts.patience);
        if opts.optimizer == Optimizer::Adam {
            let grads = total.backward()?;
            let lr_now = opts.lr * 0.1f64.powi((step / 2000) as i32);
            adam.step(&grads, lr_now)?;
        }
        step += 1;
        on_step(step, total_v);
        if let Some(dir) = &opts.train_dir {
            if step % opts.checkpoint_every == 0 || stop || step == opts.max_steps {
                let ck = Checkpoint {
                    step,
                    params: model.snapshot()?,
                    moments: adam.export(&names)?,
                    train_loss: train_loss.clone(),
                    loss_log: loss_log.clone(),
                    plateau,
                    best_step,
                    best_params: best_params.clone(),
                };
                let path = checkpoint_path(dir);
                std::fs::write(&path, serde_json::to_string(&ck)?)
                    .with_context(|| format!("writing {}", path.display()))?;
            }
        }
    }
    let ran = step - start;
    let ms = if ran > 0 {
        t0.elapsed().as_secs_f64() * 1e3 / ran as f64
    } else {
        0.0
    };
    let steps_run = train_loss.len();
    let best_loss = train_loss.get(best_step).copied().unwrap_or(f64::NAN);
    let last = train_loss.last().copied().unwrap_or(f64::NAN);
    let final_loss = if opts.optimizer == Optimizer::Adam && ran > 0 {
        // Adam logged each step before its update: evaluate the last update once.
        let (total, _) = evaluate(model, loss)?;
        total.to_dtype(DType::F64)?.to_scalar::<f64>()?
    } else {
        last
    };
    let exported_loss = if opts.restore_best && !train_loss.is_empty() {
        if final_loss < best_loss {
            final_loss
        } else {
            model.restore(&best_params)?;
            best_loss
        }
    } else {
        final_loss
    };
    Ok(TrainLog {
        steps_run,
        stopped_early: steps_run < opts.max_steps,
        train_loss,
        loss_log,
        ms_per_step: ms,
        best_step,
        best_loss,
        final_loss,
        exported_loss,
    })
}

/// [`train_fdn_with`] without a step callback.
pub fn train_fdn(model: &mut FdnModel, loss: &mut Loss, opts: &TrainOptions) -> Result<TrainLog> {
    train_fdn_with(model, loss, opts, &mut |_, _| {})
}
