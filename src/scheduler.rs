//! One May scheduler configuration for every backend in the process.
//!
//! May reads its settings once, when the scheduler first starts, and ignores later
//! changes. [`SchedulerConfig::apply`] checks the values, applies them before the first
//! strand is spawned, and reports an error (instead of silently doing nothing) when the
//! scheduler is already running with other settings.

use crate::error::ConfigError;
use std::sync::Mutex;

/// Worker threads, default stack size and pinning for the May scheduler.
///
/// ```
/// use strand_alloc::SchedulerConfig;
/// assert!(SchedulerConfig::default().with_workers(0).is_err());
/// let cfg = SchedulerConfig::default().with_workers(2).unwrap().with_pin(false);
/// assert_eq!(cfg.workers(), 2);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SchedulerConfig {
    workers: usize,
    stack_size: usize,
    pin: bool,
}

/// May's default coroutine stack: 0x1000 words (32 KiB on 64-bit targets).
pub const DEFAULT_STACK_SIZE: usize = 0x1000 * std::mem::size_of::<usize>();

impl Default for SchedulerConfig {
    /// As many workers as the machine has cores, May's default stack, no pinning (so
    /// several processes on one machine, such as parallel test binaries, do not pin onto
    /// the same cores).
    fn default() -> Self {
        SchedulerConfig {
            workers: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            stack_size: DEFAULT_STACK_SIZE,
            pin: false,
        }
    }
}

impl SchedulerConfig {
    /// Worker threads.
    pub fn workers(&self) -> usize {
        self.workers
    }
    /// Default stack size of a strand, in bytes.
    pub fn stack_size(&self) -> usize {
        self.stack_size
    }
    /// Whether workers are pinned to cores.
    pub fn pin(&self) -> bool {
        self.pin
    }

    /// Sets the number of worker threads (at least one).
    pub fn with_workers(mut self, workers: usize) -> Result<Self, ConfigError> {
        if workers == 0 {
            return Err(ConfigError::Zero {
                what: "the worker count",
                input: "0".into(),
            });
        }
        self.workers = workers;
        Ok(self)
    }

    /// Sets the default stack size in bytes (at least 4 KiB).
    pub fn with_stack_size(mut self, bytes: usize) -> Result<Self, ConfigError> {
        if bytes < 4096 {
            return Err(ConfigError::BadSize {
                what: "the stack size",
                input: bytes.to_string(),
                reason: "a strand needs at least 4096 bytes of stack",
            });
        }
        self.stack_size = bytes;
        Ok(self)
    }

    /// Sets whether workers are pinned to cores.
    pub fn with_pin(mut self, pin: bool) -> Self {
        self.pin = pin;
        self
    }

    /// Applies these settings to May. Succeeds if the scheduler has not started yet (it
    /// starts with these), or if it already runs with exactly these settings.
    pub fn apply(self) -> Result<(), ConfigError> {
        let mut state = STATE.lock().unwrap_or_else(|e| e.into_inner());
        match *state {
            Some(running) if running == self => Ok(()),
            Some(running) => Err(ConfigError::SchedulerStarted {
                running: running.describe(),
                requested: self.describe(),
            }),
            None => {
                self.install(&mut state);
                Ok(())
            }
        }
    }

    fn install(self, state: &mut Option<SchedulerConfig>) {
        let c = may::config();
        c.set_workers(self.workers)
            .set_stack_size(self.stack_size.div_ceil(std::mem::size_of::<usize>()));
        c.set_worker_pin(self.pin);
        *state = Some(self);
    }

    /// The settings the scheduler runs with, if it has been started through this crate.
    pub fn running() -> Option<SchedulerConfig> {
        *STATE.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn describe(&self) -> String {
        format!(
            "{} workers, {} byte stacks, pinning {}",
            self.workers,
            self.stack_size,
            if self.pin { "on" } else { "off" }
        )
    }
}

static STATE: Mutex<Option<SchedulerConfig>> = Mutex::new(None);

/// Makes sure the scheduler is configured before a strand is spawned: applies the default
/// settings when nothing was applied yet.
#[inline]
pub(crate) fn ensure_configured() {
    STARTED.get_or_init(|| {
        let mut state = STATE.lock().unwrap_or_else(|e| e.into_inner());
        if state.is_none() {
            SchedulerConfig::default().install(&mut state);
        }
    });
}

static STARTED: std::sync::OnceLock<()> = std::sync::OnceLock::new();
