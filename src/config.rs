//! Allocation settings: the arena threshold, the large-value size, a per-strand byte
//! limit, the warm-arena pool.
//!
//! A [`Config`] is copied into each strand when it begins, so changing the process-wide
//! default ([`Config::install`]) affects strands spawned afterwards, never running ones.
//! The default threshold is 10 MiB, overridable through the `STRAND_ALLOC_THRESHOLD`
//! environment variable, which is read once, the first time a default is needed.

use crate::error::ConfigError;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

/// The environment variable that sets the default threshold.
pub const THRESHOLD_ENV: &str = "STRAND_ALLOC_THRESHOLD";

/// The threshold used when nothing else is configured: 10 MiB.
pub const DEFAULT_THRESHOLD: usize = 10 * 1024 * 1024;

/// The largest threshold accepted: 1 TiB. A threshold is a number of bytes an arena
/// generation may hand out; past this bound it stops meaning anything on any machine
/// this library runs on, and sums of thresholds must stay far from overflow.
pub const MAX_THRESHOLD: usize = 1 << 40;

/// How many warm arenas the strand-arena backend keeps for reuse by default.
pub const DEFAULT_POOL_CAPACITY: usize = 256;

/// The smallest default large-value size: 4 KiB (unless the threshold is smaller).
pub const MIN_DEFAULT_LARGE_VALUE: usize = 4096;

/// Allocation settings for strands.
///
/// The threshold bounds an arena *generation*: the bytes handed out from one generation
/// before allocation moves on. What happens then depends on the backend:
/// - **thread-arena**: a thread's generation is shared by the strands running there.
///   When an allocation would take the bytes used in it past the allocating strand's
///   threshold, the thread resets the generation in place if no strand holds values in
///   it, and otherwise *rotates*: it starts a fresh generation, and the old one is freed
///   when its last holder lets go. A generation hands out at most the threshold of the
///   strand whose allocation created it, so a strand with a larger threshold than that
///   also moves on when it is full.
/// - **strand-arena**: each strand's arena is its own. When an allocation would take its
///   current generation past the threshold, the generation is reset in place if nothing
///   in it is live, and otherwise retired (freed when its last value is released) while a
///   fresh generation takes over.
///
/// On both, a generation's chunks total at most [`Config::generation_limit`].
/// - **global-malloc**: not used (every value is freed on drop).
///
/// On the arena backends a value larger than the *large-value size*
/// ([`Config::large_value_size`]: an eighth of the threshold by default, at least 4 KiB,
/// at most the threshold) gets a heap allocation of its own, freed when it drops, so one
/// big string neither inflates the arena's chunks nor keeps a generation alive.
///
/// ```
/// use strand_alloc::Config;
/// let cfg = Config::default().with_threshold_str("64KiB").unwrap();
/// assert_eq!(cfg.threshold(), 64 * 1024);
/// assert!(Config::default().with_threshold(0).is_err());
/// ```
///
/// With the `serde` feature it (de)serialises; deserialising checks every setting as the
/// setters do, reads a size as a number of bytes or as a string in any form
/// [`parse_size`] accepts (`"10MiB"`), and refuses a field it does not know (a misspelt
/// setting is an error, not a default).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Config {
    threshold: usize,
    large_value: Option<usize>,
    strand_limit: Option<usize>,
    pool_capacity: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            threshold: DEFAULT_THRESHOLD,
            large_value: None,
            strand_limit: None,
            pool_capacity: DEFAULT_POOL_CAPACITY,
        }
    }
}

impl Config {
    /// The arena threshold in bytes.
    pub fn threshold(&self) -> usize {
        self.threshold
    }

    /// The size above which a value gets a heap allocation of its own on the arena
    /// backends: the size set with [`Config::with_large_value_size`], or by default an
    /// eighth of the threshold but at least [`MIN_DEFAULT_LARGE_VALUE`]; never more than
    /// the threshold, so the arena never sees an allocation larger than it.
    ///
    /// ```
    /// use strand_alloc::Config;
    /// let c = Config::default().with_threshold_str("10MiB").unwrap();
    /// assert_eq!(c.large_value_size(), 10 * 1024 * 1024 / 8);
    /// let c = c.with_threshold(1024).unwrap();
    /// assert_eq!(c.large_value_size(), 1024);
    /// ```
    pub fn large_value_size(&self) -> usize {
        self.large_value
            .unwrap_or_else(|| (self.threshold / 8).max(MIN_DEFAULT_LARGE_VALUE))
            .min(self.threshold)
    }

    /// The most the chunks of one arena generation may total: the threshold plus an
    /// eighth of it (at least 4 KiB), enforced as bumpalo's allocation limit. The eighth
    /// is room for the bytes lost at the end of each chunk and the last chunk's rounding.
    /// This bounds what an arena owner (a thread on thread-arena, a strand on
    /// strand-arena) reserves for its current generation; older generations are kept only
    /// while live values hold them (reported as `retired`).
    ///
    /// ```
    /// use strand_alloc::Config;
    /// let c = Config::default().with_threshold_str("8MiB").unwrap();
    /// assert_eq!(c.generation_limit(), 9 * 1024 * 1024);
    /// ```
    pub fn generation_limit(&self) -> usize {
        self.threshold
            .saturating_add((self.threshold / 8).max(4096))
    }

    /// Sets the large-value size in bytes (`None`: the default). Zero is rejected.
    pub fn with_large_value_size(mut self, bytes: Option<usize>) -> Result<Self, ConfigError> {
        if bytes == Some(0) {
            return Err(ConfigError::Zero {
                what: "the large-value size",
                input: "0".into(),
            });
        }
        self.large_value = bytes;
        Ok(self)
    }

    /// The most bytes one strand may hold, if limited. An allocation past it fails with
    /// [`crate::AllocError::LimitExceeded`] on the `try_` paths. It bounds what the strand
    /// allocates (the `used` figure); buffers adopted without copying (`from_heap`, the
    /// strings of an imported value) are not allocations of the strand and do not count.
    pub fn strand_limit(&self) -> Option<usize> {
        self.strand_limit
    }

    /// How many warm arenas the strand-arena backend keeps for reuse.
    pub fn pool_capacity(&self) -> usize {
        self.pool_capacity
    }

    /// Sets the threshold in bytes. Zero, and anything over [`MAX_THRESHOLD`] (1 TiB),
    /// is rejected.
    pub fn with_threshold(mut self, bytes: usize) -> Result<Self, ConfigError> {
        if bytes == 0 {
            return Err(ConfigError::Zero {
                what: "the threshold",
                input: "0".into(),
            });
        }
        if bytes > MAX_THRESHOLD {
            return Err(ConfigError::OutOfRange {
                what: "the threshold",
                input: format!("{bytes} bytes"),
                reason: format!(
                    "the largest threshold is {MAX_THRESHOLD} bytes (1 TiB, \
                     strand_alloc::config::MAX_THRESHOLD)"
                ),
            });
        }
        self.threshold = bytes;
        Ok(self)
    }

    /// Sets the threshold from text such as `10MiB`, `10MB` or `1048576`.
    pub fn with_threshold_str(self, text: &str) -> Result<Self, ConfigError> {
        let bytes = parse_size("the threshold", text)?;
        if bytes == 0 {
            return Err(ConfigError::Zero {
                what: "the threshold",
                input: text.to_string(),
            });
        }
        self.with_threshold(bytes).map_err(|e| match e {
            ConfigError::OutOfRange { what, reason, .. } => ConfigError::OutOfRange {
                what,
                input: format!("{text:?}"),
                reason,
            },
            other => other,
        })
    }

    /// Limits the bytes one strand may hold (`None`: no limit). Zero is rejected.
    ///
    /// A strand without a limit never tests one; a strand with one tests it on every
    /// allocation, out of line (a call more per value than an unlimited strand pays).
    pub fn with_strand_limit(mut self, limit: Option<usize>) -> Result<Self, ConfigError> {
        if limit == Some(0) {
            return Err(ConfigError::Zero {
                what: "the strand limit",
                input: "0".into(),
            });
        }
        self.strand_limit = limit;
        Ok(self)
    }

    /// Sets how many warm arenas the strand-arena backend keeps (0 disables the pool).
    pub fn with_pool_capacity(mut self, arenas: usize) -> Self {
        self.pool_capacity = arenas;
        self
    }

    /// The default configuration with the threshold taken from `STRAND_ALLOC_THRESHOLD`
    /// when it is set. An unreadable or zero value is an error that quotes it.
    pub fn from_env() -> Result<Self, ConfigError> {
        match std::env::var(THRESHOLD_ENV) {
            Ok(text) => Config::default()
                .with_threshold_str(&text)
                .map_err(|e| match e {
                    ConfigError::BadSize { input, reason, .. } => ConfigError::BadSize {
                        what: "STRAND_ALLOC_THRESHOLD",
                        input,
                        reason,
                    },
                    ConfigError::Zero { input, .. } => ConfigError::Zero {
                        what: "STRAND_ALLOC_THRESHOLD",
                        input,
                    },
                    ConfigError::OutOfRange { input, reason, .. } => ConfigError::OutOfRange {
                        what: "STRAND_ALLOC_THRESHOLD",
                        input,
                        reason,
                    },
                    other => other,
                }),
            Err(std::env::VarError::NotPresent) => Ok(Config::default()),
            Err(std::env::VarError::NotUnicode(raw)) => Err(ConfigError::BadSize {
                what: "STRAND_ALLOC_THRESHOLD",
                input: raw.to_string_lossy().into_owned(),
                reason: "not valid Unicode",
            }),
        }
    }

    /// The process-wide default: the last [`Config::install`]ed one, or else
    /// [`Config::from_env`] (read once).
    pub fn current() -> Result<Self, ConfigError> {
        GLOBAL
            .init
            .get_or_init(|| Config::from_env().map(|c| GLOBAL.store(c, false)));
        match GLOBAL.init.get() {
            Some(Err(e)) if !GLOBAL.installed() => Err(e.clone()),
            _ => Ok(GLOBAL.load()),
        }
    }

    /// Makes this the process-wide default for strands spawned from now on.
    pub fn install(self) {
        GLOBAL.store(self, true);
        let _ = GLOBAL.init.set(Ok(()));
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for Config {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Raw {
            threshold: Size,
            #[serde(default)]
            large_value: Option<Size>,
            strand_limit: Option<Size>,
            pool_capacity: usize,
        }
        let r = Raw::deserialize(d)?;
        Config::default()
            .with_threshold(r.threshold.0)
            .and_then(|c| c.with_large_value_size(r.large_value.map(|s| s.0)))
            .and_then(|c| c.with_strand_limit(r.strand_limit.map(|s| s.0)))
            .map(|c| c.with_pool_capacity(r.pool_capacity))
            .map_err(serde::de::Error::custom)
    }
}

/// A size in serialised settings: a number of bytes, or a string in any form
/// [`parse_size`] reads, refused with the forms it accepts.
#[cfg(feature = "serde")]
pub(crate) struct Size(pub(crate) usize);

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for Size {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl serde::de::Visitor<'_> for Visit {
            type Value = Size;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "a size: {SIZE_FORMS}, as a number or a string")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Size, E> {
                usize::try_from(v)
                    .map(Size)
                    .map_err(|_| E::custom(format!("a size of {v} bytes is past this machine's")))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Size, E> {
                match u64::try_from(v) {
                    Ok(v) => self.visit_u64(v),
                    Err(_) => Err(E::invalid_value(serde::de::Unexpected::Signed(v), &self)),
                }
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Size, E> {
                parse_size("a size", v).map(Size).map_err(E::custom)
            }
        }
        // A format that describes itself (JSON) may carry either; another (a binary
        // one) carries what `Serialize` wrote, a number.
        if d.is_human_readable() {
            d.deserialize_any(Visit)
        } else {
            d.deserialize_u64(Visit)
        }
    }
}

/// The process-wide default configuration: its fields as atomics, published as one
/// value with a sequence count (a seqlock). A writer makes the count odd, stores the
/// fields and makes it even again; a reader takes the fields only between two equal, even
/// readings of the count, so it sees one installed configuration or another, never a mix
/// of two. Writers take `writing` one at a time; readers never wait on a lock.
struct GlobalConfig {
    init: OnceLock<Result<(), ConfigError>>,
    installed: AtomicUsize,
    sequence: AtomicUsize,
    writing: std::sync::Mutex<()>,
    threshold: AtomicUsize,
    large_value: AtomicUsize,
    strand_limit: AtomicUsize,
    pool_capacity: AtomicUsize,
}

static GLOBAL: GlobalConfig = GlobalConfig {
    init: OnceLock::new(),
    installed: AtomicUsize::new(0),
    sequence: AtomicUsize::new(0),
    writing: std::sync::Mutex::new(()),
    threshold: AtomicUsize::new(DEFAULT_THRESHOLD),
    large_value: AtomicUsize::new(0),
    strand_limit: AtomicUsize::new(0),
    pool_capacity: AtomicUsize::new(DEFAULT_POOL_CAPACITY),
};

impl GlobalConfig {
    /// Stores `c`: an installation (`install`), or the environment's settings read on
    /// first use, which never replace an installed configuration (an `install` that
    /// raced the first read stands).
    fn store(&self, c: Config, install: bool) {
        let _one = self.writing.lock().unwrap_or_else(|e| e.into_inner());
        if !install && self.installed() {
            return;
        }
        // Odd: a write is under way. The fence keeps the field stores after it.
        self.sequence.fetch_add(1, Ordering::Relaxed);
        std::sync::atomic::fence(Ordering::Release);
        self.threshold.store(c.threshold, Ordering::Relaxed);
        self.large_value
            .store(c.large_value.unwrap_or(0), Ordering::Relaxed);
        self.strand_limit
            .store(c.strand_limit.unwrap_or(0), Ordering::Relaxed);
        self.pool_capacity.store(c.pool_capacity, Ordering::Relaxed);
        // Even again: the fields are one configuration.
        self.sequence.fetch_add(1, Ordering::Release);
        if install {
            self.installed.store(1, Ordering::Release);
        }
    }
    fn load(&self) -> Config {
        loop {
            let before = self.sequence.load(Ordering::Acquire);
            if before % 2 == 1 {
                std::hint::spin_loop();
                continue;
            }
            let limit = self.strand_limit.load(Ordering::Relaxed);
            let large = self.large_value.load(Ordering::Relaxed);
            let c = Config {
                threshold: self.threshold.load(Ordering::Relaxed),
                large_value: (large != 0).then_some(large),
                strand_limit: (limit != 0).then_some(limit),
                pool_capacity: self.pool_capacity.load(Ordering::Relaxed),
            };
            // The field loads stay before the second reading of the count.
            std::sync::atomic::fence(Ordering::Acquire);
            if self.sequence.load(Ordering::Relaxed) == before {
                return c;
            }
        }
    }
    fn installed(&self) -> bool {
        self.installed.load(Ordering::Acquire) != 0
    }
}

pub use crate::error::SIZE_FORMS;

/// Reads a byte size: a plain number of bytes, or a number with a unit.
///
/// Units are case-insensitive: `B`, `K`/`KB` (1000), `KiB` (1024), `M`/`MB`, `MiB`,
/// `G`/`GB`, `GiB`, `T`/`TB`, `TiB`. A fraction is accepted only where it comes to a whole
/// number of bytes (`1.5MiB`; `0.3KiB` and `1.9` are refused), and an underscore only
/// between digits (`1_048_576`). Anything else is refused with an error that quotes the
/// text and shows the accepted forms ([`SIZE_FORMS`]). `what` names the setting in the
/// error.
///
/// ```
/// use strand_alloc::config::parse_size;
/// assert_eq!(parse_size("threshold", "10MiB").unwrap(), 10 * 1024 * 1024);
/// assert_eq!(parse_size("threshold", "10MB").unwrap(), 10_000_000);
/// assert_eq!(parse_size("threshold", "1_048_576").unwrap(), 1 << 20);
/// assert_eq!(parse_size("threshold", "1.5MiB").unwrap(), 3 << 19);
/// assert!(parse_size("threshold", "1.9").is_err());
/// assert!(parse_size("threshold", "0.3KiB").is_err());
/// assert!(parse_size("threshold", "_1").is_err());
/// assert!(parse_size("threshold", "ten").is_err());
/// ```
pub fn parse_size(what: &'static str, text: &str) -> Result<usize, ConfigError> {
    let bad = |reason| ConfigError::BadSize {
        what,
        input: text.to_string(),
        reason,
    };
    let t = text.trim();
    if t.is_empty() {
        return Err(bad("it is empty"));
    }
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    if !num.bytes().any(|b| b.is_ascii_digit()) {
        return Err(bad("it does not start with a number"));
    }
    // An underscore only between two digits.
    let b = num.as_bytes();
    for (i, &c) in b.iter().enumerate() {
        if c == b'_'
            && !(i > 0 && b[i - 1].is_ascii_digit() && b.get(i + 1).is_some_and(u8::is_ascii_digit))
        {
            return Err(bad("an underscore stands only between two digits"));
        }
    }
    let num: String = num.chars().filter(|&c| c != '_').collect();
    let mult: u128 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1_000,
        "kib" => 1 << 10,
        "m" | "mb" => 1_000_000,
        "mib" => 1 << 20,
        "g" | "gb" => 1_000_000_000,
        "gib" => 1 << 30,
        "t" | "tb" => 1_000_000_000_000,
        "tib" => 1 << 40,
        _ => return Err(bad("unknown unit")),
    };
    let bytes: u128 = if let Some((int, frac)) = num.split_once('.') {
        if frac.contains('.') {
            return Err(bad("more than one decimal point"));
        }
        if frac.is_empty() {
            return Err(bad("a decimal point must be followed by digits"));
        }
        if frac.len() > 12 {
            return Err(bad("too many decimal places"));
        }
        let int: u128 = if int.is_empty() {
            0
        } else {
            int.parse().map_err(|_| bad("the number is too large"))?
        };
        let scale = 10u128.pow(frac.len() as u32);
        let frac: u128 = frac.parse().map_err(|_| bad("the number is not valid"))?;
        let frac_bytes = frac * mult;
        if frac_bytes % scale != 0 {
            return Err(bad("it is not a whole number of bytes"));
        }
        int.checked_mul(mult)
            .and_then(|i| i.checked_add(frac_bytes / scale))
            .ok_or_else(|| bad("the number is too large"))?
    } else {
        let n: u128 = num.parse().map_err(|_| bad("the number is too large"))?;
        n.checked_mul(mult)
            .ok_or_else(|| bad("the number is too large"))?
    };
    if bytes > isize::MAX as u128 {
        return Err(bad("the number is too large"));
    }
    Ok(bytes as usize)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc::channel;
    use std::time::Duration;

    /// A settings record whose count reads `sequence` (odd: a write under way).
    fn record(sequence: usize) -> std::sync::Arc<GlobalConfig> {
        std::sync::Arc::new(GlobalConfig {
            init: OnceLock::new(),
            installed: AtomicUsize::new(0),
            sequence: AtomicUsize::new(sequence),
            writing: std::sync::Mutex::new(()),
            threshold: AtomicUsize::new(DEFAULT_THRESHOLD),
            large_value: AtomicUsize::new(0),
            strand_limit: AtomicUsize::new(0),
            pool_capacity: AtomicUsize::new(DEFAULT_POOL_CAPACITY),
        })
    }

    /// The environment's settings, read on first use, apply when nothing was installed,
    /// and never replace an installation that came first (an `install` racing the first
    /// `current` once lost to the environment's slower read).
    #[test]
    fn an_installed_configuration_is_never_replaced_by_the_environments() {
        let installed = Config::default().with_threshold(28 << 10).unwrap();
        let env = Config::default().with_threshold(1 << 20).unwrap();
        let g = record(0);
        g.store(env, false);
        assert_eq!(
            g.load().threshold(),
            1 << 20,
            "nothing installed: the environment's"
        );
        assert!(!g.installed());
        g.store(installed, true);
        assert!(g.installed());
        g.store(env, false);
        assert_eq!(g.load().threshold(), 28 << 10, "the installed one stands");
        g.store(env, true);
        assert_eq!(
            g.load().threshold(),
            1 << 20,
            "a later installation replaces it"
        );
    }

    /// A reader never returns while a write is under way (an odd count), whatever the
    /// count, and returns at once when none is (an even one).
    #[test]
    fn a_reader_waits_out_a_write_under_way() {
        for sequence in [1, 3, 7] {
            let g = record(sequence);
            let (tx, rx) = channel();
            let reader = g.clone();
            let t = std::thread::spawn(move || tx.send(reader.load().threshold).unwrap());
            assert!(
                rx.recv_timeout(Duration::from_millis(50)).is_err(),
                "read during a write (count {sequence})"
            );
            g.threshold.store(4096, Ordering::Relaxed);
            g.sequence.store(sequence + 1, Ordering::Release);
            assert_eq!(rx.recv_timeout(Duration::from_secs(30)), Ok(4096));
            t.join().unwrap();
        }
        for sequence in [0, 2, 8] {
            let g = record(sequence);
            let (tx, rx) = channel();
            let reader = g.clone();
            let t = std::thread::spawn(move || tx.send(reader.load().threshold).unwrap());
            assert_eq!(
                rx.recv_timeout(Duration::from_secs(30)),
                Ok(DEFAULT_THRESHOLD),
                "count {sequence}"
            );
            t.join().unwrap();
        }
    }

    #[test]
    fn sizes_in_every_form() {
        assert_eq!(parse_size("t", "10MiB").unwrap(), 10 << 20);
        assert_eq!(parse_size("t", "10mib").unwrap(), 10 << 20);
        assert_eq!(parse_size("t", "10MB").unwrap(), 10_000_000);
        assert_eq!(parse_size("t", " 64KiB ").unwrap(), 64 << 10);
        assert_eq!(parse_size("t", "1048576").unwrap(), 1 << 20);
        assert_eq!(parse_size("t", "1_048_576").unwrap(), 1 << 20);
        assert_eq!(parse_size("t", "1.5MiB").unwrap(), 3 << 19);
        let e = parse_size("t", "1.KiB").unwrap_err().to_string();
        assert!(
            e.contains("a decimal point must be followed by digits"),
            "{e}"
        );
        assert_eq!(parse_size("t", "0.5KiB").unwrap(), 512);
        assert_eq!(parse_size("t", "2.000").unwrap(), 2);
        assert_eq!(parse_size("t", "0").unwrap(), 0);
    }

    #[test]
    fn bad_sizes_quote_the_input() {
        for bad in [
            "",
            "MiB",
            "10XB",
            "1.2.3MB",
            "-5",
            "99999999999999999999999TiB",
            "1.9",
            "0.3KiB",
            "_1",
            "1_",
            "1__0",
            ".",
            "1.",
            "1_.5MiB",
        ] {
            let err = parse_size("the threshold", bad).unwrap_err();
            let text = err.to_string();
            assert!(
                text.contains(&format!("{bad:?}")),
                "{err} should quote {bad:?}"
            );
            assert!(
                text.contains("1_048_576") && text.contains("MiB"),
                "{err} shows the forms"
            );
        }
    }

    #[test]
    fn a_threshold_over_the_maximum_is_refused_with_the_maximum_named() {
        assert!(Config::default().with_threshold(MAX_THRESHOLD).is_ok());
        let err = Config::default()
            .with_threshold_str("64TiB")
            .unwrap_err()
            .to_string();
        assert!(err.contains("\"64TiB\"") && err.contains("1 TiB"), "{err}");
        assert!(Config::default().with_threshold(MAX_THRESHOLD + 1).is_err());
    }

    #[test]
    fn zero_threshold_is_refused() {
        let err = Config::default().with_threshold_str("0KiB").unwrap_err();
        assert!(matches!(err, ConfigError::Zero { .. }), "{err}");
        assert!(Config::default().with_strand_limit(Some(0)).is_err());
    }
}
