//! Value channels between strands, over May's multi-producer channel.
//!
//! Sending takes a strand's value by reference and deep-copies every byte of it (strings
//! nested in variants included) into a [`PortableValue`], so no arena memory is ever
//! shared between strands. The copy is counted on the sending strand.

use crate::allocator::ValueAllocator;
use crate::error::AllocError;
use crate::portable::PortableValue;
use crate::strand::Strand;
use crate::value::Value;

/// Sending a value failed because the receiving side is gone. The value is returned.
#[derive(Debug, thiserror::Error)]
#[error("the receiving side of the channel has been dropped")]
pub struct SendError(pub PortableValue);

/// Receiving failed because every sender is gone and the channel is empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("every sender of the channel has been dropped and the channel is empty")]
pub struct RecvError;

/// Creates a channel for values.
///
/// ```
/// # #[cfg(feature = "thread-arena")] {
/// use strand_alloc::{channel, spawn, ThreadArena};
/// let (tx, rx) = channel();
/// // SAFETY: the closure uses no thread-locals and nothing `!Send`.
/// let h = unsafe {
///     spawn::<ThreadArena, _, _>(move |s| {
///         let v = s.variant(3, [s.str("payload").into()]);
///         tx.send(s, &v.into()).unwrap();
///     })
/// };
/// h.join().unwrap();
/// let got = rx.recv().unwrap();
/// assert_eq!(got.byte_len(), 7);
/// # }
/// ```
pub fn channel() -> (ValueSender, ValueReceiver) {
    let (tx, rx) = may::sync::mpsc::channel();
    (ValueSender { inner: tx }, ValueReceiver { inner: rx })
}

/// The sending side; clone it for more producers.
#[derive(Clone)]
pub struct ValueSender {
    inner: may::sync::mpsc::Sender<PortableValue>,
}

impl std::fmt::Debug for ValueSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ValueSender").finish_non_exhaustive()
    }
}

impl ValueSender {
    /// Copies `value` out of `strand` and sends the copy.
    pub fn send<A: ValueAllocator>(
        &self,
        strand: &Strand<A>,
        value: &Value<'_, A>,
    ) -> Result<(), SendError> {
        self.send_portable(strand.export(value))
    }

    /// Sends a value that is already portable (no copy is made).
    pub fn send_portable(&self, value: PortableValue) -> Result<(), SendError> {
        self.inner.send(value).map_err(|e| SendError(e.0))
    }
}

/// The receiving side.
pub struct ValueReceiver {
    inner: may::sync::mpsc::Receiver<PortableValue>,
}

/// Why [`ValueReceiver::recv_in`] failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecvInError {
    /// The channel is closed.
    #[error(transparent)]
    Closed(#[from] RecvError),
    /// The value arrived but could not be imported into the strand.
    #[error(transparent)]
    Alloc(#[from] AllocError),
}

impl std::fmt::Debug for ValueReceiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ValueReceiver").finish_non_exhaustive()
    }
}

impl ValueReceiver {
    /// Waits for the next value (parks the strand, or blocks a plain thread).
    pub fn recv(&self) -> Result<PortableValue, RecvError> {
        self.inner.recv().map_err(|_| RecvError)
    }

    /// Takes the next value if one is waiting.
    pub fn try_recv(&self) -> Option<PortableValue> {
        self.inner.try_recv().ok()
    }

    /// Waits for the next value and imports it into `strand`.
    pub fn recv_in<'s, A: ValueAllocator>(
        &self,
        strand: &'s Strand<A>,
    ) -> Result<Value<'s, A>, RecvInError> {
        let p = self.recv()?;
        Ok(strand.try_import(p)?)
    }
}
