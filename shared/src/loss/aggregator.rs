//! drdmannturb 1.0.3 `LossAggregator` / `LossParameters`: the spectra-fitting loss (log-MSE,
//! curvature penalties on a log-spaced k1 grid, NN weight regularisation), with every term
//! logged per step to TensorBoard event files (losses.md §3).

use super::tensorboard::{EventFileError, EventWriter};
use super::torch_ops;
use candle_core::{DType, Tensor, D};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// TensorBoard tag of [`LossAggregator::mse_term`].
pub const TAG_MSE: &str = "MSE Loss";
/// TensorBoard tag of [`LossAggregator::pen1st_order`].
pub const TAG_PEN1: &str = "1st Order Penalty";
/// TensorBoard tag of [`LossAggregator::pen2nd_order`].
pub const TAG_PEN2: &str = "2nd Order Penalty";
/// TensorBoard tag of [`LossAggregator::regularization`].
pub const TAG_REG: &str = "Regularization";
/// TensorBoard tag of [`LossAggregator::eval`]'s total.
pub const TAG_TOTAL: &str = "Total Loss";

/// Loss weights (drdmannturb `LossParameters`); all zero ⇒ the loss is the MSE term alone.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct LossParameters {
    /// Weight of the first-order (slope) penalty (dimensionless; 0 disables it).
    pub alpha_pen1: f64,
    /// Weight of the second-order (curvature) penalty (dimensionless; 0 disables it).
    pub alpha_pen2: f64,
    /// Weight of the NN-parameter regularisation (dimensionless; 0 disables it).
    pub beta_reg: f64,
}

/// Errors of [`LossAggregator`].
#[derive(Debug, thiserror::Error)]
pub enum AggregatorError {
    /// Regularisation enabled without NN parameters.
    #[error(
        "Regularization loss requires a neural network model to be used. Set the regularization \
         hyperparameter (beta_reg) to 0 if using a non-neural network model."
    )]
    RegularizationNeedsNetwork,
    /// `k1space` is not a 1-D tensor.
    #[error("k1space must be a 1-D tensor, got shape {0:?}")]
    BadGrid(Vec<usize>),
    /// The spectra's last axis does not match the k1 grid.
    #[error("spectra have {got} points on their last axis but k1space has {want}")]
    GridMismatch {
        /// Last-axis length of the spectra.
        got: usize,
        /// Length of k1space.
        want: usize,
    },
    /// Writing the TensorBoard log failed.
    #[error(transparent)]
    EventFile(#[from] EventFileError),
    /// A tensor operation failed.
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
}

/// Every term of one [`LossAggregator::eval_terms`] call (each already weighted).
#[derive(Debug, Clone)]
pub struct LossTerms {
    /// Log-MSE term (always evaluated).
    pub mse: Tensor,
    /// First-order penalty, when `alpha_pen1 ≠ 0`.
    pub pen1: Option<Tensor>,
    /// Second-order penalty, when `alpha_pen2 ≠ 0`.
    pub pen2: Option<Tensor>,
    /// Regularisation, when `beta_reg ≠ 0`.
    pub reg: Option<Tensor>,
    /// MSE + pen1 + pen2 + reg.
    pub total: Tensor,
}

/// drdmannturb `LossAggregator`: evaluates and logs the spectra-fitting loss on a fixed k1 grid.
pub struct LossAggregator {
    /// Term weights, read at every call (changing them takes effect immediately).
    pub params: LossParameters,
    zref: f64,
    k1space: Tensor,
    h1: Tensor,
    h2: Tensor,
    writer: Mutex<Option<EventWriter>>,
}

impl std::fmt::Debug for LossAggregator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LossAggregator")
            .field("params", &self.params)
            .field("zref", &self.zref)
            .field("k1space", &self.k1space.dims())
            .field("log_file", &self.log_file())
            .finish()
    }
}

/// PyTorch's default `SummaryWriter` directory: `runs/<Mon><DD>_<HH>-<MM>-<SS>_<host><comment>`
/// (UTC here; PyTorch uses local time).
fn default_log_dir(comment: &str) -> PathBuf {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let days = (secs / 86_400) as i64;
    let sod = secs % 86_400;
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "localhost".to_string());
    PathBuf::from("runs").join(format!(
        "{}{:02}_{:02}-{:02}-{:02}_{host}{comment}",
        MONTHS[(month - 1) as usize],
        day,
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    ))
}

impl LossAggregator {
    /// drdmannturb's constructor: `k1space` is the 1-D wavenumber grid (1/m, ascending, not
    /// differentiated), `zref` the reference height (m). Opens a TensorBoard event file in
    /// `tb_log_dir` (created if missing), or, when `None`, in PyTorch's default
    /// `runs/<date>_<host><tb_comment>`; `tb_comment` is ignored when a directory is given, as in
    /// PyTorch.
    pub fn new(
        params: LossParameters,
        k1space: &Tensor,
        zref: f64,
        tb_log_dir: Option<&Path>,
        tb_comment: &str,
    ) -> Result<Self, AggregatorError> {
        let mut agg = Self::without_logging(params, k1space, zref)?;
        let dir = tb_log_dir.map_or_else(|| default_log_dir(tb_comment), Path::to_path_buf);
        agg.writer = Mutex::new(Some(EventWriter::create(&dir, "")?));
        Ok(agg)
    }

    /// Same loss without TensorBoard logging (what the golden-vector generator measured).
    pub fn without_logging(
        params: LossParameters,
        k1space: &Tensor,
        zref: f64,
    ) -> Result<Self, AggregatorError> {
        if k1space.rank() != 1 {
            return Err(AggregatorError::BadGrid(k1space.dims().to_vec()));
        }
        let k1space = k1space.detach();
        let logk1 = k1space.log()?;
        let l = logk1.dim(0)?;
        // h1 = diff(log k1); h2 = diff(0.5·(log k1[:-1] + log k1[1:])), as drdmannturb builds them.
        let h1 = diff_last(&logk1)?;
        let h2 = if l >= 2 {
            let mid = ((logk1.narrow(0, 0, l - 1)? + logk1.narrow(0, 1, l - 1)?)? * 0.5)?;
            diff_last(&mid)?
        } else {
            logk1.narrow(0, 0, 0)?
        };
        Ok(Self {
            params,
            zref,
            k1space,
            h1,
            h2,
            writer: Mutex::new(None),
        })
    }

    /// The k1 grid (1/m).
    pub fn k1space(&self) -> &Tensor {
        &self.k1space
    }

    /// Reference height zref (m).
    pub fn zref(&self) -> f64 {
        self.zref
    }

    /// Path of the TensorBoard event file, when logging.
    pub fn log_file(&self) -> Option<PathBuf> {
        let w = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        w.as_ref().map(|w| w.path().to_path_buf())
    }

    /// Flushes the TensorBoard event file (also done after every [`Self::eval`]).
    pub fn flush(&self) -> Result<(), AggregatorError> {
        let mut w = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(w) = w.as_mut() {
            w.flush()?;
        }
        Ok(())
    }

    fn log(&self, tag: &str, value: &Tensor, epoch: i64) -> Result<(), AggregatorError> {
        let mut w = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(w) = w.as_mut() {
            let v = value.to_dtype(DType::F64)?.to_scalar::<f64>()?;
            w.add_scalar(tag, v as f32, epoch)?;
        }
        Ok(())
    }

    fn check_grid(&self, y: &Tensor) -> Result<(), AggregatorError> {
        let want = self.h1.dim(0)? + 1;
        let got = y.dims().last().copied().unwrap_or(0);
        if got != want {
            return Err(AggregatorError::GridMismatch { got, want });
        }
        Ok(())
    }

    /// Log-MSE `mean((ln|y / y_data|)²)` over all curves and points (dimensionless); logged as
    /// "MSE Loss".
    pub fn mse_term(
        &self,
        y: &Tensor,
        y_data: &Tensor,
        epoch: i64,
    ) -> Result<Tensor, AggregatorError> {
        let ratio = y.div(y_data)?;
        let mse = torch_ops::abs(&ratio)?.log()?.sqr()?.mean_all()?;
        self.log(TAG_MSE, &mse, epoch)?;
        Ok(mse)
    }

    fn d1(&self, y: &Tensor) -> Result<Tensor, AggregatorError> {
        self.check_grid(y)?;
        let logy = torch_ops::abs(y)?.log()?;
        Ok(
            diff_last(&logy)?
                .broadcast_div(&self.h1.to_dtype(y.dtype())?.to_device(y.device())?)?,
        )
    }

    /// `alpha_pen1 · mean(ReLU(∂ln|y|/∂ln k1)²) / zref` (first differences on the grid); logged
    /// as "1st Order Penalty".
    pub fn pen1st_order(&self, y: &Tensor, epoch: i64) -> Result<Tensor, AggregatorError> {
        let d1 = self.d1(y)?;
        let m = d1.relu()?.sqr()?.mean_all()?;
        let pen = ((m * self.params.alpha_pen1)? / self.zref)?;
        self.log(TAG_PEN1, &pen, epoch)?;
        Ok(pen)
    }

    /// `alpha_pen2 · mean(ReLU(∂²ln|y|/∂(ln k1)²)²) / zref²` (non-uniform second differences);
    /// logged as "2nd Order Penalty".
    pub fn pen2nd_order(&self, y: &Tensor, epoch: i64) -> Result<Tensor, AggregatorError> {
        let d1 = self.d1(y)?;
        let d2 =
            diff_last(&d1)?.broadcast_div(&self.h2.to_dtype(y.dtype())?.to_device(y.device())?)?;
        let m = d2.relu()?.sqr()?.mean_all()?;
        let pen = ((m * self.params.alpha_pen2)? / self.zref.powi(2))?;
        self.log(TAG_PEN2, &pen, epoch)?;
        Ok(pen)
    }

    /// `beta_reg · mean(θ_NN²)` over the flattened NN parameters; logged as "Regularization".
    /// `None` is the typed error drdmannturb raises.
    pub fn regularization(
        &self,
        theta_nn: Option<&Tensor>,
        epoch: i64,
    ) -> Result<Tensor, AggregatorError> {
        let theta = theta_nn.ok_or(AggregatorError::RegularizationNeedsNetwork)?;
        let reg = (theta.sqr()?.mean_all()? * self.params.beta_reg)?;
        self.log(TAG_REG, &reg, epoch)?;
        Ok(reg)
    }

    /// Total loss `MSE + pen1 + pen2 + reg` (terms with a zero weight are skipped), logging each
    /// evaluated term and "Total Loss" at step `epoch`, then flushing the event file.
    pub fn eval(
        &self,
        y: &Tensor,
        y_data: &Tensor,
        theta_nn: Option<&Tensor>,
        epoch: i64,
    ) -> Result<Tensor, AggregatorError> {
        Ok(self.eval_terms(y, y_data, theta_nn, epoch)?.total)
    }

    /// [`Self::eval`] returning every term.
    pub fn eval_terms(
        &self,
        y: &Tensor,
        y_data: &Tensor,
        theta_nn: Option<&Tensor>,
        epoch: i64,
    ) -> Result<LossTerms, AggregatorError> {
        let mse = self.mse_term(y, y_data, epoch)?;
        let p = self.params;
        let pen1 = (p.alpha_pen1 != 0.0)
            .then(|| self.pen1st_order(y, epoch))
            .transpose()?;
        let pen2 = (p.alpha_pen2 != 0.0)
            .then(|| self.pen2nd_order(y, epoch))
            .transpose()?;
        let reg = (p.beta_reg != 0.0)
            .then(|| self.regularization(theta_nn, epoch))
            .transpose()?;
        // drdmannturb: MSE + ((t1 + t2) + t3), a disabled term being the float 0.0.
        let rest = add_opt(add_opt(pen1.clone(), pen2.clone())?, reg.clone())?;
        let total = match rest {
            Some(r) => (&mse + r)?,
            None => mse.clone(),
        };
        self.log(TAG_TOTAL, &total, epoch)?;
        self.flush()?;
        Ok(LossTerms {
            mse,
            pen1,
            pen2,
            reg,
            total,
        })
    }
}

fn add_opt(a: Option<Tensor>, b: Option<Tensor>) -> candle_core::Result<Option<Tensor>> {
    Ok(match (a, b) {
        (Some(a), Some(b)) => Some((a + b)?),
        (a, None) => a,
        (None, b) => b,
    })
}

/// `x[..., 1:] − x[..., :-1]` along the last axis (empty for length < 2).
fn diff_last(x: &Tensor) -> candle_core::Result<Tensor> {
    let n = x.dim(D::Minus1)?;
    let m = n.saturating_sub(1);
    let hi = x.narrow(D::Minus1, n - m, m)?;
    let lo = x.narrow(D::Minus1, 0, m)?;
    hi - lo
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loss::tensorboard::{event_files, read_events};
    use candle_core::{Device, Var};

    fn t(v: &[f64], shape: &[usize]) -> Tensor {
        Tensor::from_slice(v, shape, &Device::Cpu).unwrap()
    }

    fn scalar(x: &Tensor) -> f64 {
        x.to_scalar::<f64>().unwrap()
    }

    /// k1 = e^0, e^1, e^3: h1 = [1, 2], h2 = [1.5].
    fn grid() -> Tensor {
        t(&[1.0, 1f64.exp(), 3f64.exp()], &[3])
    }

    #[test]
    fn terms_by_hand() {
        let params = LossParameters {
            alpha_pen1: 2.0,
            alpha_pen2: 3.0,
            beta_reg: 0.5,
        };
        let agg = LossAggregator::without_logging(params, &grid(), 2.0).unwrap();
        // ln|y| = [0, 2, 3] and [0, -1, -1] (second curve negative: sign dropped).
        let e = |x: f64| x.exp();
        let y = t(&[1.0, e(2.0), e(3.0), -1.0, -e(-1.0), -e(-1.0)], &[2, 3]);
        // d1 = [2, 0.5] and [-1, 0]; relu² mean = (4 + 0.25)/4.
        let p1 = agg.pen1st_order(&y, 0).unwrap();
        assert!((scalar(&p1) - 2.0 * (4.25 / 4.0) / 2.0).abs() < 1e-14);
        // d2 = [(0.5 − 2)/1.5, (0 + 1)/1.5] → relu² mean = (1/1.5)²/2.
        let p2 = agg.pen2nd_order(&y, 0).unwrap();
        assert!((scalar(&p2) - 3.0 * ((1.0 / 1.5f64).powi(2) / 2.0) / 4.0).abs() < 1e-14);
        // MSE against y_data = y·e: every log-ratio is −1.
        let yd = (&y * 1f64.exp()).unwrap();
        assert!((scalar(&agg.mse_term(&y, &yd, 0).unwrap()) - 1.0).abs() < 1e-14);
        let theta = t(&[1.0, -3.0], &[2]);
        assert!((scalar(&agg.regularization(Some(&theta), 0).unwrap()) - 2.5).abs() < 1e-15);
        let terms = agg.eval_terms(&y, &yd, Some(&theta), 0).unwrap();
        let sum = scalar(&terms.mse)
            + scalar(terms.pen1.as_ref().unwrap())
            + scalar(terms.pen2.as_ref().unwrap())
            + scalar(terms.reg.as_ref().unwrap());
        assert!((scalar(&terms.total) - sum).abs() < 1e-14);
    }

    #[test]
    fn disabled_terms_are_skipped_and_missing_network_is_an_error() {
        let agg = LossAggregator::without_logging(LossParameters::default(), &grid(), 1.0).unwrap();
        let y = t(&[1.0, 2.0, 3.0], &[1, 3]);
        let terms = agg.eval_terms(&y, &y, None, 0).unwrap();
        assert!(terms.pen1.is_none() && terms.pen2.is_none() && terms.reg.is_none());
        assert_eq!(scalar(&terms.total), 0.0);
        let mut agg = agg;
        agg.params.beta_reg = 0.1;
        let err = agg.eval(&y, &y, None, 0).unwrap_err();
        assert!(matches!(err, AggregatorError::RegularizationNeedsNetwork));
        assert!(err
            .to_string()
            .starts_with("Regularization loss requires a neural network model"));
        let short = t(&[1.0, 2.0], &[1, 2]);
        assert!(matches!(
            agg.pen1st_order(&short, 0),
            Err(AggregatorError::GridMismatch { got: 2, want: 3 })
        ));
    }

    #[test]
    fn penalty_gradient_is_finite_and_zero_for_decreasing_curves() {
        let agg = LossAggregator::without_logging(
            LossParameters {
                alpha_pen1: 1.0,
                ..Default::default()
            },
            &grid(),
            1.0,
        )
        .unwrap();
        let y = Var::from_tensor(&t(&[3.0, 2.0, 1.0], &[1, 3])).unwrap();
        let p = agg.pen1st_order(y.as_tensor(), 0).unwrap();
        assert_eq!(scalar(&p), 0.0);
        let g = p.backward().unwrap();
        let g = g
            .get(&y)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f64>()
            .unwrap();
        assert_eq!(g, vec![0.0, 0.0, 0.0]);
    }

    /// Writes 3 steps through the aggregator and reads the event file back.
    #[test]
    fn tensorboard_log_has_every_term_per_step() {
        let dir = std::env::temp_dir().join(format!("tailor-agg-tb-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let params = LossParameters {
            alpha_pen1: 1.0,
            alpha_pen2: 0.5,
            beta_reg: 0.01,
        };
        let k1: Vec<f64> = (0..8)
            .map(|i| 10f64.powf(-1.0 + 3.0 * i as f64 / 7.0) / 40.0)
            .collect();
        let k1 = t(&k1, &[8]);
        let agg = LossAggregator::new(params, &k1, 40.0, Some(&dir), "ignored").unwrap();
        let theta = t(&[0.3, -0.2, 0.1], &[3]);
        let mut expected = Vec::new();
        for step in 0..3i64 {
            let s = step as f64;
            let y: Vec<f64> = (0..32)
                .map(|i| 1.0 + 0.1 * s + (i as f64 * 0.7).sin().abs())
                .collect();
            let yd: Vec<f64> = (0..32)
                .map(|i| 1.0 + (i as f64 * 0.3).cos().abs())
                .collect();
            let terms = agg
                .eval_terms(&t(&y, &[4, 8]), &t(&yd, &[4, 8]), Some(&theta), step)
                .unwrap();
            for (tag, v) in [
                (TAG_MSE, Some(&terms.mse)),
                (TAG_PEN1, terms.pen1.as_ref()),
                (TAG_PEN2, terms.pen2.as_ref()),
                (TAG_REG, terms.reg.as_ref()),
                (TAG_TOTAL, Some(&terms.total)),
            ] {
                expected.push((step, tag.to_string(), scalar(v.unwrap()) as f32));
            }
        }
        let files = event_files(&dir).unwrap();
        assert_eq!(files.len(), 1);
        assert_eq!(agg.log_file().as_deref(), Some(files[0].as_path()));
        let events = read_events(&files[0]).unwrap();
        assert_eq!(events[0].file_version.as_deref(), Some("brain.Event:2"));
        let got: Vec<(i64, String, f32)> = events[1..]
            .iter()
            .flat_map(|e| e.scalars.iter().map(move |(t, v)| (e.step, t.clone(), *v)))
            .collect();
        assert_eq!(got.len(), 15);
        assert_eq!(got, expected);
        assert!(events[1..].iter().all(|e| e.wall_time > 1.6e9));
        drop(agg);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
