//! Built-in workloads: the same work, with the same inputs, for every backend.
//!
//! A [`Workload`] names a [`Kind`] of work and its parameters (strands, allocations per
//! strand, a [`Sizes`] distribution, a seed). [`run`] performs it on one backend under the
//! running May scheduler and returns an [`Outcome`]: the wall time, the allocation count,
//! the figures of every strand, and the number of values whose contents were checked.
//!
//! Every run is deterministic in what it allocates: the sizes come from a seeded
//! generator per strand, and the number of allocations does not depend on scheduling, so
//! two backends given the same workload make exactly the same allocations. Every value's
//! contents are checked when it is read back; a mismatch fails the run with
//! [`WorkloadError::Corrupt`].
//!
//! This is the comparison's harness, part of the command and not of the library.

use std::collections::VecDeque;
use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use strand_alloc::{
    channel, hop, Builder, Config, Figures, JoinHandle, PortableValue, PortableVariant, Scope,
    SpawnError, Str, Strand, Value, ValueAllocator,
};

/// The kinds of work the comparison runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// Many short strands, a bounded number at a time, each allocating strings and a few
    /// variants, yielding once as if waiting for I/O, then exiting: the request-per-strand
    /// server the thread arena was designed for.
    Requests,
    /// A few strands that churn for a long time through a window of live values and cross
    /// the threshold many times.
    LongLived,
    /// Strands that force a move to another OS thread between allocations.
    Migrate,
    /// Chains of strands passing variants through channels, each stage reading the value,
    /// building a new one and sending it on (copy-on-send cost).
    Pipeline,
    /// Generations of strands destroyed between phases while some values survive through
    /// a channel into the next phase (after mimalloc-bench's mstress).
    Phases,
    /// Values produced in one strand and consumed and dropped in another (after larson and
    /// xmalloc-test).
    Handoff,
    /// Long-lived strands (actors) that each handle many messages: a message makes eight
    /// values and replaces the strand's state, one value of at most 1 KiB kept from one
    /// message to the next. Written as a runtime writes it without scopes: every value on
    /// the strand, dropped when its message is done.
    Actor,
    /// The same actors with one [`strand_alloc::Scope`] per message: the message's values
    /// are made in the scope, and the new state is made there and escapes to the heap
    /// ([`strand_alloc::Scope::to_heap`]).
    ActorScoped,
}

impl Kind {
    /// Every kind, in the order the comparison runs them.
    pub const ALL: [Kind; 8] = [
        Kind::Requests,
        Kind::LongLived,
        Kind::Migrate,
        Kind::Pipeline,
        Kind::Phases,
        Kind::Handoff,
        Kind::Actor,
        Kind::ActorScoped,
    ];

    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Requests => "requests",
            Kind::LongLived => "long-lived",
            Kind::Migrate => "migrate",
            Kind::Pipeline => "pipeline",
            Kind::Phases => "phases",
            Kind::Handoff => "handoff",
            Kind::Actor => "actor",
            Kind::ActorScoped => "actor-scoped",
        }
    }

    /// Every valid name, comma-separated (for error messages).
    pub fn valid_names() -> String {
        Kind::ALL.map(Kind::name).join(", ")
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Kind {
    type Err = WorkloadError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        by_name(&Kind::ALL, Kind::name, s).ok_or_else(|| WorkloadError::UnknownKind {
            input: s.to_string(),
            valid: Kind::valid_names(),
        })
    }
}

fn by_name<T: Copy>(all: &[T], name: fn(T) -> &'static str, s: &str) -> Option<T> {
    all.iter().copied().find(|k| name(*k) == s)
}

/// The distribution of string sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Sizes {
    /// 8 to 32 bytes.
    Small,
    /// Mostly 8 to 32 bytes; one in four 64 to 128; one in sixteen 256 to 1024.
    Mixed,
    /// 256 to 4096 bytes.
    Large,
}

impl Sizes {
    /// Every distribution.
    pub const ALL: [Sizes; 3] = [Sizes::Small, Sizes::Mixed, Sizes::Large];

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Sizes::Small => "small",
            Sizes::Mixed => "mixed",
            Sizes::Large => "large",
        }
    }

    fn draw(self, rng: &mut Rng) -> usize {
        let r = rng.next();
        let pick = |lo: usize, hi: usize| lo + (r >> 8) as usize % (hi - lo + 1);
        match self {
            Sizes::Small => pick(8, 32),
            Sizes::Large => pick(256, 4096),
            Sizes::Mixed => match r % 16 {
                0 => pick(256, 1024),
                1..=4 => pick(64, 128),
                _ => pick(8, 32),
            },
        }
    }
}

impl fmt::Display for Sizes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Sizes {
    type Err = WorkloadError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        by_name(&Sizes::ALL, Sizes::name, s).ok_or_else(|| WorkloadError::UnknownSizes {
            input: s.to_string(),
            valid: Sizes::ALL.map(Sizes::name).join(", "),
        })
    }
}

/// What a workload run can fail with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WorkloadError {
    /// A workload name that is not one of [`Kind::ALL`].
    #[error("unknown workload {input:?}; the workloads are: {valid}")]
    UnknownKind {
        /// What was asked for.
        input: String,
        /// The valid names.
        valid: String,
    },
    /// A size distribution that is not one of [`Sizes::ALL`].
    #[error("unknown size distribution {input:?}; the distributions are: {valid}")]
    UnknownSizes {
        /// What was asked for.
        input: String,
        /// The valid names.
        valid: String,
    },
    /// A parameter that cannot run (zero strands, zero allocations, more than the
    /// bounds below).
    #[error("workload {kind}: {what} must be from {min} to {max}, not {got}")]
    BadParameter {
        /// The workload.
        kind: Kind,
        /// Which parameter.
        what: &'static str,
        /// The smallest value that runs.
        min: usize,
        /// The largest value accepted.
        max: usize,
        /// The value given.
        got: usize,
    },
    /// The values a workload would hold at once do not fit the bound below.
    #[error(
        "workload {kind}: {strands} strands × {allocs} allocations would hold about {gib} GiB \
         of values at once, more than the {max} GiB a comparison may take; use fewer strands \
         or allocations"
    )]
    TooMuchHeld {
        /// The workload.
        kind: Kind,
        /// Its strands.
        strands: usize,
        /// Its allocations per strand.
        allocs: usize,
        /// The estimate, GiB.
        gib: usize,
        /// The bound, GiB.
        max: usize,
    },
    /// A strand could not be spawned.
    #[error("workload {kind}: cannot spawn a strand: {message}")]
    Spawn {
        /// The workload.
        kind: Kind,
        /// The spawn error's message.
        message: String,
    },
    /// A strand panicked (for example an allocation was refused).
    #[error("workload {kind}: a strand panicked: {message}")]
    Panicked {
        /// The workload.
        kind: Kind,
        /// The panic message.
        message: String,
    },
    /// A value read back did not hold what was written.
    #[error("workload {kind}: a value was corrupted: {detail}")]
    Corrupt {
        /// The workload.
        kind: Kind,
        /// What was expected and found.
        detail: String,
    },
}

/// One workload with its parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Workload {
    /// What kind of work.
    pub kind: Kind,
    /// Strands (the meaning per kind: request strands in all, churning strands, migrating
    /// strands, pipeline chains ×4 stages, strands per phase, producer–consumer pairs ×2,
    /// actors).
    pub strands: usize,
    /// Allocations per strand (messages per chain for `pipeline`, per pair for
    /// `handoff`, per actor for `actor` and `actor-scoped`).
    pub allocs: usize,
    /// String sizes.
    pub sizes: Sizes,
    /// Seed of the size generator.
    pub seed: u64,
}

impl Workload {
    /// The default parameters of `kind` (the comparison's default suite).
    pub fn new(kind: Kind) -> Self {
        let (strands, allocs, sizes) = match kind {
            Kind::Requests => (20_000, 32, Sizes::Mixed),
            Kind::LongLived => (4, 1_000_000, Sizes::Mixed),
            Kind::Migrate => (64, 1_000, Sizes::Mixed),
            Kind::Pipeline => (16, 20_000, Sizes::Mixed),
            Kind::Phases => (512, 256, Sizes::Mixed),
            Kind::Handoff => (16, 40_000, Sizes::Mixed),
            Kind::Actor | Kind::ActorScoped => (64, 20_000, Sizes::Mixed),
        };
        Workload {
            kind,
            strands,
            allocs,
            sizes,
            seed: 1,
        }
    }

    /// The parameters of the quick suite: a tenth of the work.
    pub fn quick(kind: Kind) -> Self {
        let w = Workload::new(kind);
        let strands = match kind {
            Kind::Requests | Kind::Phases => w.strands / 10,
            _ => w.strands,
        };
        let allocs = match kind {
            Kind::Requests | Kind::Phases => w.allocs,
            _ => w.allocs / 10,
        };
        Workload {
            strands,
            allocs,
            ..w
        }
    }

    /// With this many strands.
    pub fn with_strands(mut self, n: usize) -> Self {
        self.strands = n;
        self
    }

    /// With this many allocations per strand.
    pub fn with_allocs(mut self, n: usize) -> Self {
        self.allocs = n;
        self
    }

    /// With this size distribution.
    pub fn with_sizes(mut self, sizes: Sizes) -> Self {
        self.sizes = sizes;
        self
    }

    /// With this seed.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Checks that the parameters can run.
    /// About how many bytes of values the workload holds at once at most: the strands
    /// alive together times the values each keeps, at the mean size of its distribution
    /// plus a value's handle.
    pub fn held_at_once(&self) -> usize {
        let each = match self.sizes {
            Sizes::Small => 20,
            Sizes::Mixed => 80,
            Sizes::Large => 2176,
        } + 48;
        let values = match self.kind {
            Kind::Requests => self.strands.min(IN_FLIGHT).saturating_mul(self.allocs),
            Kind::Phases => self.strands.saturating_mul(self.allocs),
            Kind::LongLived => self.strands.saturating_mul(WINDOW.min(self.allocs)),
            Kind::Migrate => self.strands.saturating_mul(32.min(self.allocs)),
            Kind::Pipeline | Kind::Handoff => self.strands.saturating_mul(HANDOFF_WINDOW),
            Kind::Actor | Kind::ActorScoped => self.strands.saturating_mul(PARTS + 1),
        };
        values.saturating_mul(each)
    }

    pub fn validate(&self) -> Result<(), WorkloadError> {
        let min_strands = match self.kind {
            Kind::Handoff => 2,
            _ => 1,
        };
        let bad = |what, min, max, got| WorkloadError::BadParameter {
            kind: self.kind,
            what,
            min,
            max,
            got,
        };
        if !(min_strands..=MAX_STRANDS).contains(&self.strands) {
            return Err(bad(
                "the strand count",
                min_strands,
                MAX_STRANDS,
                self.strands,
            ));
        }
        if !(1..=MAX_ALLOCS).contains(&self.allocs) {
            return Err(bad("the allocation count", 1, MAX_ALLOCS, self.allocs));
        }
        let total = self.strands.saturating_mul(self.allocs);
        if total > MAX_TOTAL_ALLOCS {
            return Err(bad(
                "the allocation count of all strands together",
                1,
                MAX_TOTAL_ALLOCS,
                total,
            ));
        }
        let held = self.held_at_once();
        if held > MAX_HELD_BYTES {
            return Err(WorkloadError::TooMuchHeld {
                kind: self.kind,
                strands: self.strands,
                allocs: self.allocs,
                gib: held >> 30,
                max: MAX_HELD_BYTES >> 30,
            });
        }
        Ok(())
    }
}

/// The most bytes of values a workload may hold at once (an estimate, see
/// [`Workload::held_at_once`]): 16 GiB.
pub const MAX_HELD_BYTES: usize = 16 << 30;

/// The most strands a workload may have: each runs as a May strand, and tables sized by
/// the strand count are made up front.
pub const MAX_STRANDS: usize = 1_000_000;
/// The most allocations per strand (a strand may keep a table of them).
pub const MAX_ALLOCS: usize = 100_000_000;
/// The most allocations of all strands together.
pub const MAX_TOTAL_ALLOCS: usize = 1_000_000_000;

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Outcome {
    /// Wall time from the first spawn to the last join.
    pub wall: Duration,
    /// The figures of every strand, added up (counts are exact; `peak_*` add up each
    /// strand's own peak and are an upper bound of the combined peak).
    pub figures: Figures,
    /// Values whose contents were read back and checked.
    pub checked: u64,
    /// Values that could not be read because the backend detected that their memory was
    /// no longer valid (always zero on the safe backends).
    pub refused: u64,
    /// Strings the workload's code made itself, counted by the workload (not the
    /// library), and their bytes.
    pub made: u64,
    pub made_bytes: u64,
}

/// A splitmix64 generator: tiny, seeded, the same on every platform.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64, stream: u64) -> Self {
        Rng(seed ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// The bytes of a value: `len` copies of one letter, so a read can check every byte.
fn text(letter: u8, len: usize) -> &'static str {
    const MAX: usize = 4096;
    static LETTERS: OnceLock<String> = OnceLock::new();
    let all = LETTERS.get_or_init(|| {
        (b'a'..=b'z')
            .map(|c| (c as char).to_string().repeat(MAX))
            .collect()
    });
    let start = (letter - b'a') as usize * MAX;
    &all[start..start + len.min(MAX)]
}

fn letter(n: u64) -> u8 {
    b'a' + (n % 26) as u8
}

/// The per-strand context every workload body gets.
struct Ctx<'s, A: ValueAllocator> {
    strand: &'s Strand<A>,
    rng: Rng,
    sizes: Sizes,
    kind: Kind,
    tally: Tally,
}

/// A string made by [`Ctx::make`], with what it must contain.
struct Made<'s, A: ValueAllocator> {
    value: Str<'s, A>,
    letter: u8,
    len: usize,
}

impl<'s, A: ValueAllocator> Ctx<'s, A> {
    fn new(strand: &'s Strand<A>, w: &Workload, stream: u64) -> Self {
        Ctx {
            strand,
            rng: Rng::new(w.seed, stream),
            sizes: w.sizes,
            kind: w.kind,
            tally: Tally::default(),
        }
    }

    fn make(&mut self) -> Made<'s, A> {
        let (l, len) = self.draw();
        Made {
            value: self.strand.str(text(l, len)),
            letter: l,
            len,
        }
    }

    /// Like [`Ctx::make`], in a scope.
    fn make_in<'x>(&mut self, sc: &'x Scope<'_, A>) -> Made<'x, A> {
        let (l, len) = self.draw();
        Made {
            value: sc.str(text(l, len)),
            letter: l,
            len,
        }
    }

    /// The letter and length of the next string, counted as made.
    fn draw(&mut self) -> (u8, usize) {
        let len = self.sizes.draw(&mut self.rng);
        let l = letter(self.rng.next());
        self.count_made(len);
        (l, len)
    }

    /// Counts a string of `len` bytes the workload's code made.
    fn count_made(&mut self, len: usize) {
        self.tally.made += 1;
        self.tally.made_bytes += len as u64;
    }

    fn corrupt(&self, detail: String) -> WorkloadError {
        WorkloadError::Corrupt {
            kind: self.kind,
            detail,
        }
    }

    /// Checks a string's contents. A value the backend refuses to read (a hazard, only
    /// on the seed policy) is counted as refused instead.
    fn check_str(&mut self, s: &Str<'_, A>, letter: u8, len: usize) -> Result<(), WorkloadError> {
        let Ok(s) = s.try_as_str() else {
            self.tally.refused += 1;
            return Ok(());
        };
        self.tally.checked += 1;
        if s.len() != len || !s.bytes().all(|b| b == letter) {
            let shown: String = s.chars().take(16).collect();
            return Err(self.corrupt(format!(
                "expected {len} × {:?}, found {} bytes starting {shown:?}",
                letter as char,
                s.len()
            )));
        }
        Ok(())
    }

    fn check(&mut self, m: &Made<'_, A>) -> Result<(), WorkloadError> {
        self.check_str(&m.value, m.letter, m.len)
    }

    /// Sends a copy of `v`; a value the backend refuses to read is counted as refused and
    /// replaced by an empty message with the same key, so the receiver's count holds.
    fn send(
        &mut self,
        tx: &strand_alloc::ValueSender,
        v: &Value<'s, A>,
        key: u64,
    ) -> Result<(), WorkloadError> {
        let p = match self.strand.try_export(v) {
            Ok(p) => p,
            Err(_) => {
                self.tally.refused += 1;
                PortableVariant::new(
                    key as u32,
                    vec![
                        PortableValue::Int(key as i64),
                        PortableValue::Str("".into()),
                    ],
                )
                .into()
            }
        };
        tx.send_portable(p)
            .map_err(|_| self.corrupt("the receiving strand hung up".into()))
    }

    /// A message: variant `tag` of (Int key, Str payload).
    fn message(&mut self, key: u64) -> (Value<'s, A>, u8, usize) {
        let m = self.make();
        let v = self
            .strand
            .variant(key as u32, [Value::Int(key as i64), m.value.into()]);
        (v.into(), m.letter, m.len)
    }

    /// Checks a received message and returns its key, letter and length (`None` when
    /// the backend refused to read it).
    fn read_message(
        &mut self,
        v: &Value<'s, A>,
    ) -> Result<Option<(u64, u8, usize)>, WorkloadError> {
        let var = v
            .as_variant()
            .ok_or_else(|| self.corrupt("a message is not a variant".into()))?;
        let Ok(fields) = var.try_fields() else {
            self.tally.refused += 1;
            return Ok(None);
        };
        let (key, payload) = match fields {
            [Value::Int(k), Value::Str(s)] => (*k as u64, s),
            _ => return Err(self.corrupt("a message has the wrong fields".into())),
        };
        if var.tag() != key as u32 {
            return Err(self.corrupt(format!("tag {} does not match key {key}", var.tag())));
        }
        let Ok(s) = payload.try_as_str() else {
            self.tally.refused += 1;
            return Ok(None);
        };
        let l = s.as_bytes().first().copied().unwrap_or(b'a');
        let len = s.len();
        self.check_str(payload, l, len)?;
        Ok(Some((key, l, len)))
    }
}

/// What one strand checked.
#[derive(Debug, Clone, Copy, Default)]
struct Tally {
    /// Strings the workload's own code made, and their bytes: a plain count, kept apart
    /// from the library's figures, to check them against.
    made: u64,
    made_bytes: u64,
    checked: u64,
    refused: u64,
}

type Body<A> = Box<dyn FnOnce(&mut Strand<A>) -> Result<Tally, WorkloadError> + Send>;

/// Spawned strands of one run, joined together.
struct Crew<A: ValueAllocator> {
    kind: Kind,
    config: Config,
    handles: Vec<JoinHandle<Result<Tally, WorkloadError>>>,
    figures: Figures,
    checked: u64,
    refused: u64,
    made: u64,
    made_bytes: u64,
    _backend: std::marker::PhantomData<fn() -> A>,
}

impl<A: ValueAllocator> Crew<A> {
    fn new(kind: Kind, config: Config) -> Self {
        Crew {
            kind,
            config,
            handles: Vec::new(),
            figures: Figures::default(),
            checked: 0,
            refused: 0,
            made: 0,
            made_bytes: 0,
            _backend: std::marker::PhantomData,
        }
    }

    fn spawn(&mut self, body: Body<A>) -> Result<(), WorkloadError> {
        // SAFETY: the workload bodies below use no thread-locals and hold nothing `!Send`.
        // On a backend that is not `SAFE` (the seed policy, run on purpose to count its
        // hazards) they read each borrowed string at once and keep no borrow across an
        // allocation, a hop or a channel wait (`Strand::local_unchecked`'s contract).
        let h = unsafe { Builder::<A>::new().config(self.config).spawn(body) }.map_err(
            |e: SpawnError| WorkloadError::Spawn {
                kind: self.kind,
                message: e.to_string(),
            },
        )?;
        self.handles.push(h);
        Ok(())
    }

    /// Joins every strand spawned so far; the first failure wins, but all are joined.
    fn join(&mut self) -> Result<(), WorkloadError> {
        let mut first = Ok(());
        for h in self.handles.drain(..) {
            let (r, report) = h.join_report();
            if let Some(rep) = report {
                self.figures.accumulate(&rep.figures);
            }
            let r = match r {
                Ok(Ok(t)) => {
                    self.checked += t.checked;
                    self.made += t.made;
                    self.made_bytes += t.made_bytes;
                    self.refused += t.refused;
                    Ok(())
                }
                Ok(Err(e)) => Err(e),
                Err(p) => Err(WorkloadError::Panicked {
                    kind: self.kind,
                    message: panic_message(&*p),
                }),
            };
            if first.is_ok() {
                first = r;
            }
        }
        first
    }
}

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".to_string()
    }
}

/// Runs `w` on backend `A` with allocation settings `config`, under the May scheduler
/// (configured by [`strand_alloc::SchedulerConfig`], or May's defaults).
pub fn run<A: ValueAllocator>(w: &Workload, config: Config) -> Result<Outcome, WorkloadError> {
    w.validate()?;
    let mut crew = Crew::<A>::new(w.kind, config);
    let start = Instant::now();
    let result = match w.kind {
        Kind::Requests => requests(w, &mut crew),
        Kind::LongLived => long_lived(w, &mut crew),
        Kind::Migrate => migrate(w, &mut crew),
        Kind::Pipeline => pipeline(w, &mut crew),
        Kind::Phases => phases(w, &mut crew),
        Kind::Handoff => handoff(w, &mut crew),
        Kind::Actor => actor(w, &mut crew, false),
        Kind::ActorScoped => actor(w, &mut crew, true),
    };
    // Join whatever was spawned even when spawning failed part-way.
    let joined = crew.join();
    let wall = start.elapsed();
    result?;
    joined?;
    Ok(Outcome {
        wall,
        figures: crew.figures,
        checked: crew.checked,
        made: crew.made,
        made_bytes: crew.made_bytes,
        refused: crew.refused,
    })
}

/// Values the allocator's own cost is measured on (see [`own_cost`]).
pub const OWN_COST_VALUES: usize = 200_000;
/// Values held at once while the own cost is measured.
pub const OWN_COST_BATCH: usize = 64;

/// The allocator's own cost per value on backend `A`, in nanoseconds: inside one spawned
/// strand with settings `config`, [`OWN_COST_VALUES`] strings with the workload's sizes
/// (same generator and seed) are allocated and dropped, [`OWN_COST_BATCH`] held at a
/// time, after one untimed batch. Nothing else happens in the timed loop (the bytes are
/// written once, as the workload writes them), so the time is the allocation, the copy
/// into it and the release: what the backend costs apart from the workload's other work
/// (spawning, hops, channel waits, reading values back).
pub fn own_cost<A: ValueAllocator>(w: &Workload, config: Config) -> Result<f64, WorkloadError> {
    let w = *w;
    // SAFETY: the closure uses no thread-locals and holds nothing `!Send`; on a backend
    // that is not `SAFE` it keeps no borrow of a value across an allocation that could
    // reset it (the values are only dropped).
    let h = unsafe {
        Builder::<A>::new().config(config).spawn(move |strand| {
            let mut rng = Rng::new(w.seed, u64::MAX);
            let lens: Vec<usize> = (0..4096).map(|_| w.sizes.draw(&mut rng)).collect();
            let mut next = lens.iter().copied().cycle();
            let strand: &Strand<A> = strand;
            let mut held = Vec::with_capacity(OWN_COST_BATCH);
            let rounds = OWN_COST_VALUES / OWN_COST_BATCH;
            let mut start = Instant::now();
            // Round 0 warms up and is not timed.
            for round in 0..=rounds {
                if round == 1 {
                    start = Instant::now();
                }
                for len in next.by_ref().take(OWN_COST_BATCH) {
                    held.push(strand.str(text(b'a', len)));
                }
                held.clear();
            }
            start.elapsed().as_nanos() as f64 / (rounds * OWN_COST_BATCH) as f64
        })
    }
    .map_err(|e| WorkloadError::Spawn {
        kind: w.kind,
        message: e.to_string(),
    })?;
    h.join().map_err(|p| WorkloadError::Panicked {
        kind: w.kind,
        message: panic_message(&*p),
    })
}

/// Request strands in flight at once.
const IN_FLIGHT: usize = 512;

fn requests<A: ValueAllocator>(w: &Workload, crew: &mut Crew<A>) -> Result<(), WorkloadError> {
    let w = *w;
    for s in 0..w.strands {
        if crew.handles.len() == IN_FLIGHT {
            crew.join()?;
        }
        crew.spawn(Box::new(move |strand| {
            let mut cx = Ctx::new(strand, &w, s as u64);
            let mut held = Vec::with_capacity(w.allocs);
            let mut variants = Vec::new();
            for i in 0..w.allocs {
                if i == w.allocs / 2 {
                    // Wait for "I/O": other requests run on this thread meanwhile.
                    may::coroutine::yield_now();
                }
                if i % 8 == 7 {
                    let (v, l, len) = cx.message(i as u64);
                    variants.push((v, l, len));
                } else {
                    held.push(cx.make());
                }
            }
            for m in &held {
                cx.check(m)?;
            }
            for (v, l, len) in &variants {
                if let Some((_, l2, len2)) = cx.read_message(v)? {
                    if (l2, len2) != (*l, *len) {
                        return Err(cx.corrupt("a response variant changed".into()));
                    }
                }
            }
            Ok(cx.tally)
        }))?;
    }
    Ok(())
}

/// Values each churning or migrating strand keeps alive.
const WINDOW: usize = 256;

fn churn<A: ValueAllocator>(
    w: Workload,
    s: usize,
    strand: &Strand<A>,
    window: usize,
    every_hop: Option<usize>,
) -> Result<Tally, WorkloadError> {
    let mut cx = Ctx::new(strand, &w, s as u64);
    let mut live: VecDeque<Made<'_, A>> = VecDeque::with_capacity(window);
    for i in 0..w.allocs {
        let m = cx.make();
        if live.len() == window {
            let old = live.pop_front().expect("window is full");
            cx.check(&old)?;
        }
        live.push_back(m);
        match every_hop {
            Some(n) if i % n == n - 1 => hop(),
            None if i % 1024 == 1023 => may::coroutine::yield_now(),
            _ => {}
        }
    }
    for m in &live {
        cx.check(m)?;
    }
    Ok(cx.tally)
}

fn long_lived<A: ValueAllocator>(w: &Workload, crew: &mut Crew<A>) -> Result<(), WorkloadError> {
    let w = *w;
    for s in 0..w.strands {
        crew.spawn(Box::new(move |strand| churn(w, s, strand, WINDOW, None)))?;
    }
    Ok(())
}

fn migrate<A: ValueAllocator>(w: &Workload, crew: &mut Crew<A>) -> Result<(), WorkloadError> {
    let w = *w;
    for s in 0..w.strands {
        crew.spawn(Box::new(move |strand| churn(w, s, strand, 32, Some(1))))?;
    }
    Ok(())
}

/// Stages per pipeline chain: a producer, two transformers, a sink.
const STAGES: usize = 4;

fn pipeline<A: ValueAllocator>(w: &Workload, crew: &mut Crew<A>) -> Result<(), WorkloadError> {
    let w = *w;
    let chains = w.strands.div_ceil(STAGES);
    for c in 0..chains {
        let (first_tx, mut input) = channel();
        let stream = (c * STAGES) as u64;
        crew.spawn(Box::new(move |strand| {
            let mut cx = Ctx::new(strand, &w, stream);
            for k in 0..w.allocs as u64 {
                let (v, _, _) = cx.message(k);
                cx.send(&first_tx, &v, k)?;
            }
            Ok(cx.tally)
        }))?;
        for stage in 1..STAGES - 1 {
            let (output, next_input) = channel();
            let stage_input = std::mem::replace(&mut input, next_input);
            let stream = stream + stage as u64;
            crew.spawn(Box::new(move |strand| {
                let mut cx = Ctx::new(strand, &w, stream);
                let mut expect = 0u64;
                while let Ok(v) = stage_input.recv_in(strand) {
                    let (key, l, len) = cx.read_message(&v)?.unwrap_or((expect, b'a', 0));
                    if key != expect {
                        return Err(cx.corrupt(format!("message {key} arrived for {expect}")));
                    }
                    expect += 1;
                    // Transform: the next letter, same length, in this stage's memory.
                    let next = letter((l - b'a') as u64 + 1);
                    let s = strand.str(text(next, len));
                    let out = strand.variant(key as u32, [Value::Int(key as i64), s.into()]);
                    drop(v);
                    cx.send(&output, &out.into(), key)?;
                }
                Ok(cx.tally)
            }))?;
        }
        let stream = stream + (STAGES - 1) as u64;
        crew.spawn(Box::new(move |strand| {
            let mut cx = Ctx::new(strand, &w, stream);
            let mut got = 0u64;
            while let Ok(v) = input.recv_in(strand) {
                let (key, _, _) = cx.read_message(&v)?.unwrap_or((got, b'a', 0));
                if key != got {
                    return Err(cx.corrupt(format!("message {key} arrived for {got}")));
                }
                got += 1;
            }
            if got != w.allocs as u64 {
                return Err(cx.corrupt(format!("{got} of {} messages arrived", w.allocs)));
            }
            Ok(cx.tally)
        }))?;
    }
    Ok(())
}

/// Phases of strand generations.
const PHASES: usize = 4;
/// One value in this many survives into the next phase.
const SURVIVE_EVERY: usize = 16;

fn phases<A: ValueAllocator>(w: &Workload, crew: &mut Crew<A>) -> Result<(), WorkloadError> {
    let w = *w;
    let mut survivors: Vec<PortableValue> = Vec::new();
    for phase in 0..PHASES {
        let (tx, rx) = channel();
        // Hand the previous phase's survivors round-robin to this phase's strands.
        let mut inherit: Vec<Vec<PortableValue>> = (0..w.strands).map(|_| Vec::new()).collect();
        survivors.sort_by_key(|p| match p {
            PortableValue::Variant(v) => v.tag,
            _ => 0,
        });
        for (i, p) in survivors.drain(..).enumerate() {
            inherit[i % w.strands].push(p);
        }
        for (s, inherited) in inherit.into_iter().enumerate() {
            let tx = tx.clone();
            let stream = (phase * w.strands + s) as u64;
            crew.spawn(Box::new(move |strand| {
                let mut cx = Ctx::new(strand, &w, stream);
                let mut kept = Vec::with_capacity(inherited.len());
                for p in inherited {
                    kept.push(strand.import(p));
                }
                let mut own = Vec::with_capacity(w.allocs);
                for i in 0..w.allocs {
                    let key = (stream << 20) | i as u64;
                    own.push(cx.message(key & 0xFFFF_FFFF));
                    if i % 64 == 63 {
                        may::coroutine::yield_now();
                    }
                }
                for v in &kept {
                    cx.read_message(v)?;
                }
                for (i, (v, l, len)) in own.iter().enumerate() {
                    if let Some((_, l2, len2)) = cx.read_message(v)? {
                        if (l2, len2) != (*l, *len) {
                            return Err(cx.corrupt("a kept variant changed".into()));
                        }
                    }
                    if i % SURVIVE_EVERY == 0 {
                        cx.send(&tx, v, ((stream << 20) | i as u64) & 0xFFFF_FFFF)?;
                    }
                }
                Ok(cx.tally)
            }))?;
        }
        drop(tx);
        // The phase ends: every strand of it is destroyed.
        crew.join()?;
        while let Some(p) = rx.try_recv() {
            survivors.push(p);
        }
        // Survivors of the last phase are dropped; earlier ones carry the run forward.
        let expect = w.strands * w.allocs.div_ceil(SURVIVE_EVERY);
        if survivors.len() != expect {
            return Err(WorkloadError::Corrupt {
                kind: w.kind,
                detail: format!("{} of {expect} survivors arrived", survivors.len()),
            });
        }
    }
    Ok(())
}

/// Values a handoff consumer keeps before dropping the oldest.
const HANDOFF_WINDOW: usize = 64;

fn handoff<A: ValueAllocator>(w: &Workload, crew: &mut Crew<A>) -> Result<(), WorkloadError> {
    let w = *w;
    let pairs = w.strands / 2;
    for p in 0..pairs {
        let (tx, rx) = channel();
        let stream = (2 * p) as u64;
        crew.spawn(Box::new(move |strand| {
            let mut cx = Ctx::new(strand, &w, stream);
            for k in 0..w.allocs as u64 {
                let (v, _, _) = cx.message(k);
                cx.send(&tx, &v, k)?;
                if k % 32 == 31 {
                    may::coroutine::yield_now();
                }
            }
            Ok(cx.tally)
        }))?;
        crew.spawn(Box::new(move |strand| {
            let mut cx = Ctx::new(strand, &w, stream + 1);
            let mut window = VecDeque::with_capacity(HANDOFF_WINDOW);
            let mut got = 0u64;
            while let Ok(v) = rx.recv_in(strand) {
                cx.read_message(&v)?;
                // Each consumed value also gets a reply-sized string of the consumer's own.
                let own = cx.make();
                if window.len() == HANDOFF_WINDOW {
                    let (old, m): (Value<'_, A>, Made<'_, A>) =
                        window.pop_front().expect("window is full");
                    cx.read_message(&old)?;
                    cx.check(&m)?;
                }
                window.push_back((v, own));
                got += 1;
            }
            if got != w.allocs as u64 {
                return Err(cx.corrupt(format!("{got} of {} values arrived", w.allocs)));
            }
            Ok(cx.tally)
        }))?;
    }
    Ok(())
}

/// Values each `actor` message makes besides the new state.
pub const PARTS: usize = 8;
/// Messages an actor handles between yields (as if waiting for its next messages).
const ACTOR_BATCH: usize = 8;
/// The largest state an actor keeps.
pub const STATE_MAX: usize = 1024;

/// The actors: each handles `w.allocs` messages; a message makes [`PARTS`] values, checks
/// them and the state, and replaces the state with a new one of at most [`STATE_MAX`]
/// bytes. With `scoped`, one scope per message: the parts and the new state are made in
/// it, and the state escapes to the heap; without, everything is made on the strand and
/// the message's values are dropped when it is done (as a runtime writes it today).
fn actor<A: ValueAllocator>(
    w: &Workload,
    crew: &mut Crew<A>,
    scoped: bool,
) -> Result<(), WorkloadError> {
    let w = *w;
    for s in 0..w.strands {
        crew.spawn(Box::new(move |strand| {
            let strand: &Strand<A> = strand;
            let mut cx = Ctx::new(strand, &w, s as u64);
            let (mut state, mut state_letter, mut state_len) = (strand.str(""), b'a', 0);
            for m in 0..w.allocs {
                let next_letter = letter(m as u64 + s as u64);
                let (next, len) = if scoped {
                    strand.scope(|sc| -> Result<_, WorkloadError> {
                        let parts: Vec<_> = (0..PARTS).map(|_| cx.make_in(sc)).collect();
                        for p in &parts {
                            cx.check(p)?;
                        }
                        cx.check_str(&state, state_letter, state_len)?;
                        let len = next_state_len(&parts, state_len);
                        let fresh = sc.str(text(next_letter, len));
                        cx.count_made(len);
                        cx.count_made(len);
                        Ok((sc.to_heap(&fresh), len))
                    })?
                } else {
                    let parts: Vec<_> = (0..PARTS).map(|_| cx.make()).collect();
                    for p in &parts {
                        cx.check(p)?;
                    }
                    cx.check_str(&state, state_letter, state_len)?;
                    let len = next_state_len(&parts, state_len);
                    cx.count_made(len);
                    (strand.str(text(next_letter, len)), len)
                };
                (state, state_letter, state_len) = (next, next_letter, len);
                if m % ACTOR_BATCH == ACTOR_BATCH - 1 {
                    may::coroutine::yield_now();
                }
            }
            cx.check_str(&state, state_letter, state_len)?;
            Ok(cx.tally)
        }))?;
    }
    Ok(())
}

/// The length of an actor's next state: from the message's parts and the state before,
/// 1 to [`STATE_MAX`] bytes.
fn next_state_len<A: ValueAllocator>(parts: &[Made<'_, A>], before: usize) -> usize {
    let sum: usize = parts.iter().map(|p| p.len).sum();
    1 + (sum * 7 + before) % STATE_MAX
}
