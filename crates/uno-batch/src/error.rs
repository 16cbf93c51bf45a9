//! The crate's error type, and the rejection `try_add` hands back with its item.

use std::error::Error;
use std::fmt;
use std::sync::Arc;

use tokio::time::Instant;

/// Why an item did not get its output, or why a batcher could not be built.
///
/// `E` is the batch operation's own error type. When the operation fails, every caller
/// of that batch receives [`BatchError::Failed`] holding the *same* error in an
/// [`Arc`], so `E` needs neither `Clone` nor any other bound (a `sqlx::Error` works as
/// is). The operation's error is this error's [`source`](Error::source), and is also
/// reachable with [`BatchError::op_error`].
#[derive(Debug)]
#[non_exhaustive]
pub enum BatchError<E> {
    /// The batch operation returned `Err` for the batch that held this item. Every
    /// caller of that batch receives a clone of the same `Arc`.
    Failed(Arc<E>),
    /// The batch operation panicked while processing the batch that held this item, or,
    /// with [`key_fn`](crate::Builder::key_fn), the item's key panicked in its `Hash`,
    /// `Eq` or `Drop` as the worker looked for its queue (the message then starts with
    /// "the item's key panicked"). The batcher caught the panic and keeps working;
    /// `message` is the panic's message when it was a string.
    Panicked {
        /// The panic payload's message, or a placeholder when it was not a string.
        message: String,
    },
    /// The batch operation returned a number of outputs different from the number of
    /// inputs it was given, so no output could be matched to its item safely.
    WrongLength {
        /// How many items the batch held (and so how many outputs were expected).
        expected: usize,
        /// How many outputs the operation returned.
        actual: usize,
    },
    /// `try_add` found `max_pending` items already queued. The item is handed back in
    /// [`TryAddError`].
    Full,
    /// The batcher was closed with `close`, so it accepts no new item.
    Closed,
    /// The batcher's worker stopped, because the tokio runtime it ran on (the one
    /// `build` was called on) shut down: the item's output was not delivered, or a new
    /// item could not be queued.
    Stopped,
    /// The caller's deadline (see [`uno_deadline`]) passed before the item's output
    /// came: [`add`](crate::AsyncBatcher::add) stopped waiting for room or for the
    /// output, or refused at once a deadline that had already passed.
    ///
    /// When `sent` is false, the batch operation never saw the item: it was removed
    /// from the queue (or never queued), and its room given back. When `sent` is true,
    /// the deadline passed while the item's batch was running: the operation has the
    /// item and may process it, but its output is discarded, and the batch's other
    /// callers still get theirs.
    DeadlinePassed {
        /// The caller's effective deadline, the one that passed.
        deadline: Instant,
        /// Whether the item had already been sent to the batch operation.
        sent: bool,
    },
}

/// Why [`Builder::build`](crate::Builder::build) refused to start a batcher. Apart from
/// [`BatchError`], which says what happened to one item, so that each error type holds
/// only what can happen where it is returned.
///
/// ```
/// use uno_batch::{AsyncBatcher, BuildError};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let refused = AsyncBatcher::builder(|items: Vec<u8>| async move { Ok::<_, ()>(items) })
///     .max_batch_size(0)
///     .build();
/// assert_eq!(refused.unwrap_err(), BuildError::ZeroMaxBatchSize);
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BuildError {
    /// `max_batch_size(0)`: no batch could hold an item.
    ZeroMaxBatchSize,
    /// `max_pending(0)`: the queue could take no item.
    ZeroMaxPending,
    /// `max_batch_weight(0, ..)`: no batch could hold any weight.
    ZeroMaxBatchWeight,
    /// `max_concurrent_batches(0)`: no batch could ever run.
    ZeroMaxConcurrentBatches,
    /// `build` was called outside a tokio runtime, so the worker could not be spawned.
    NoRuntime,
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::ZeroMaxBatchSize => {
                "max_batch_size is 0; a batch must hold at least one item, use at least 1, such as 100"
            }
            Self::ZeroMaxPending => {
                "max_pending is 0; the queue must have room for at least one item, use at least 1, or leave it unset for no bound"
            }
            Self::ZeroMaxBatchWeight => {
                "max_batch_weight is 0; a batch must be able to hold some weight, use at least 1"
            }
            Self::ZeroMaxConcurrentBatches => {
                "max_concurrent_batches is 0; at least one batch must be able to run, use at least 1"
            }
            Self::NoRuntime => {
                "no tokio runtime is running; build the batcher from inside a tokio runtime"
            }
        })
    }
}

impl std::error::Error for BuildError {}

impl<E> BatchError<E> {
    /// Whether this is [`BatchError::DeadlinePassed`]: the caller's deadline passed
    /// before the item's output came.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use uno_batch::AsyncBatcher;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let batcher = AsyncBatcher::builder(|items: Vec<u8>| async move {
    ///     Ok::<_, String>(items)
    /// })
    /// .max_wait_time(Duration::from_secs(10))
    /// .build()
    /// .unwrap();
    /// let outcome = uno_deadline::within(Duration::from_secs(1), batcher.add(1)).await;
    /// assert!(outcome.unwrap().unwrap_err().is_deadline_passed());
    /// # }
    /// ```
    #[must_use]
    pub fn is_deadline_passed(&self) -> bool {
        matches!(self, Self::DeadlinePassed { .. })
    }

    /// The batch operation's own error, when this is [`BatchError::Failed`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use uno_batch::BatchError;
    ///
    /// let error: BatchError<&str> = BatchError::Failed(Arc::new("database is down"));
    /// assert_eq!(error.op_error(), Some(&"database is down"));
    /// assert_eq!(BatchError::<&str>::Closed.op_error(), None);
    /// ```
    #[must_use]
    pub fn op_error(&self) -> Option<&E> {
        match self {
            Self::Failed(error) => Some(error),
            _ => None,
        }
    }
}

// Written by hand rather than derived: a derive would require `E: Clone`, and the
// point of sharing the operation's error in an `Arc` is that it does not.
impl<E> Clone for BatchError<E> {
    fn clone(&self) -> Self {
        match self {
            Self::Failed(error) => Self::Failed(Arc::clone(error)),
            Self::Panicked { message } => Self::Panicked {
                message: message.clone(),
            },
            Self::WrongLength { expected, actual } => Self::WrongLength {
                expected: *expected,
                actual: *actual,
            },
            Self::Full => Self::Full,
            Self::Closed => Self::Closed,
            Self::Stopped => Self::Stopped,
            Self::DeadlinePassed { deadline, sent } => Self::DeadlinePassed {
                deadline: *deadline,
                sent: *sent,
            },
        }
    }
}

impl<E: PartialEq> PartialEq for BatchError<E> {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Failed(a), Self::Failed(b)) => a == b,
            (Self::Panicked { message: a }, Self::Panicked { message: b }) => a == b,
            (
                Self::WrongLength {
                    expected: a,
                    actual: b,
                },
                Self::WrongLength {
                    expected: c,
                    actual: d,
                },
            ) => a == c && b == d,
            (
                Self::DeadlinePassed {
                    deadline: a,
                    sent: b,
                },
                Self::DeadlinePassed {
                    deadline: c,
                    sent: d,
                },
            ) => a == c && b == d,
            (Self::Full, Self::Full)
            | (Self::Closed, Self::Closed)
            | (Self::Stopped, Self::Stopped) => true,
            _ => false,
        }
    }
}

impl<E: Eq> Eq for BatchError<E> {}

// Written by hand so that `Display` needs no bound on `E`: the operation's error is
// reported as the source, not repeated in this message.
impl<E> fmt::Display for BatchError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Failed(_) => f.write_str(
                "the batch operation failed for the batch holding this item; \
                 the source error says why",
            ),
            Self::Panicked { message } => write!(
                f,
                "the batch operation (or, with key_fn, the item's key) panicked while \
                 processing this item (panic message: {message}); the batcher keeps working, \
                 fix the code that panicked"
            ),
            Self::WrongLength { expected, actual } => write!(
                f,
                "the batch operation returned {actual} outputs for a batch of {expected} items; \
                 it must return exactly one output per item, in input order"
            ),
            Self::Full => f.write_str(
                "the batcher is full (max_pending items are queued); \
                 retry later, or use `add` to wait for room",
            ),
            Self::Closed => {
                f.write_str("the batcher is closed and accepts no new items; create a new batcher")
            }
            Self::Stopped => f.write_str(
                "the batcher stopped because the tokio runtime it was built on shut down, \
                 so this item was not processed; build a new batcher on a running runtime",
            ),
            Self::DeadlinePassed { sent: false, .. } => f.write_str(
                "the caller's deadline passed before this item's batch was sent, so it was \
                 removed and not processed; give the caller more time, or lower max_wait_time",
            ),
            Self::DeadlinePassed { sent: true, .. } => f.write_str(
                "the caller's deadline passed while this item's batch was running; the \
                 operation may still process it but its output is discarded; give the caller \
                 more time, or make the batch operation faster",
            ),
        }
    }
}

impl<E> Error for BatchError<E>
where
    E: Error + 'static,
{
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            Self::Failed(error) => Some(&**error),
            _ => None,
        }
    }
}

/// The item that `try_add` could not queue, handed back with the reason.
///
/// The reason is [`BatchError::Full`] (no room: `max_pending` items are queued),
/// [`BatchError::Closed`] (the batcher is closed) or [`BatchError::Stopped`] (the
/// runtime the batcher was built on shut down).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use uno_batch::{AsyncBatcher, BatchError};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let batcher = AsyncBatcher::builder(|items: Vec<u32>| async move {
///     Ok::<_, std::convert::Infallible>(items)
/// })
/// .max_pending(1)
/// .max_wait_time(Duration::from_secs(1))
/// .build()
/// .unwrap();
///
/// let first = batcher.try_add(1).unwrap();
/// let rejected = batcher.try_add(2).unwrap_err();
/// assert!(matches!(rejected.error(), BatchError::Full));
/// assert_eq!(rejected.into_item(), 2);
/// assert_eq!(first.await.unwrap(), 1);
/// # }
/// ```
pub struct TryAddError<I, E> {
    item: I,
    error: BatchError<E>,
}

impl<I, E> TryAddError<I, E> {
    pub(crate) fn new(item: I, error: BatchError<E>) -> Self {
        Self { item, error }
    }

    /// Why the item was not queued: [`BatchError::Full`], [`BatchError::Closed`] or
    /// [`BatchError::Stopped`].
    #[must_use]
    pub fn error(&self) -> &BatchError<E> {
        &self.error
    }

    /// Whether the item was refused for lack of room (rather than because the batcher
    /// is closed or stopped), so that trying again later can succeed.
    #[must_use]
    pub fn is_full(&self) -> bool {
        matches!(self.error, BatchError::Full)
    }

    /// A borrow of the item that was not queued.
    #[must_use]
    pub fn item(&self) -> &I {
        &self.item
    }

    /// The item that was not queued, to retry or handle otherwise.
    #[must_use]
    pub fn into_item(self) -> I {
        self.item
    }

    /// The item and the reason, by value.
    #[must_use]
    pub fn into_parts(self) -> (I, BatchError<E>) {
        (self.item, self.error)
    }
}

// The item is left out of `Debug` so that neither `I` nor `E` needs to be `Debug`.
impl<I, E> fmt::Debug for TryAddError<I, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TryAddError")
            .field("error", &self.error.to_string())
            .finish_non_exhaustive()
    }
}

impl<I, E> fmt::Display for TryAddError<I, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.error, f)
    }
}

impl<I, E> Error for TryAddError<I, E> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_both_lengths_and_are_lowercase() {
        let error = BatchError::<()>::WrongLength {
            expected: 3,
            actual: 2,
        };
        let message = error.to_string();
        assert!(message.contains("returned 2 outputs for a batch of 3 items"));
        for error in [
            BatchError::<()>::Full,
            BatchError::Closed,
            BatchError::Stopped,
            BatchError::Failed(Arc::new(())),
            BatchError::DeadlinePassed {
                deadline: Instant::now(),
                sent: false,
            },
            BatchError::DeadlinePassed {
                deadline: Instant::now(),
                sent: true,
            },
        ] {
            let message = error.to_string();
            assert!(message.starts_with(|c: char| c.is_lowercase()), "{message}");
            assert!(!message.ends_with('.'), "{message}");
        }
        for error in [
            BuildError::ZeroMaxBatchSize,
            BuildError::ZeroMaxPending,
            BuildError::ZeroMaxBatchWeight,
            BuildError::ZeroMaxConcurrentBatches,
            BuildError::NoRuntime,
        ] {
            let message = error.to_string();
            assert!(message.starts_with(|c: char| c.is_lowercase()), "{message}");
            assert!(!message.ends_with('.'), "{message}");
        }
    }

    #[test]
    fn failed_exposes_the_op_error_as_source() {
        let error = BatchError::Failed(Arc::new(std::io::Error::other("disk full")));
        let source = error.source().expect("a source");
        assert_eq!(source.to_string(), "disk full");
        let cloned = error.clone();
        assert!(cloned.op_error().is_some());
    }
}
