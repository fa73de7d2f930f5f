//! Finite-difference and reference checks of the differentiable FDN pieces (f64, and the f32
//! kernel against f64 finite differences at f32 tolerances).

use super::*;
use crate::preset::{Build, BuildParts};
use crate::response::{frequency_response, impulse_response_fft};
use crate::sos::SosBank;
use crate::Matrix;
use candle_core::{DType, Device, Tensor, Var};
use num_complex::Complex64 as C64;

/// Deterministic pseudo-random values in (−1, 1).
pub(crate) fn noise(len: usize, seed: u64) -> Vec<f64> {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
        })
        .collect()
}

fn t(data: Vec<f64>, shape: &[usize]) -> Tensor {
    Tensor::from_vec(data, shape, &Device::Cpu).unwrap()
}

/// A smooth nonlinear scalar of y with fixed pseudo-random weights.
fn scalar(y: &Tensor) -> candle_core::Result<Tensor> {
    let n = y.elem_count();
    let w1 = Tensor::from_vec(noise(n, 91), y.shape(), y.device())?.to_dtype(y.dtype())?;
    let w2 = Tensor::from_vec(noise(n, 92), y.shape(), y.device())?.to_dtype(y.dtype())?;
    y.mul(&w1)?.sum_all()? + y.sqr()?.mul(&w2)?.sum_all()?
}

/// max |analytic − central difference| / max |central difference| for one input of `f`.
fn fd_error(inputs: &[Tensor], which: usize, f: &dyn Fn(&[Tensor]) -> Tensor) -> f64 {
    let vars: Vec<Var> = inputs
        .iter()
        .map(|x| Var::from_tensor(x).unwrap())
        .collect();
    let ts: Vec<Tensor> = vars.iter().map(|v| v.as_tensor().clone()).collect();
    let grads = f(&ts).backward().unwrap();
    let g = grads
        .get(vars[which].as_tensor())
        .expect("gradient reaches the input")
        .flatten_all()
        .unwrap()
        .to_vec1::<f64>()
        .unwrap();
    let x0 = inputs[which]
        .flatten_all()
        .unwrap()
        .to_vec1::<f64>()
        .unwrap();
    let shape = inputs[which].dims().to_vec();
    let h = 1e-6;
    let (mut err, mut scale) = (0.0f64, 0.0f64);
    for i in 0..x0.len() {
        let eval = |d: f64| {
            let mut x = x0.clone();
            x[i] += d;
            let mut ins = inputs.to_vec();
            ins[which] = t(x, &shape);
            f(&ins).to_scalar::<f64>().unwrap()
        };
        let fd = (eval(h) - eval(-h)) / (2.0 * h);
        err = err.max((fd - g[i]).abs());
        scale = scale.max(fd.abs());
    }
    assert!(scale > 0.0, "input {which} does not affect the output");
    err / scale
}

struct Setup {
    delays: Vec<usize>,
    a: Tensor,
    b: Tensor,
    c: Tensor,
    d: Tensor,
    post_matrix: SosBank,
    post_delay: SosBank,
    post_output: SosBank,
}

fn setup() -> Setup {
    let n = 3;
    let a: Vec<f64> = noise(n * n, 1).iter().map(|v| 0.6 * v).collect();
    Setup {
        delays: vec![3, 5, 7],
        a: t(a, &[n, n]),
        b: t(noise(n * 2, 2), &[n, 2]),
        c: t(noise(2 * n, 3), &[2, n]),
        d: t(noise(4, 4), &[2, 2]),
        post_matrix: SosBank::from_single_sections(&[
            [0.9, 0.05, 0.0, 1.0, -0.1, 0.0],
            [0.8, 0.0, 0.0, 1.0, 0.2, 0.0],
            [0.95, 0.01, 0.02, 1.0, 0.1, 0.05],
        ])
        .unwrap(),
        post_delay: SosBank::from_single_sections(&[
            [0.9, 0.02, 0.0, 1.0, -0.2, 0.0],
            [0.7, -0.1, 0.0, 1.0, 0.1, 0.0],
            [0.85, 0.0, 0.0, 1.0, 0.0, 0.0],
        ])
        .unwrap(),
        post_output: SosBank::from_single_sections(&[
            [1.1, 0.3, 0.1, 1.0, -0.3, 0.1],
            [0.9, -0.2, 0.0, 1.0, 0.25, 0.0],
        ])
        .unwrap(),
    }
}

const NFFT: usize = 32;
const ALIAS: f64 = 6.0;

fn sos_tensor(bank: &SosBank) -> Tensor {
    let data: Vec<f64> = bank.to_nested().into_iter().flatten().flatten().collect();
    t(data, &[bank.sections(), 6, bank.channels()])
}

#[test]
fn time_and_freq_outputs_match_the_f64_reference_response() {
    let s = setup();
    let m = |x: &Tensor| {
        let (r, c) = x.dims2().unwrap();
        Matrix::from_row_major(r, c, x.flatten_all().unwrap().to_vec1::<f64>().unwrap()).unwrap()
    };
    let build = Build::new(BuildParts {
        a: m(&s.a),
        b: m(&s.b),
        c: m(&s.c),
        d: m(&s.d),
        delays: s.delays.clone(),
        sample_rate: 48000.0,
        post_delay: Some(s.post_delay.clone()),
        post_matrix: Some(s.post_matrix.clone()),
        post_output: Some(s.post_output.clone()),
        output_mix: None,
        metadata: Default::default(),
    })
    .unwrap();
    let reference = frequency_response(&build, NFFT, ALIAS);
    let ir = impulse_response_fft(&reference);
    for (frozen, output) in [(true, FdnOutput::Time), (false, FdnOutput::Freq)] {
        let spec = FdnSpec {
            delays: s.delays.clone(),
            n_in: 2,
            n_out: 2,
            nfft: NFFT,
            alias_decay_db: ALIAS,
            post_delay: if frozen {
                Hook::Frozen(s.post_delay.clone())
            } else {
                Hook::Trainable
            },
            post_matrix: Some(s.post_matrix.clone()),
            post_output: if frozen {
                Hook::Frozen(s.post_output.clone())
            } else {
                Hook::Trainable
            },
            output,
        };
        let op = FdnResponse::new(&spec).unwrap();
        let sos = SosResponse::new(NFFT, ALIAS);
        let pd = sos.forward(&sos_tensor(&s.post_delay)).unwrap();
        let po = sos.forward(&sos_tensor(&s.post_output)).unwrap();
        let y = op
            .forward(&FdnInputs {
                a: &s.a,
                b: &s.b,
                c: &s.c,
                d: &s.d,
                post_delay: (!frozen).then_some(&pd),
                post_output: (!frozen).then_some(&po),
            })
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f64>()
            .unwrap();
        let want: Vec<f64> = match output {
            FdnOutput::Time => ir.data.clone(),
            FdnOutput::Freq => reference
                .data
                .iter()
                .map(|z| z.re)
                .chain(reference.data.iter().map(|z| z.im))
                .collect(),
        };
        assert_eq!(y.len(), want.len());
        let scale = want.iter().fold(0.0f64, |a, v| a.max(v.abs()));
        let err = y
            .iter()
            .zip(&want)
            .fold(0.0f64, |a, (p, q)| a.max((p - q).abs()));
        assert!(err <= 1e-12 * scale, "{output:?}: max error {err}");
    }
}

#[test]
fn gradients_match_finite_differences_for_a_b_c_d_and_hooks() {
    let s = setup();
    let sos = SosResponse::new(NFFT, ALIAS);
    for output in [FdnOutput::Time, FdnOutput::Freq] {
        let spec = FdnSpec {
            delays: s.delays.clone(),
            n_in: 2,
            n_out: 2,
            nfft: NFFT,
            alias_decay_db: ALIAS,
            post_delay: Hook::Trainable,
            post_matrix: Some(s.post_matrix.clone()),
            post_output: Hook::Trainable,
            output,
        };
        let op = FdnResponse::new(&spec).unwrap();
        // Inputs: A, B, C, D, post_delay SOS coefficients, post_output SOS coefficients; the
        // hook responses come from the SOS op, so the chain op → SOS op is checked too.
        let inputs = vec![
            s.a.clone(),
            s.b.clone(),
            s.c.clone(),
            s.d.clone(),
            sos_tensor(&s.post_delay),
            sos_tensor(&s.post_output),
        ];
        let f = |x: &[Tensor]| {
            let pd = sos.forward(&x[4]).unwrap();
            let po = sos.forward(&x[5]).unwrap();
            let y = op
                .forward(&FdnInputs {
                    a: &x[0],
                    b: &x[1],
                    c: &x[2],
                    d: &x[3],
                    post_delay: Some(&pd),
                    post_output: Some(&po),
                })
                .unwrap();
            scalar(&y).unwrap()
        };
        for (which, name) in ["A", "B", "C", "D", "post_delay sos", "post_output sos"]
            .iter()
            .enumerate()
        {
            let e = fd_error(&inputs, which, &f);
            assert!(e <= 1e-6, "{output:?} {name}: relative error {e}");
        }
    }
}

#[test]
fn hook_response_gradients_match_finite_differences() {
    // Direct (2, bins, N) response inputs, imaginary parts included.
    let s = setup();
    let bins = NFFT / 2 + 1;
    let spec = FdnSpec {
        delays: s.delays.clone(),
        n_in: 2,
        n_out: 2,
        nfft: NFFT,
        alias_decay_db: ALIAS,
        post_delay: Hook::Trainable,
        post_matrix: None,
        post_output: Hook::Trainable,
        output: FdnOutput::Time,
    };
    let op = FdnResponse::new(&spec).unwrap();
    let pd: Vec<f64> = noise(2 * bins * 3, 7).iter().map(|v| 0.5 * v).collect();
    let inputs = vec![
        t(pd, &[2, bins, 3]),
        t(noise(2 * bins * 2, 8), &[2, bins, 2]),
    ];
    let f = |x: &[Tensor]| {
        let y = op
            .forward(&FdnInputs {
                a: &s.a,
                b: &s.b,
                c: &s.c,
                d: &s.d,
                post_delay: Some(&x[0]),
                post_output: Some(&x[1]),
            })
            .unwrap();
        scalar(&y).unwrap()
    };
    for which in 0..2 {
        let e = fd_error(&inputs, which, &f);
        assert!(e <= 1e-6, "hook {which}: relative error {e}");
    }
}

#[test]
fn f32_inputs_give_f32_outputs_and_shape_errors_are_reported() {
    let s = setup();
    let spec = FdnSpec {
        delays: s.delays.clone(),
        n_in: 2,
        n_out: 2,
        nfft: NFFT,
        alias_decay_db: 0.0,
        post_delay: Hook::None,
        post_matrix: None,
        post_output: Hook::None,
        output: FdnOutput::Time,
    };
    let op = FdnResponse::new(&spec).unwrap();
    let f32s = |x: &Tensor| x.to_dtype(DType::F32).unwrap();
    let y = op
        .forward(&FdnInputs {
            a: &f32s(&s.a),
            b: &f32s(&s.b),
            c: &f32s(&s.c),
            d: &f32s(&s.d),
            post_delay: None,
            post_output: None,
        })
        .unwrap();
    assert_eq!(y.dtype(), DType::F32);
    assert_eq!(y.dims(), &[NFFT, 2, 2]);
    let err = op
        .forward(&FdnInputs {
            a: &s.b,
            b: &s.b,
            c: &s.c,
            d: &s.d,
            post_delay: None,
            post_output: None,
        })
        .unwrap_err();
    assert!(err.to_string().contains("feedback matrix A"), "{err}");
    assert!(FdnResponse::new(&FdnSpec { nfft: 31, ..spec }).is_err());
}

/// A matrix whose unpivoted LU meets a zero pivot at DC (M₀₀ = 1 − a₀₀ = 0 on the unit circle):
/// those bins take the kernel's partial-pivoting fallback, the others the SIMD path; both must
/// equal the f64 reference response, and gradients must still match finite differences.
#[test]
fn bins_with_a_zero_unpivoted_pivot_fall_back_to_partial_pivoting() {
    let n = 3;
    let a = vec![1.0, 0.5, 0.2, 0.3, 0.1, 0.4, 0.2, 0.6, 0.1];
    let (b, c, d) = (noise(n, 11), noise(n, 12), vec![0.25]);
    let delays = vec![1, 2, 3];
    let nfft = 64;
    let build = Build::new(BuildParts {
        a: Matrix::from_row_major(n, n, a.clone()).unwrap(),
        b: Matrix::from_row_major(n, 1, b.clone()).unwrap(),
        c: Matrix::from_row_major(1, n, c.clone()).unwrap(),
        d: Matrix::from_row_major(1, 1, d.clone()).unwrap(),
        delays: delays.clone(),
        sample_rate: 48000.0,
        post_delay: None,
        post_matrix: None,
        post_output: None,
        output_mix: None,
        metadata: Default::default(),
    })
    .unwrap();
    let reference = frequency_response(&build, nfft, 0.0);
    let op = FdnResponse::new(&FdnSpec {
        delays,
        n_in: 1,
        n_out: 1,
        nfft,
        alias_decay_db: 0.0,
        post_delay: Hook::None,
        post_matrix: None,
        post_output: Hook::None,
        output: FdnOutput::Freq,
    })
    .unwrap();
    let inputs = vec![t(a, &[n, n]), t(b, &[n, 1]), t(c, &[1, n]), t(d, &[1, 1])];
    let f = |x: &[Tensor]| {
        op.forward(&FdnInputs {
            a: &x[0],
            b: &x[1],
            c: &x[2],
            d: &x[3],
            post_delay: None,
            post_output: None,
        })
        .unwrap()
    };
    let y = f(&inputs).flatten_all().unwrap().to_vec1::<f64>().unwrap();
    let bins = nfft / 2 + 1;
    let scale = reference.data.iter().fold(0.0f64, |m, z| m.max(z.norm()));
    for (k, z) in reference.data.iter().enumerate() {
        let got = C64::new(y[k], y[bins + k]);
        assert!(
            (got - z).norm() <= 1e-12 * scale,
            "bin {k}: {got} vs reference {z}"
        );
    }
    for which in 0..4 {
        let e = fd_error(&inputs, which, &|x| scalar(&f(x)).unwrap());
        assert!(e <= 1e-6, "input {which}: relative error {e}");
    }
}

/// N = 12 over 4097 bins (many SIMD groups, a partial last group) against the f64 reference.
#[test]
fn a_larger_network_matches_the_reference_across_many_groups() {
    let n = 12;
    use rand::SeedableRng;
    let q = crate::matrix::random_orthogonal(n, &mut rand_chacha::ChaCha8Rng::seed_from_u64(5));
    let delays: Vec<usize> = (0..n).map(|i| 31 + 7 * i).collect();
    let nfft = 8192;
    let (b, c) = (noise(n * 2, 21), noise(2 * n, 22));
    let d = noise(4, 23);
    let build = Build::new(BuildParts {
        a: q.clone(),
        b: Matrix::from_row_major(n, 2, b.clone()).unwrap(),
        c: Matrix::from_row_major(2, n, c.clone()).unwrap(),
        d: Matrix::from_row_major(2, 2, d.clone()).unwrap(),
        delays: delays.clone(),
        sample_rate: 48000.0,
        post_delay: None,
        post_matrix: None,
        post_output: None,
        output_mix: None,
        metadata: Default::default(),
    })
    .unwrap();
    let reference = impulse_response_fft(&frequency_response(&build, nfft, 40.0));
    let op = FdnResponse::new(&FdnSpec {
        delays,
        n_in: 2,
        n_out: 2,
        nfft,
        alias_decay_db: 40.0,
        post_delay: Hook::None,
        post_matrix: None,
        post_output: Hook::None,
        output: FdnOutput::Time,
    })
    .unwrap();
    let y = op
        .forward(&FdnInputs {
            a: &t(q.as_slice().to_vec(), &[n, n]),
            b: &t(b, &[n, 2]),
            c: &t(c, &[2, n]),
            d: &t(d, &[2, 2]),
            post_delay: None,
            post_output: None,
        })
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f64>()
        .unwrap();
    let scale = reference.data.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let err = y
        .iter()
        .zip(&reference.data)
        .fold(0.0f64, |m, (p, q)| m.max((p - q).abs()));
    assert!(err <= 1e-11 * scale, "max error {err} (scale {scale})");
}

/// SOS coefficients fed straight to the op ([`Hook::TrainableSos`]) give the same response as the
/// [`SosResponse`] tensors fed to [`Hook::Trainable`], and their gradients match finite
/// differences.
#[test]
fn sos_coefficient_hooks_equal_response_hooks_and_match_finite_differences() {
    let s = setup();
    let spec = |pd: Hook, po: Hook| FdnSpec {
        delays: s.delays.clone(),
        n_in: 2,
        n_out: 2,
        nfft: NFFT,
        alias_decay_db: ALIAS,
        post_delay: pd,
        post_matrix: Some(s.post_matrix.clone()),
        post_output: po,
        output: FdnOutput::Time,
    };
    let by_coef = FdnResponse::new(&spec(
        Hook::TrainableSos { sections: 1 },
        Hook::TrainableSos { sections: 1 },
    ))
    .unwrap();
    let by_resp = FdnResponse::new(&spec(Hook::Trainable, Hook::Trainable)).unwrap();
    let sos = SosResponse::new(NFFT, ALIAS);
    let (pd, po) = (sos_tensor(&s.post_delay), sos_tensor(&s.post_output));
    let run = |op: &FdnResponse, pd: &Tensor, po: &Tensor| {
        op.forward(&FdnInputs {
            a: &s.a,
            b: &s.b,
            c: &s.c,
            d: &s.d,
            post_delay: Some(pd),
            post_output: Some(po),
        })
        .unwrap()
    };
    let y1 = run(&by_coef, &pd, &po)
        .flatten_all()
        .unwrap()
        .to_vec1::<f64>()
        .unwrap();
    let y2 = run(
        &by_resp,
        &sos.forward(&pd).unwrap(),
        &sos.forward(&po).unwrap(),
    )
    .flatten_all()
    .unwrap()
    .to_vec1::<f64>()
    .unwrap();
    let scale = y2.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let err = y1
        .iter()
        .zip(&y2)
        .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
    assert!(err <= 1e-12 * scale, "max error {err}");
    let inputs = vec![pd, po];
    let f = |x: &[Tensor]| scalar(&run(&by_coef, &x[0], &x[1])).unwrap();
    for which in 0..2 {
        let e = fd_error(&inputs, which, &f);
        assert!(e <= 1e-6, "hook {which}: relative error {e}");
    }
    // A wrong coefficient shape is refused by name.
    let bad = Tensor::zeros((2, 6, 3), DType::F64, &Device::Cpu).unwrap();
    let e = by_coef
        .forward(&FdnInputs {
            a: &s.a,
            b: &s.b,
            c: &s.c,
            d: &s.d,
            post_delay: Some(&bad),
            post_output: Some(&inputs[1]),
        })
        .unwrap_err();
    assert!(e.to_string().contains("post_delay SOS"), "{e}");
}

/// Central differences (f64 evaluation) of `f` w.r.t. input `which`.
fn fd_grad(inputs: &[Tensor], which: usize, f: &dyn Fn(&[Tensor]) -> Tensor) -> Vec<f64> {
    let x0 = inputs[which]
        .flatten_all()
        .unwrap()
        .to_vec1::<f64>()
        .unwrap();
    let shape = inputs[which].dims().to_vec();
    let h = 1e-6;
    (0..x0.len())
        .map(|i| {
            let eval = |d: f64| {
                let mut x = x0.clone();
                x[i] += d;
                let mut ins = inputs.to_vec();
                ins[which] = t(x, &shape);
                f(&ins).to_scalar::<f64>().unwrap()
            };
            (eval(h) - eval(-h)) / (2.0 * h)
        })
        .collect()
}

/// The analytic gradient of `f` w.r.t. input `which` with every input cast to f32 (so the ops
/// compute in f32), as f64 values, and the f32 value of `f`.
fn grad_f32(inputs: &[Tensor], which: usize, f: &dyn Fn(&[Tensor]) -> Tensor) -> (Vec<f64>, f64) {
    let vars: Vec<Var> = inputs
        .iter()
        .map(|x| Var::from_tensor(&x.to_dtype(DType::F32).unwrap()).unwrap())
        .collect();
    let ts: Vec<Tensor> = vars.iter().map(|v| v.as_tensor().clone()).collect();
    let y = f(&ts);
    assert_eq!(y.dtype(), DType::F32);
    let g = y.backward().unwrap();
    let g = g.get(vars[which].as_tensor()).unwrap();
    assert_eq!(g.dtype(), DType::F32);
    let g = g
        .to_dtype(DType::F64)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f64>()
        .unwrap();
    (
        g,
        y.to_dtype(DType::F64).unwrap().to_scalar::<f64>().unwrap(),
    )
}

/// The f32 kernel (16 bins per SIMD group, SOS-coefficient and response hooks, time and
/// frequency outputs): its gradients match f64 central differences at f32 tolerance (1e-4 of the
/// largest), and its value the f64 value to 1e-5.
#[test]
fn f32_gradients_match_finite_differences_at_f32_tolerance() {
    let s = setup();
    let sos = SosResponse::new(NFFT, ALIAS);
    for (output, coef) in [(FdnOutput::Time, true), (FdnOutput::Freq, false)] {
        let hook = || {
            if coef {
                Hook::TrainableSos { sections: 1 }
            } else {
                Hook::Trainable
            }
        };
        let op = FdnResponse::with_dtype(
            &FdnSpec {
                delays: s.delays.clone(),
                n_in: 2,
                n_out: 2,
                nfft: NFFT,
                alias_decay_db: ALIAS,
                post_delay: hook(),
                post_matrix: Some(s.post_matrix.clone()),
                post_output: hook(),
                output,
            },
            DType::F32,
        )
        .unwrap();
        let inputs = vec![
            s.a.clone(),
            s.b.clone(),
            s.c.clone(),
            s.d.clone(),
            sos_tensor(&s.post_delay),
            sos_tensor(&s.post_output),
        ];
        let f = |x: &[Tensor]| {
            let resp = |h: &Tensor| {
                if coef {
                    h.clone()
                } else {
                    sos.forward(h).unwrap()
                }
            };
            let (pd, po) = (resp(&x[4]), resp(&x[5]));
            let y = op
                .forward(&FdnInputs {
                    a: &x[0],
                    b: &x[1],
                    c: &x[2],
                    d: &x[3],
                    post_delay: Some(&pd),
                    post_output: Some(&po),
                })
                .unwrap();
            scalar(&y).unwrap()
        };
        let want = f(&inputs).to_scalar::<f64>().unwrap();
        for (which, name) in ["A", "B", "C", "D", "post_delay", "post_output"]
            .iter()
            .enumerate()
        {
            let fd = fd_grad(&inputs, which, &f);
            let (g, value) = grad_f32(&inputs, which, &f);
            assert!(
                (value - want).abs() <= 1e-5 * want.abs(),
                "{output:?}: f32 value {value} vs f64 {want}"
            );
            let scale = fd.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            let err = fd
                .iter()
                .zip(&g)
                .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
            assert!(
                scale > 0.0 && err <= 1e-4 * scale,
                "{output:?} {name}: f32 gradient error {err} of {scale}"
            );
        }
    }
}

/// N = 12 over 4097 bins in f32 (256 full 16-lane groups and a partial one): the response
/// matches the f64 reference to f32 accuracy.
#[test]
fn f32_larger_network_matches_the_reference_across_many_groups() {
    let n = 12;
    use rand::SeedableRng;
    let q = crate::matrix::random_orthogonal(n, &mut rand_chacha::ChaCha8Rng::seed_from_u64(5));
    let delays: Vec<usize> = (0..n).map(|i| 31 + 7 * i).collect();
    let nfft = 8192;
    let (b, c, d) = (noise(n, 31), noise(n, 32), noise(1, 33));
    let build = Build::new(BuildParts {
        a: q.clone(),
        b: Matrix::from_row_major(n, 1, b.clone()).unwrap(),
        c: Matrix::from_row_major(1, n, c.clone()).unwrap(),
        d: Matrix::from_row_major(1, 1, d.clone()).unwrap(),
        delays: delays.clone(),
        sample_rate: 48000.0,
        post_delay: None,
        post_matrix: None,
        post_output: None,
        output_mix: None,
        metadata: Default::default(),
    })
    .unwrap();
    let reference = frequency_response(&build, nfft, 40.0);
    let op = FdnResponse::with_dtype(
        &FdnSpec {
            delays,
            n_in: 1,
            n_out: 1,
            nfft,
            alias_decay_db: 40.0,
            post_delay: Hook::None,
            post_matrix: None,
            post_output: Hook::None,
            output: FdnOutput::Freq,
        },
        DType::F32,
    )
    .unwrap();
    let f32s = |v: Vec<f64>, shape: &[usize]| t(v, shape).to_dtype(DType::F32).unwrap();
    let y = op
        .forward(&FdnInputs {
            a: &f32s(q.as_slice().to_vec(), &[n, n]),
            b: &f32s(b, &[n, 1]),
            c: &f32s(c, &[1, n]),
            d: &f32s(d, &[1, 1]),
            post_delay: None,
            post_output: None,
        })
        .unwrap();
    assert_eq!(y.dtype(), DType::F32);
    let y = y
        .to_dtype(DType::F64)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f64>()
        .unwrap();
    let bins = nfft / 2 + 1;
    let scale = reference.data.iter().fold(0.0f64, |m, z| m.max(z.norm()));
    for (k, z) in reference.data.iter().enumerate() {
        let got = C64::new(y[k], y[bins + k]);
        assert!(
            (got - z).norm() <= 2e-5 * scale,
            "bin {k}: {got} vs reference {z}"
        );
    }
}
