//! Persisted plugin state: the preset (its JSON travels with the project, so a moved file still
//! reopens with the same sound), its original path, the reference-IR path, the SOFA path and the
//! room IR a fitted preset came from.

use crossbeam_channel::Sender;
use nice_plug::params::persist::PersistentField;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};

/// What a saved project stores besides the parameters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PersistedPreset {
    /// Path the preset was loaded from (informational; the JSON below is authoritative).
    pub path: Option<String>,
    /// Full preset document (JSON text); `None` plays the built-in default.
    pub json: Option<String>,
    /// Factory-bank entry name when the preset came from the bank.
    pub factory: Option<String>,
    /// Path of the reference impulse response (WAV): the A/B convolution and the editor's
    /// comparison.
    pub reference_path: Option<String>,
    /// Path of the SOFA file used for binaural output (`None` = built-in KEMAR).
    #[serde(default)]
    pub sofa_path: Option<String>,
    /// The room IR (WAV) the preset was fitted from in the plugin. A state that names one but
    /// holds no preset JSON has the plugin fit it; once fitted, the JSON above is what plays.
    #[serde(default)]
    pub room_ir: Option<String>,
}

/// Thread-safe holder of [`PersistedPreset`]; every host state load bumps a generation counter
/// and notifies the loader thread (never touched by the audio thread).
#[derive(Debug, Default)]
pub struct PresetSlot {
    value: RwLock<PersistedPreset>,
    generation: AtomicU64,
    notify: Mutex<Option<Sender<()>>>,
}

impl PresetSlot {
    /// A copy of the stored value.
    pub fn get(&self) -> PersistedPreset {
        self.value.read().map(|v| v.clone()).unwrap_or_default()
    }

    /// Replaces the stored value without notifying the loader (used by the loader itself).
    pub fn store(&self, new_value: PersistedPreset) {
        if let Ok(mut v) = self.value.write() {
            *v = new_value;
        }
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// Number of updates so far (state loads and loader stores).
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Registers the channel that [`PersistentField::set`] pings after a host state load.
    pub fn set_notifier(&self, tx: Sender<()>) {
        if let Ok(mut n) = self.notify.lock() {
            *n = Some(tx);
        }
    }
}

impl<'a> PersistentField<'a, PersistedPreset> for PresetSlot {
    fn set(&self, new_value: PersistedPreset) {
        self.store(new_value);
        if let Ok(n) = self.notify.lock() {
            if let Some(tx) = n.as_ref() {
                let _ = tx.try_send(());
            }
        }
    }

    fn map<F, R>(&self, f: F) -> R
    where
        F: Fn(&PersistedPreset) -> R,
    {
        match self.value.read() {
            Ok(v) => f(&v),
            Err(_) => f(&PersistedPreset::default()),
        }
    }
}

impl<'a> PersistentField<'a, PersistedPreset> for std::sync::Arc<PresetSlot> {
    fn set(&self, new_value: PersistedPreset) {
        PersistentField::set(self.as_ref(), new_value);
    }

    fn map<F, R>(&self, f: F) -> R
    where
        F: Fn(&PersistedPreset) -> R,
    {
        PersistentField::map(self.as_ref(), f)
    }
}
