//! Preset swap: states are prepared off the audio thread, handed over through a bounded
//! (pre-allocated, lock-free on the fast path) `crossbeam-channel`, crossfaded in by the audio
//! thread, and the retired state is sent back through a second bounded channel so that it is
//! dropped by whoever calls [`SwapHandle::collect_retired`], never on the audio thread.
//!
//! Neither side blocks: the audio thread uses `try_recv`/`try_send` only, and the control side
//! should do the same (a thread parked in a blocking `recv` would make the audio thread's
//! `try_send` wake it, a syscall).

use super::state::{FdnState, StateConfig};
use super::EngineError;
use crate::preset::{Build, EarlyReflections, Preset};
use crossbeam_channel::{Receiver, Sender, TrySendError};

/// A state prepared for an engine, ready to be sent with [`SwapHandle::send`].
#[derive(Debug)]
pub struct PreparedState(pub(crate) Box<FdnState>);

impl PreparedState {
    /// Shortest delay / block cap of this state in samples.
    pub fn block_len(&self) -> usize {
        self.0.block_len()
    }
}

/// The control-thread side of an engine's swap channels (cheap to clone).
#[derive(Debug, Clone)]
pub struct SwapHandle {
    pub(crate) cfg: StateConfig,
    pub(crate) to_audio: Sender<Box<FdnState>>,
    pub(crate) from_audio: Receiver<Box<FdnState>>,
}

/// The audio-thread side: incoming states and the return path for retired ones.
#[derive(Debug)]
pub(crate) struct AudioSide {
    pub(crate) incoming: Receiver<Box<FdnState>>,
    pub(crate) retire: Sender<Box<FdnState>>,
    /// A retired state the return channel had no room for (kept, never dropped here).
    pub(crate) pending: Option<Box<FdnState>>,
}

/// Creates both sides; `queue` states may wait for the audio thread, `queue + 2` retired ones
/// for collection.
pub(crate) fn channels(cfg: StateConfig, queue: usize) -> (SwapHandle, AudioSide) {
    let (to_audio, incoming) = crossbeam_channel::bounded(queue.max(1));
    let (retire, from_audio) = crossbeam_channel::bounded(queue.max(1) + 2);
    (
        SwapHandle {
            cfg,
            to_audio,
            from_audio,
        },
        AudioSide {
            incoming,
            retire,
            pending: None,
        },
    )
}

impl SwapHandle {
    /// Prepares `build` for the engine (allocates; call off the audio thread).
    pub fn prepare(&self, build: &Build) -> Result<PreparedState, EngineError> {
        Ok(PreparedState(Box::new(FdnState::new(build, &self.cfg)?)))
    }

    /// Prepares `build` plus an early-reflections FIR (see [`crate::engine::Engine::prepare_with_early`];
    /// allocates; call off the audio thread).
    pub fn prepare_with_early(
        &self,
        build: &Build,
        early: Option<&EarlyReflections>,
    ) -> Result<PreparedState, EngineError> {
        Ok(PreparedState(Box::new(FdnState::with_early(
            build, early, &self.cfg,
        )?)))
    }

    /// Prepares a whole preset (build and early reflections; call off the audio thread).
    pub fn prepare_preset(&self, preset: &Preset) -> Result<PreparedState, EngineError> {
        self.prepare_with_early(preset.build(), preset.early())
    }

    /// Queues a prepared state for the audio thread; gives it back when the queue is full.
    pub fn send(&self, state: PreparedState) -> Result<(), PreparedState> {
        self.to_audio.try_send(state.0).map_err(|e| match e {
            TrySendError::Full(s) | TrySendError::Disconnected(s) => PreparedState(s),
        })
    }

    /// Prepares and queues `build`; drops retired states first.
    pub fn swap_to(&self, build: &Build) -> Result<(), EngineError> {
        self.collect_retired();
        let state = self.prepare(build)?;
        self.send(state).map_err(|_| EngineError::SwapQueueFull)
    }

    /// Prepares and queues a whole preset (build and early reflections); drops retired states first.
    pub fn swap_to_preset(&self, preset: &Preset) -> Result<(), EngineError> {
        self.collect_retired();
        let state = self.prepare_preset(preset)?;
        self.send(state).map_err(|_| EngineError::SwapQueueFull)
    }

    /// Drops every state the audio thread has retired; returns how many (call off the audio thread).
    pub fn collect_retired(&self) -> usize {
        self.from_audio.try_iter().count()
    }
}

impl AudioSide {
    /// Sends the pending retired state back if there is room. Allocation-free.
    pub(crate) fn flush_pending(&mut self) {
        if let Some(s) = self.pending.take() {
            if let Err(TrySendError::Full(s) | TrySendError::Disconnected(s)) =
                self.retire.try_send(s)
            {
                self.pending = Some(s);
            }
        }
    }

    /// Retires `old` (sent back now or kept pending). Allocation-free. The engine only
    /// accepts a new state while nothing is pending, so `pending` is empty here.
    pub(crate) fn retire(&mut self, old: Box<FdnState>) {
        self.flush_pending();
        match self.pending {
            None => self.pending = Some(old),
            // Unreachable by the engine's protocol; never drop on the audio thread regardless.
            Some(_) => std::mem::forget(old),
        }
        self.flush_pending();
    }
}
