//! `tailor ab run`: live ABX playback through cpal with keyboard control in the terminal.
//!
//! The audio callback owns the [`Player`]; the terminal thread sends it events and new trials
//! over lock-free channels and receives old trial audio back for dropping, so the callback never
//! blocks or frees. Answers go straight to the results CSV (synced) when they are given.

use super::player::{Event, Player, Source, TrialAudio};
use super::session::{append_answer, Answer, Session};
use anyhow::{anyhow, bail, Context, Result};
use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use crossterm::event::{self, Event as TermEvent, KeyCode, KeyEventKind};
use std::io::Write;
use std::path::Path;
use std::time::Duration;

/// Names of every output device cpal lists on the default host.
pub fn list_devices() -> Result<Vec<String>> {
    let host = cpal::default_host();
    let devices = host.output_devices().context("listing output devices")?;
    Ok(devices.map(|d| device_name(&d)).collect())
}

fn device_name(d: &cpal::Device) -> String {
    d.description()
        .map(|x| x.name().to_string())
        .unwrap_or_else(|_| d.to_string())
}

/// Loads trial `index` (0-based) of a session as f32 audio at `rate` Hz.
pub fn load_trial(dir: &Path, session: &Session, index: usize, rate: f64) -> Result<TrialAudio> {
    let t = &session.trials[index];
    let m = session
        .materials
        .iter()
        .find(|m| m.name == t.material)
        .ok_or_else(|| anyhow!("trial {} names unknown material {}", t.trial, t.material))?;
    let load = |name: &str| -> Result<Vec<Vec<f32>>> {
        let mut a = tailor::wav::read_wav(&dir.join(name))?;
        if (a.sample_rate - rate).abs() > 1e-9 {
            a.channels = tailor::resample::resample(&a.channels, a.sample_rate, rate)?;
        }
        Ok(a.channels
            .into_iter()
            .map(|c| c.into_iter().map(|v| v as f32).collect())
            .collect())
    };
    let audio = TrialAudio {
        sources: [load(&m.a)?, load(&m.b)?, load(&t.x)?],
    };
    audio
        .shape()
        .map_err(|e| anyhow!("trial {}: {e}", t.trial))?;
    Ok(audio)
}

/// Runs the session for `listener` on `device` (a name substring; default device if `None`).
pub fn run(dir: &Path, device: Option<&str>, listener: &str) -> Result<()> {
    let session = Session::load(dir)?;
    session.verify_stimuli(dir)?;
    let host = cpal::default_host();
    let dev = match device {
        Some(name) => host
            .output_devices()
            .context("listing output devices")?
            .find(|d| device_name(d).contains(name))
            .ok_or_else(|| {
                anyhow!("no output device matches '{name}' (see `tailor ab run --list`)")
            })?,
        None => host
            .default_output_device()
            .ok_or_else(|| anyhow!("no default output device"))?,
    };
    let supported = dev
        .default_output_config()
        .context("querying the output device")?;
    if supported.sample_format() != cpal::SampleFormat::F32 {
        bail!(
            "output device '{}' wants {:?} samples; only f32 devices are supported",
            device_name(&dev),
            supported.sample_format()
        );
    }
    let config = supported.config();
    let rate = f64::from(config.sample_rate);
    let out_ch = usize::from(config.channels);
    let fade = (0.010 * rate).round() as usize;
    let mut player =
        Player::new(load_trial(dir, &session, 0, rate)?, fade).map_err(|e| anyhow!(e))?;
    let (ev_tx, ev_rx) = crossbeam_channel::bounded::<Event>(64);
    let (trial_tx, trial_rx) = crossbeam_channel::bounded::<TrialAudio>(1);
    let (old_tx, old_rx) = crossbeam_channel::bounded::<TrialAudio>(2);
    let stream = dev
        .build_output_stream(
            config,
            move |data: &mut [f32], _| {
                while let Ok(e) = ev_rx.try_recv() {
                    player.handle(e);
                }
                if let Ok(t) = trial_rx.try_recv() {
                    if let Ok(old) = player.load(t) {
                        let _ = old_tx.try_send(old);
                    }
                }
                player.render(data, out_ch);
            },
            |e| eprintln!("audio error: {e}"),
            None,
        )
        .context("opening the output stream")?;
    stream.play().context("starting playback")?;
    crossterm::terminal::enable_raw_mode().context("terminal raw mode")?;
    let result = key_loop(dir, &session, listener, rate, &ev_tx, &trial_tx, &old_rx);
    let _ = crossterm::terminal::disable_raw_mode();
    println!();
    result
}

fn key_loop(
    dir: &Path,
    session: &Session,
    listener: &str,
    rate: f64,
    ev_tx: &crossbeam_channel::Sender<Event>,
    trial_tx: &crossbeam_channel::Sender<TrialAudio>,
    old_rx: &crossbeam_channel::Receiver<TrialAudio>,
) -> Result<()> {
    let mut trial = 0;
    let status = |trial: usize| {
        print!("\r\x1b[2Ktrial {}/{} ({}): [a] A  [b] B  [x] X  [space] play/pause  [l] loop  [r] restart  [1] X=A  [2] X=B  [n] skip  [q] quit", trial + 1, session.trials.len(), session.trials[trial].material);
        let _ = std::io::stdout().flush();
    };
    status(trial);
    let _ = ev_tx.send(Event::TogglePlay);
    loop {
        while old_rx.try_recv().is_ok() {}
        if !event::poll(Duration::from_millis(50))? {
            continue;
        }
        let TermEvent::Key(k) = event::read()? else {
            continue;
        };
        if k.kind != KeyEventKind::Press {
            continue;
        }
        let mut next = false;
        match k.code {
            KeyCode::Char('a') => ev_tx.send(Event::Select(Source::A))?,
            KeyCode::Char('b') => ev_tx.send(Event::Select(Source::B))?,
            KeyCode::Char('x') => ev_tx.send(Event::Select(Source::X))?,
            KeyCode::Char(' ') => ev_tx.send(Event::TogglePlay)?,
            KeyCode::Char('l') => ev_tx.send(Event::ToggleLoop)?,
            KeyCode::Char('r') => ev_tx.send(Event::Restart)?,
            KeyCode::Char(c @ ('1' | '2')) => {
                let answer = if c == '1' { "A" } else { "B" };
                let unix_ms = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis());
                append_answer(
                    dir,
                    &Answer {
                        listener: listener.to_string(),
                        trial: trial + 1,
                        answer: answer.into(),
                        unix_ms,
                    },
                )?;
                next = true;
            }
            KeyCode::Char('n') => next = true,
            KeyCode::Char('q') | KeyCode::Esc => return Ok(()),
            _ => {}
        }
        if next {
            trial += 1;
            if trial >= session.trials.len() {
                print!(
                    "\r\x1b[2Ksession complete: answers are in {}",
                    dir.join(super::session::RESULTS_FILE).display()
                );
                return Ok(());
            }
            trial_tx.send(load_trial(dir, session, trial, rate)?)?;
            ev_tx.send(Event::Select(Source::A))?;
            status(trial);
        }
    }
}
