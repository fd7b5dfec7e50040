//! One-word handles: values for a runtime that keeps them as tagged words and works
//! through `extern "C"` calls, with no `&Strand` at hand.
//!
//! A [`Handle`] is one machine word: the address of a slot ([`crate::slot`]), aligned to
//! at least 64 bytes, so a runtime may use the low bits as its own tag
//! ([`Handle::to_word`], [`Handle::from_word`]). Everything a handle operation needs is in
//! the slot or reached from it; no operation takes a strand:
//!
//! - **Make** ([`Handle::new_str`], [`Handle::new_bytes`], and `unsafe`
//!   [`Handle::new_variant`], which takes over the handles it is given): allocated from
//!   the calling context's strand for backend `A` (a May coroutine's, or a plain
//!   thread's own: [`crate::current`]), which *owns* the value.
//! - **Read** ([`Handle::as_str`], [`Handle::as_bytes`], [`Handle::fields`]): `unsafe`,
//!   one load and a kind test. An owned value is read by its owner only; a shared one by
//!   anyone.
//! - **Share** ([`Handle::share`], a runtime's *dup*): the first share of an owned value
//!   moves it, and every value it holds, to the global heap (one copy, `O(size)`, in
//!   constant stack) and gives it a count of holders; later shares add one to the count.
//!   The word does not change: every copy of it now names the shared value, readable from
//!   any strand and thread for as long as any holder keeps it, whatever becomes of the
//!   strand that made it. Shared values never pin an arena.
//! - **Release** ([`Handle::release`]), from anywhere: by the owner, at once; by anyone
//!   else while the owner lives, handed back to the owner (one compare-and-swap) and
//!   freed at its next allocation, reset or end; a shared value, by whoever lets go last,
//!   at any time.
//! - **Reset** ([`reset_current`]): `unsafe`; frees every owned value of the calling
//!   context's strand at once, and leaves shared values alone. A strand's end does the
//!   same.
//! - **Scope** ([`enter_scope`], `unsafe` [`leave_scope`]): for a long-lived strand that
//!   handles one message at a time, the leave frees every value made since the enter
//!   that the strand still owns, released or not; a value kept for later is shared
//!   first. Scopes nest, and a leave out of order is refused in every build.
//!
//! A handle has no `Drop`: a word the runtime loses (on the stack of a cancelled
//! coroutine, say) is not released. An owned value is still freed with its owner's reset
//! or end; a shared one stays until its other holders let go, and one hold lost is one
//! value kept for good.
//!
//! What is the caller's duty, and what `checked` catches (reading only the slot, before
//! any byte of the value; a slot is free until it is reused, and `checked` reuses free
//! slots last, so a stale word is refused for as long as its slot holds nothing newer):
//!
//! | misuse | plain build | `checked` |
//! |---|---|---|
//! | reading or sharing an owned value from another strand (a word copied without share) | undefined | refused ([`HandleError::Foreign`]), counted |
//! | using an owned value after its owner's reset or end | undefined | refused ([`HandleError::Stale`] or [`HandleError::Released`]), counted, while its slot holds nothing newer |
//! | using a value made in a handle scope, not shared, after the scope's leave | undefined | refused ([`HandleError::Released`] or [`HandleError::Stale`]), counted, while its slot holds nothing newer |
//! | leaving a handle scope that is not the innermost open one (out of order, twice, after a reset, another strand's) | refused ([`HandleError::ScopeOrder`]), nothing freed | the same |
//! | using a handle after it was released (through any copy) | undefined | refused ([`HandleError::Released`]), counted, while its slot holds nothing newer |
//! | giving a variant a handle that is not the caller's to give (released, repeated, another strand's owned value, a shared value more often than it is held) | undefined | what the slots tell is refused in every build ([`HandleError::Released`], [`HandleError::RepeatedField`], [`HandleError::ForeignField`]); a shared value given too often is not |
//! | a word that did not come from [`Handle::to_word`] of this backend | undefined | refused by [`Handle::from_word`] (`None`) unless it names a slot of this backend |
//!
//! ```
//! # #[cfg(feature = "thread-arena")] {
//! use strand_alloc::{ThreadArena, Handle};
//! type H = Handle<ThreadArena>;
//! // A plain thread: its own strand owns the value.
//! let word = H::new_str("hello").unwrap().to_word();
//! // ... the word lives on the runtime's stack ...
//! // SAFETY: `word` came from `to_word` and was not released.
//! let h = unsafe { H::from_word(word) }.unwrap();
//! // SAFETY: the value is live and this thread owns it.
//! assert_eq!(unsafe { h.as_str() }.unwrap(), "hello");
//! // A second holder: now readable from any thread.
//! // SAFETY: as above.
//! let copy = unsafe { h.share() }.unwrap();
//! assert_eq!(copy.to_word(), word);
//! let reader = std::thread::spawn(move || {
//!     // SAFETY: `copy` is shared and not released yet; this thread releases it once.
//!     let n = unsafe { copy.as_str() }.unwrap().len();
//!     unsafe { copy.release() }.unwrap();
//!     n
//! });
//! assert_eq!(reader.join().unwrap(), 5);
//! // SAFETY: the last holder lets go.
//! unsafe { h.release() }.unwrap();
//! # }
//! ```

use crate::allocator::{Ticket, ValueAllocator};
use crate::current;
use crate::error::{AllocError, CurrentError, Hazard};
use crate::home::Home;
pub use crate::home::MAX_HANDLE_SCOPES;
use crate::ownership::{collect, free_owned, owned_here, promote, refused, release_shared, sweep};
pub use crate::ownership::{Field, Handle};
use crate::slot::{is_shared, Slot, SlotKind, MAX_SHARED, MOVING, OWNED};
use crate::stats::Counter;
use crate::strand::Strand;
use std::alloc::Layout;
use std::fmt;
use std::ptr::{self, NonNull};
use std::sync::atomic::Ordering;

impl<A: ValueAllocator> fmt::Debug for Handle<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.slot();
        let (kind, len) = s.shape();
        let state = s.state.load(Ordering::Relaxed);
        let holders = match state {
            OWNED => "owned".to_string(),
            n if is_shared(n) => format!("shared by {n}"),
            _ => "free".to_string(),
        };
        write!(
            f,
            "Handle({:#x}: {kind:?} of {len}, {holders})",
            self.to_word()
        )
    }
}

/// What a handle holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandleKind {
    /// A UTF-8 string.
    Str,
    /// A byte string.
    Bytes,
    /// A variant: a tag and fields.
    Variant,
}

impl From<SlotKind> for HandleKind {
    fn from(k: SlotKind) -> Self {
        match k {
            SlotKind::Str => HandleKind::Str,
            SlotKind::Bytes => HandleKind::Bytes,
            SlotKind::Variant => HandleKind::Variant,
        }
    }
}

/// A handle operation was refused. Nothing was allocated, read or released.
///
/// Sixteen bytes, so that the hot calls return their results in registers: the rare
/// errors that carry more are boxed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HandleError {
    /// There is no current strand to allocate from (see [`CurrentError`]).
    #[error(transparent)]
    Current(Box<CurrentError>),
    /// The allocation was refused.
    #[error(transparent)]
    Alloc(Box<AllocError>),
    /// An owned (never shared) value was used outside the strand that owns it: a word
    /// copied without [`Handle::share`]. Refused under `checked` (counted as a hazard);
    /// a plain build does not look.
    #[error(
        "an owned value was used outside its owner strand (a word copied without share); \
         share it before it leaves the strand"
    )]
    Foreign,
    /// An owned value was used after its owner was reset or ended. Refused under
    /// `checked` (counted as a hazard); a plain build does not look, except that a
    /// release by the owner of a value from before its reset is ignored.
    #[error("an owned value was used after its owner strand reset or ended")]
    Stale,
    /// The handle's value was already released. Refused under `checked` while the slot
    /// is still free (counted as a hazard).
    #[error("the value was already released")]
    Released,
    /// The value's arena generation was invalidated (`checked`).
    #[error(transparent)]
    Hazard(Box<Hazard>),
    /// The handle holds another kind of value.
    #[error("the handle holds a {found:?}, not a {expected:?}")]
    WrongKind {
        /// The kind asked for.
        expected: HandleKind,
        /// The kind it holds.
        found: HandleKind,
    },
    /// A shared value already has the most holders a count can keep.
    #[error("the value already has {max} holders", max = MAX_SHARED)]
    TooManyHolders,
    /// A variant's field is an owned value of another strand, or of this one from before
    /// its reset (share a value before it leaves its strand).
    #[error(
        "field {index} is an owned value of another strand, or of this one from before its \
         reset: share it first"
    )]
    ForeignField {
        /// The field's position.
        index: usize,
    },
    /// [`leave_scope`] was given a mark that is not the calling context's innermost open
    /// handle scope: a scope left out of order or twice, one that a reset closed, or
    /// another strand's. Nothing was freed.
    #[error(
        "the scope to leave is not the innermost open scope of this strand (left out of \
         order or twice, closed by a reset, or another strand's)"
    )]
    ScopeOrder,
    /// [`enter_scope`] was refused: [`MAX_HANDLE_SCOPES`] scopes are open already.
    #[error("{max} handle scopes are open already", max = MAX_HANDLE_SCOPES)]
    ScopeDepth,
    /// The same owned value is given to a variant in two fields (share it for the second).
    #[error("field {index} repeats an owned value given in an earlier field: share it first")]
    RepeatedField {
        /// The position of the repeat.
        index: usize,
    },
}

impl From<CurrentError> for HandleError {
    #[cold]
    fn from(e: CurrentError) -> Self {
        HandleError::Current(Box::new(e))
    }
}

impl From<AllocError> for HandleError {
    #[cold]
    fn from(e: AllocError) -> Self {
        HandleError::Alloc(Box::new(e))
    }
}

impl From<Hazard> for HandleError {
    #[cold]
    fn from(e: Hazard) -> Self {
        HandleError::Hazard(Box::new(e))
    }
}

impl HandleError {
    /// The current-strand error, if that is what this is.
    pub fn as_current(&self) -> Option<&CurrentError> {
        match self {
            HandleError::Current(e) => Some(e),
            _ => None,
        }
    }

    /// The allocation error, if that is what this is.
    pub fn as_alloc(&self) -> Option<&AllocError> {
        match self {
            HandleError::Alloc(e) => Some(e),
            _ => None,
        }
    }
}

const _: () = assert!(std::mem::size_of::<HandleError>() <= 16);

/// The calling context's home and strand, for one operation, after collecting what was
/// released elsewhere.
#[inline]
fn here<A: ValueAllocator>() -> Result<(&'static Home, &'static Strand<A>), HandleError> {
    let (home, strand) = looked_up::<A>()?;
    if home.has_remote() {
        collect::<A>(home, strand);
    }
    Ok((home, strand))
}

/// The calling context's home and strand.
#[inline]
fn looked_up<A: ValueAllocator>() -> Result<(&'static Home, &'static Strand<A>), HandleError> {
    let home = current::home::<A>()?;
    if home.busy.load(Ordering::Acquire) {
        return Err(CurrentError::InUse { backend: A::NAME }.into());
    }
    // SAFETY: `home` came from `home::<A>()` in this context and `busy` is clear; the
    // strand lives while the home is attached to this context, which it is for the rest
    // of this call (a library call never yields).
    let strand = unsafe { current::strand_of::<A>(home) };
    Ok((home, strand))
}

/// The checks of [`Handle::new_variant`] on its fields: every value live, every owned one
/// this strand's (in its current epoch) and given once. Owned fields are marked `MOVING`
/// while they are looked at, so a repeat is seen, and marked owned again before this
/// returns, whatever it returns.
fn check_fields<A: ValueAllocator>(home: &Home, fields: &[Field<A>]) -> Result<(), HandleError> {
    let mut marked = 0;
    let mut verdict = Ok(());
    for (index, f) in fields.iter().enumerate() {
        let Field::Value(h) = f else { continue };
        let s = h.slot();
        let st = s.state.load(Ordering::Acquire);
        if is_shared(st) {
            continue;
        }
        verdict = match st {
            OWNED if owned_here(s, home) => {
                s.state.store(MOVING, Ordering::Relaxed);
                marked = index + 1;
                continue;
            }
            OWNED => {
                refused::<A>();
                Err(HandleError::ForeignField { index })
            }
            MOVING => Err(HandleError::RepeatedField { index }),
            _ => {
                refused::<A>();
                Err(HandleError::Released)
            }
        };
        break;
    }
    for f in &fields[..marked] {
        if let Field::Value(h) = f {
            let s = h.slot();
            if s.state.load(Ordering::Relaxed) == MOVING {
                s.state.store(OWNED, Ordering::Release);
            }
        }
    }
    verdict
}

/// A free slot and memory for `layout` from the calling context's strand; nothing is
/// taken when either is refused.
#[inline]
fn take<A: ValueAllocator>(
    home: &'static Home,
    strand: &Strand<A>,
    layout: Layout,
) -> Result<(&'static Slot, NonNull<u8>, Ticket), HandleError> {
    // A value made in a handle scope is recorded, for the scope's leave to free: the
    // record's room is made before anything is taken.
    let scoped = home.depth() != 0;
    // SAFETY: this code runs as the home's strand (`here`).
    if scoped && !unsafe { home.reserve_made() } {
        return Err(AllocError::OutOfMemory {
            backend: A::NAME,
            requested: std::mem::size_of::<usize>(),
        }
        .into());
    }
    // SAFETY: this code runs as the home's strand (`here`).
    let slot = unsafe { home.pop_slot(A::registry()) }.ok_or(AllocError::OutOfMemory {
        backend: A::NAME,
        requested: crate::slot::BLOCK_SIZE,
    })?;
    match strand.alloc_raw(layout, false) {
        Ok((ptr, ticket)) => {
            if scoped {
                // SAFETY: as above; room was reserved just now.
                unsafe { home.record_made(slot) };
            }
            Ok((slot, ptr, ticket))
        }
        Err(e) => {
            // SAFETY: as above; the slot goes back unused.
            unsafe { home.push_free(slot) };
            Err(e.into())
        }
    }
}

impl<A: ValueAllocator> Handle<A> {
    /// The handle as a word: an address aligned to [`crate::slot::SLOT_SIZE`] (at least
    /// 64), so its low 6 bits are zero and a runtime may tag them.
    #[inline]
    pub fn to_word(self) -> usize {
        self.slot() as *const Slot as usize
    }

    /// The handle as a pointer: the same address as [`Handle::to_word`], with its
    /// provenance, for runtimes (and checkers such as Miri's strict provenance) that keep
    /// words as pointers and tag them with `map_addr`.
    #[inline]
    pub fn to_ptr(self) -> *mut () {
        self.slot() as *const Slot as *mut ()
    }

    /// The handle a pointer from [`Handle::to_ptr`] names; as [`Handle::from_word`].
    ///
    /// # Safety
    ///
    /// `p` came from [`Handle::to_ptr`] of a handle of this backend.
    #[inline]
    pub unsafe fn from_ptr(p: *mut ()) -> Option<Self> {
        let addr = p as usize;
        if addr == 0 || addr % crate::slot::SLOT_SIZE != 0 {
            return None;
        }
        #[cfg(feature = "checked")]
        if !crate::slot::is_slot(addr, crate::current::backend_id::<A>()) {
            return None;
        }
        // SAFETY: the caller's contract: the pointer names a slot.
        Some(Handle::of(unsafe { &*(p as *const Slot) }))
    }

    /// The handle a word names.
    ///
    /// `None` for zero or a misaligned word; with `checked`, also for any word that is
    /// not the address of a slot of this backend (a word forged from an integer, or
    /// another backend's).
    ///
    /// # Safety
    ///
    /// `word` came from [`Handle::to_word`] of a handle of this backend (checked builds
    /// verify that it names a slot of this backend, not which value it was made for).
    #[inline]
    pub unsafe fn from_word(word: usize) -> Option<Self> {
        // SAFETY: forwarded; the word's address is the pointer's.
        unsafe { Self::from_ptr(word as *mut ()) }
    }

    /// A new string, owned by the calling context's strand.
    #[inline]
    pub fn new_str(s: &str) -> Result<Self, HandleError> {
        Self::make(s.as_bytes(), SlotKind::Str)
    }

    /// A new byte string, owned by the calling context's strand.
    #[inline]
    pub fn new_bytes(b: &[u8]) -> Result<Self, HandleError> {
        Self::make(b, SlotKind::Bytes)
    }

    #[inline]
    fn make(b: &[u8], kind: SlotKind) -> Result<Self, HandleError> {
        let layout =
            Layout::from_size_align(b.len(), 1).map_err(|_| AllocError::invalid(b.len(), 1))?;
        let (home, strand) = here::<A>()?;
        let (slot, ptr, ticket) = take(home, strand, layout)?;
        // SAFETY: `ptr` is valid for `b.len()` bytes of writes (the backend's contract)
        // and cannot overlap `b`, which the caller still borrows.
        unsafe { ptr::copy_nonoverlapping(b.as_ptr(), ptr.as_ptr(), b.len()) };
        Ok(Self::own(home, slot, ptr, b.len(), kind, ticket, 0))
    }

    /// Fills a slot as an owned value of `home`.
    #[inline]
    fn own(
        home: &'static Home,
        slot: &'static Slot,
        ptr: NonNull<u8>,
        len: usize,
        kind: SlotKind,
        ticket: Ticket,
        tag: u32,
    ) -> Self {
        slot.owner
            .store(home as *const Home as *mut (), Ordering::Relaxed);
        slot.epoch
            .store(home.epoch.load(Ordering::Relaxed), Ordering::Relaxed);
        slot.ptr.store(ptr.as_ptr(), Ordering::Relaxed);
        slot.set_shape(kind, len);
        slot.tag.store(tag, Ordering::Relaxed);
        // SAFETY: the slot was just taken from the owner's free list: nobody else uses
        // it, and its ticket is the owner's to write.
        unsafe { *slot.ticket.get() = ticket };
        slot.state.store(OWNED, Ordering::Release);
        Self::of(slot)
    }

    /// A new variant of `fields`, owned by the calling context's strand. The handles
    /// among the fields are given to the variant: releasing it releases them.
    ///
    /// Refused, with nothing taken: a field that is an owned value of another strand, or
    /// of this strand from before its reset ([`HandleError::ForeignField`], counted), a
    /// field whose value was released ([`HandleError::Released`], counted), and the same
    /// owned value in two fields ([`HandleError::RepeatedField`]).
    ///
    /// # Safety
    ///
    /// Each handle among the fields is the caller's to give: not released, and given
    /// once for each hold the caller has of it (an owned value appears once; a shared one
    /// as many times as the caller holds it, a [`Handle::share`] for each further
    /// appearance). The caller does not release what it gave. (`Handle` is `Copy`, so
    /// the compiler cannot see the handles move; the checks above catch what the slots
    /// can tell, not a shared value given more often than it is held.)
    pub unsafe fn new_variant(tag: u32, fields: &[Field<A>]) -> Result<Self, HandleError> {
        let (home, strand) = here::<A>()?;
        check_fields(home, fields)?;
        let layout = Layout::array::<Field<A>>(fields.len())
            .map_err(|_| AllocError::invalid(fields.len(), std::mem::align_of::<Field<A>>()))?;
        let (slot, ptr, ticket) = take(home, strand, layout)?;
        // SAFETY: `ptr` is valid and aligned for `fields.len()` fields (the backend's
        // contract for this layout) and does not overlap `fields`.
        unsafe {
            ptr::copy_nonoverlapping(fields.as_ptr(), ptr.as_ptr() as *mut Field<A>, fields.len())
        };
        Ok(Self::own(
            home,
            slot,
            ptr,
            fields.len(),
            SlotKind::Variant,
            ticket,
            tag,
        ))
    }

    /// What the handle holds. Safe with any handle: the slot is never freed (a released
    /// handle answers for whatever its slot holds now).
    pub fn kind(self) -> HandleKind {
        self.slot().shape().0.into()
    }

    /// Whether the value is shared (readable from anywhere).
    pub fn is_shared(self) -> bool {
        is_shared(self.slot().state.load(Ordering::Relaxed))
    }

    /// The number of holders of a shared value (`None` for an owned or free one): a
    /// sampled figure, exact only when nobody shares or releases it meanwhile.
    pub fn holders(self) -> Option<u64> {
        let st = self.slot().state.load(Ordering::Relaxed);
        is_shared(st).then_some(st)
    }

    /// Validates the handle before a read, under `checked`: not released, and, for an
    /// owned value, used in its owner's context since its owner's last reset, in an arena
    /// generation still valid. Reads only the slot (never the bytes).
    #[inline]
    fn validate(self) -> Result<(), HandleError> {
        if !cfg!(feature = "checked") {
            return Ok(());
        }
        self.validate_checked().inspect_err(|_| refused::<A>())
    }

    #[cfg_attr(not(feature = "checked"), allow(dead_code))]
    fn validate_checked(self) -> Result<(), HandleError> {
        let s = self.slot();
        match s.state.load(Ordering::Acquire) {
            OWNED => {
                let owner = s.owner.load(Ordering::Relaxed) as *const Home;
                // SAFETY: homes are never freed.
                let home = unsafe { &*owner };
                if home.key.load(Ordering::Acquire) != current::context_key() {
                    return Err(HandleError::Foreign);
                }
                if !home.live(s.epoch.load(Ordering::Relaxed)) {
                    return Err(HandleError::Stale);
                }
                // SAFETY: the slot is owned by this context's strand, whose code is
                // running here: its ticket is ours to read.
                let ticket = unsafe { *s.ticket.get() };
                Ok(ticket.stamp().check(A::NAME)?)
            }
            st if is_shared(st) => Ok(()),
            _ => Err(HandleError::Released),
        }
    }

    #[inline]
    fn expect(self, kind: SlotKind) -> Result<(*const u8, usize), HandleError> {
        self.validate()?;
        let s = self.slot();
        let (k, len) = s.shape();
        if k != kind {
            return Err(HandleError::WrongKind {
                expected: kind.into(),
                found: k.into(),
            });
        }
        Ok((s.ptr.load(Ordering::Relaxed), len))
    }

    /// The string.
    ///
    /// # Safety
    ///
    /// The value has not been released (through any copy of the handle), and if it is
    /// not shared, the caller runs as its owner strand, which has not reset or ended
    /// since it made it; the result is not used past any of those. (`checked` refuses
    /// what it can tell of these: see the [module documentation](self).)
    #[inline]
    pub unsafe fn as_str<'a>(self) -> Result<&'a str, HandleError> {
        let (p, n) = self.expect(SlotKind::Str)?;
        // SAFETY: the caller keeps the value alive and readable here (this function's
        // contract); its bytes are `n` bytes of UTF-8 copied from a `&str`, never changed.
        Ok(unsafe { std::str::from_utf8_unchecked(std::slice::from_raw_parts(p, n)) })
    }

    /// The bytes.
    ///
    /// # Safety
    ///
    /// As for [`Handle::as_str`].
    #[inline]
    pub unsafe fn as_bytes<'a>(self) -> Result<&'a [u8], HandleError> {
        let (p, n) = self.expect(SlotKind::Bytes)?;
        // SAFETY: as in `as_str`.
        Ok(unsafe { std::slice::from_raw_parts(p, n) })
    }

    /// The variant's tag and fields.
    ///
    /// # Safety
    ///
    /// As for [`Handle::as_str`]; the handles among the fields are the variant's, alive
    /// while it is.
    pub unsafe fn fields<'a>(self) -> Result<(u32, &'a [Field<A>]), HandleError> {
        let (p, n) = self.expect(SlotKind::Variant)?;
        let tag = self.slot().tag.load(Ordering::Relaxed);
        // SAFETY: as in `as_str`; the bytes are `n` fields, aligned for them.
        Ok((tag, unsafe {
            std::slice::from_raw_parts(p as *const Field<A>, n)
        }))
    }

    /// One more holder (a runtime's *dup*): returns the same word, now naming a shared
    /// value. The first share of an owned value copies it, and every owned value it holds,
    /// to the global heap (`O(size)`, in constant stack, freeing the arena copies); later
    /// shares add one to the count.
    ///
    /// # Safety
    ///
    /// As for [`Handle::as_str`]: an owned value is shared by its owner only (that is
    /// what makes it readable elsewhere).
    #[inline]
    pub unsafe fn share(self) -> Result<Self, HandleError> {
        if !cfg!(feature = "checked") {
            let s = self.slot();
            // A holder keeps the count above zero, and a shared value never becomes owned
            // again: once seen shared, adding one is safe.
            if is_shared(s.state.load(Ordering::Relaxed)) {
                // Relaxed, as `Arc::clone`: the holder already sees the value.
                if s.state.fetch_add(1, Ordering::Relaxed) < MAX_SHARED {
                    return Ok(self);
                }
                s.state.fetch_sub(1, Ordering::Relaxed);
                return Err(HandleError::TooManyHolders);
            }
        }
        // SAFETY: forwarded.
        unsafe { self.share_slow() }
    }

    /// A share that is not a plain count: the first share of an owned value, a checked
    /// build's validation, or a refusal.
    #[cold]
    #[inline(never)]
    unsafe fn share_slow(self) -> Result<Self, HandleError> {
        self.validate()?;
        let s = self.slot();
        let st = s.state.load(Ordering::Relaxed);
        if st != OWNED {
            if !is_shared(st) {
                return Err(HandleError::Released);
            }
            if s.state.fetch_add(1, Ordering::Relaxed) >= MAX_SHARED {
                s.state.fetch_sub(1, Ordering::Relaxed);
                return Err(HandleError::TooManyHolders);
            }
            return Ok(self);
        }
        let (home, strand) = here::<A>()?;
        if !owned_here(s, home) {
            return Err(
                if std::ptr::eq(s.owner.load(Ordering::Relaxed) as *const Home, home) {
                    HandleError::Stale
                } else {
                    HandleError::Foreign
                },
            );
        }
        promote::<A>(home, strand, s)?;
        Ok(self)
    }

    /// Lets go of the value: see the [module documentation](self) for where and when its
    /// memory is freed. A variant lets go of its fields too, in constant stack.
    ///
    /// Not refused in plain builds, except that the owner's release of a value from
    /// before its reset is ignored ([`HandleError::Stale`], or [`HandleError::Released`]
    /// when the reset already freed its slot).
    ///
    /// # Safety
    ///
    /// The handle has not been released (through any copy), and nothing reads the value
    /// through this handle afterwards. An owned value released outside its owner's
    /// context must not be used there in any other way, and is released before its owner
    /// resets or ends (its memory goes with the owner's: a later release is refused with
    /// [`HandleError::Stale`] or [`HandleError::Released`] while its slot holds nothing
    /// newer). A shared value may be
    /// released anywhere, at any time, once per holder.
    #[inline]
    pub unsafe fn release(self) -> Result<(), HandleError> {
        let s = self.slot();
        let st = s.state.load(Ordering::Acquire);
        if is_shared(st) {
            release_shared::<A>(s);
            return Ok(());
        }
        if st == OWNED {
            let owner = s.owner.load(Ordering::Relaxed) as *const Home;
            // SAFETY: homes are never freed.
            let home = unsafe { &*owner };
            if home.key.load(Ordering::Relaxed) == current::context_key()
                && home.backend.load(Ordering::Relaxed) == current::backend_id::<A>()
                && s.epoch.load(Ordering::Relaxed) == home.epoch.load(Ordering::Relaxed)
                && !home.busy.load(Ordering::Acquire)
            {
                // The owner's own context: at once.
                // SAFETY: as in `here`: the home is attached to this context and not busy.
                let strand = unsafe { current::strand_of::<A>(home) };
                free_owned::<A>(home, strand, s);
                return Ok(());
            }
        }
        // SAFETY: forwarded.
        unsafe { self.release_slow() }
    }

    /// A release that is not the owner's plain one: a shared value, a value released
    /// outside its owner, or a refusal.
    #[cold]
    #[inline(never)]
    unsafe fn release_slow(self) -> Result<(), HandleError> {
        let s = self.slot();
        let st = s.state.load(Ordering::Acquire);
        if is_shared(st) {
            release_shared::<A>(s);
            return Ok(());
        }
        if st != OWNED {
            if cfg!(feature = "checked") {
                refused::<A>();
            }
            return Err(HandleError::Released);
        }
        let owner = s.owner.load(Ordering::Relaxed) as *const Home;
        // SAFETY: homes are never freed.
        let home = unsafe { &*owner };
        if home.key.load(Ordering::Relaxed) == current::context_key()
            && home.backend.load(Ordering::Relaxed) == current::backend_id::<A>()
        {
            // The owner, but busy (a `with_current` call holds the strand), a value of a
            // level enclosing an open handle scope, or a value from before its reset or
            // of a scope it left.
            if home.busy.load(Ordering::Acquire) {
                return Err(CurrentError::InUse { backend: A::NAME }.into());
            }
            if home.live(s.epoch.load(Ordering::Relaxed)) {
                // SAFETY: as in `release`: the home is attached to this context and not
                // busy.
                let strand = unsafe { current::strand_of::<A>(home) };
                free_owned::<A>(home, strand, s);
                return Ok(());
            }
            refused::<A>();
            return Err(HandleError::Stale);
        }
        // Elsewhere: back to the owner, while the level that made it is open.
        let epoch = s.epoch.load(Ordering::Relaxed);
        if home.push_remote(s, |h| h.live(epoch)) {
            Ok(())
        } else {
            // The owner reset or ended: the value went with it.
            refused::<A>();
            Err(HandleError::Stale)
        }
    }
}

/// The figures of the calling context's strand for backend `A` (made on first use), as
/// [`Strand::stats`] gives them: exact, since only the strand writes them. Values released
/// elsewhere count as used until the strand collects them (at its next allocation).
pub fn current_figures<A: ValueAllocator>() -> Result<crate::Figures, HandleError> {
    let (_, strand) = looked_up::<A>()?;
    Ok(strand.stats())
}

/// The id of the calling context's strand for backend `A` (made on first use): what a
/// runtime logs to tell its strands apart, and the cost of reaching the current strand.
pub fn current_strand_id<A: ValueAllocator>() -> Result<u64, HandleError> {
    let (_, strand) = looked_up::<A>()?;
    Ok(strand.id())
}

/// Resets the calling context's strand for backend `A`: every value it owns is freed at
/// once (arena memory reset, heap values freed), and shared values are untouched. The
/// runtime's reset before a coroutine blocks for good. Every open handle scope
/// ([`enter_scope`]) is closed: its values are freed with the rest, and its mark is
/// refused by [`leave_scope`] from then on.
///
/// # Safety
///
/// No owned value of the strand is used afterwards (through any handle), and no `&`
/// borrow of the strand or of a value made through its Rust API is alive. (`checked`
/// refuses the handles it can tell are from before the reset: [`HandleError::Stale`].)
pub unsafe fn reset_current<A: ValueAllocator>() -> Result<(), HandleError> {
    let (home, _) = here::<A>()?;
    // SAFETY: the home is this context's and not busy (`here`); the caller rules out any
    // other reference to the strand.
    let strand = unsafe { current::strand_mut_of::<A>(home) };
    sweep::<A>(home, strand, false);
    strand.reset();
    Ok(())
}

/// An open handle scope: what [`enter_scope`] gives and [`leave_scope`] takes. It names
/// the strand's home and the scope's epoch, neither ever reused, so a mark left once, or
/// closed by a reset, or of another strand, never names an open scope again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "a scope stays open, and its values live, until its mark is given to leave_scope"]
pub struct ScopeMark {
    home: usize,
    epoch: u64,
}

impl ScopeMark {
    /// The mark as two words, for a runtime that keeps it in its own frames.
    pub fn to_words(self) -> [u64; 2] {
        [self.home as u64, self.epoch]
    }

    /// The mark that [`ScopeMark::to_words`] gave. Any two words make a mark; one that
    /// names no open scope is refused by [`leave_scope`].
    pub fn from_words(words: [u64; 2]) -> Self {
        ScopeMark {
            home: words[0] as usize,
            epoch: words[1],
        }
    }
}

/// Opens a handle scope on the calling context's strand for backend `A`: every value made
/// through handles from now on (in this context, until the scope is left) belongs to the
/// scope, and [`leave_scope`] frees those still owned at once. For a runtime without
/// closures that handles one message at a time:
///
/// - open a scope around each message; the message's values die at its leave, however
///   many the runtime forgot to release (a cancelled computation, an exception);
/// - a value the strand keeps past the message is [shared](Handle::share) before the leave
///   (shared values live on the heap, never in a scope), or made before the scope;
/// - values of enclosing levels stay usable in the scope, and releasing them there frees
///   them as usual; one given to a variant made in the scope goes with the variant.
///
/// Scopes nest, up to [`MAX_HANDLE_SCOPES`] (one more is refused:
/// [`HandleError::ScopeDepth`]). [`reset_current`] and the strand's end free the values of
/// every open scope and close them. Values made through [`Strand::with_current`]'s Rust
/// API are not handles and do not belong to handle scopes. Counted in
/// [`crate::Figures::scopes`].
///
/// An empty scope, entered and left, costs about 265 instructions, two current-strand
/// lookups among them (`cargo bench --features all-backends --bench scope`). The scope
/// records each slot it uses, once however many values it makes and releases in it (8
/// bytes each, given back at the leave), and the leave visits each record once.
///
/// ```
/// # #[cfg(feature = "strand-arena")] {
/// use strand_alloc::handle::{enter_scope, leave_scope};
/// use strand_alloc::{Handle, StrandArena};
/// type H = Handle<StrandArena>;
/// let state = H::new_str("state").unwrap(); // lives on
/// for msg in ["a", "b", "c"] {
///     let mark = enter_scope::<StrandArena>().unwrap();
///     let tmp = H::new_str(msg).unwrap(); // never released: the leave frees it
///     // SAFETY: `tmp` and `state` are live and this context's.
///     assert_eq!(unsafe { tmp.as_str() }.unwrap(), msg);
///     assert_eq!(unsafe { state.as_str() }.unwrap(), "state");
///     // SAFETY: `tmp` is not used after the leave.
///     unsafe { leave_scope::<StrandArena>(mark) }.unwrap();
/// }
/// // SAFETY: `state` is live and this context's.
/// unsafe { state.release() }.unwrap();
/// # }
/// ```
pub fn enter_scope<A: ValueAllocator>() -> Result<ScopeMark, HandleError> {
    let (home, strand) = here::<A>()?;
    // SAFETY: this code runs as the home's strand (`here`).
    let epoch = unsafe { home.open_scope() }.ok_or(HandleError::ScopeDepth)?;
    strand.cx.count(Counter::Scopes, 1);
    Ok(ScopeMark {
        home: home as *const Home as usize,
        epoch,
    })
}

/// Leaves the handle scope `mark` names, which must be the calling context's innermost
/// open one: every value made in it that the strand still owns is freed, with the owned
/// values those hold (shared values lose a holder), in time proportional to the values
/// made in the scope. Values the scope shared, and values of enclosing levels, are left
/// alone. A mark that is not the innermost open scope's (left out of order or twice,
/// closed by a reset, another strand's) is refused with [`HandleError::ScopeOrder`],
/// and nothing is freed; so is a leave while a [`Strand::with_current`] call holds the
/// strand, with [`CurrentError::InUse`], as every handle call is.
///
/// # Safety
///
/// No value made in the scope and not shared is used afterwards, through any handle or
/// copy of a word: it is as if each was [released](Handle::release). (`checked` refuses
/// and counts what it can tell: a handle whose slot is still free, or holds a value of
/// a closed level, is refused with [`HandleError::Released`] or [`HandleError::Stale`].)
/// A value of the scope that was released elsewhere must have been released before the
/// leave, as before a reset.
pub unsafe fn leave_scope<A: ValueAllocator>(mark: ScopeMark) -> Result<(), HandleError> {
    let (home, strand) = looked_up::<A>()?;
    let ours = mark.home == home as *const Home as usize;
    // SAFETY: this code runs as the home's strand (`looked_up`); `made` is dropped before
    // `forget_made_since`, and nothing below makes a value.
    let closed = if ours {
        unsafe { home.close_scope(mark.epoch) }
    } else {
        None
    };
    let Some((made, since)) = closed else {
        return Err(HandleError::ScopeOrder);
    };
    // What was released elsewhere: after the close, so that nothing of the scope is
    // pushed any more, and before the scope's values are freed, so that none of them is
    // on a list when its slot is reused. Values of the scope on it are left for below.
    if home.has_remote() {
        collect::<A>(home, strand);
    }
    for &s in made {
        if s.state.load(Ordering::Acquire) == OWNED && home.made_at(s, mark.epoch) {
            free_owned::<A>(home, strand, s);
        }
    }
    // SAFETY: as above; `made` is not used any more.
    unsafe { home.forget_made_since(since) };
    Ok(())
}
