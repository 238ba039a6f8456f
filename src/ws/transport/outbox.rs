//! A connection's outbound queue: bounded, of encoded frames, with a close that overtakes
//! whatever is still queued.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};

use bytes::Bytes;
use futures_util::task::AtomicWaker;
use tokio::sync::{Notify, mpsc};

/// Close code for a reader too slow to keep up ("try again later").
pub const CLOSE_TOO_SLOW: u16 = 1013;

/// What the queue's two ends share.
pub(super) struct Shared {
    /// 0 while open; the close code once closing.
    pub(super) close_code: AtomicU16,
    /// The writer's, woken by a close.
    pub(super) waker: AtomicWaker,
    pub(super) closed: Notify,
    /// The close waits for the frames queued before it (a graceful stop).
    pub(super) after_queue: AtomicBool,
}

impl Shared {
    /// The socket failed: the connection ends without a close frame.
    pub(super) fn failed(&self, code: u16) {
        if self
            .close_code
            .compare_exchange(0, code, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            self.closed.notify_one();
        }
    }
}

/// The sending side of one connection's outbound queue. Cheap to clone.
#[derive(Clone)]
pub struct Outbox {
    tx: mpsc::Sender<Bytes>,
    shared: Arc<Shared>,
    capacity: usize,
}

/// Why a frame was not queued.
#[derive(Debug, PartialEq, Eq)]
pub enum NotQueued {
    /// The reader is too slow: its queue is full.
    Full,
    /// The connection is gone.
    Closed,
}

impl Outbox {
    /// A queue of `capacity` frames (at least one), and its receiving end.
    pub(super) fn new(capacity: usize) -> (Self, mpsc::Receiver<Bytes>, Arc<Shared>) {
        let capacity = capacity.max(1);
        let (tx, rx) = mpsc::channel(capacity);
        let shared = Arc::new(Shared {
            close_code: AtomicU16::new(0),
            waker: AtomicWaker::new(),
            closed: Notify::new(),
            after_queue: AtomicBool::new(false),
        });
        let outbox = Self {
            tx,
            shared: shared.clone(),
            capacity,
        };
        (outbox, rx, shared)
    }

    pub fn send(&self, frame: Bytes) -> Result<(), NotQueued> {
        self.tx.try_send(frame).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => NotQueued::Full,
            mpsc::error::TrySendError::Closed(_) => NotQueued::Closed,
        })
    }

    /// Sends a frame the client must not miss (an ack, an error about its write, a room
    /// event). A reader whose queue is full is closed with 1013 instead: it reconnects,
    /// resends what was not acked and catches up from the events feed, so nothing is lost
    /// silently. `Err(Full)`: the reader was closed for it.
    pub fn send_or_close(&self, frame: Bytes) -> Result<(), NotQueued> {
        let sent = self.send(frame);
        if sent == Err(NotQueued::Full) {
            self.close(CLOSE_TOO_SLOW);
        }
        sent
    }

    /// Sends a frame that may be dropped (typing, presence news), unless the connection is
    /// closing: what was queued before a close still goes out, but not, say, the `leave`s
    /// of other connections closing at the same moment. (Only these frames pay for the
    /// check: the chat path does not.)
    pub fn send_droppable(&self, frame: Bytes) -> Result<(), NotQueued> {
        if self.shared.close_code.load(Ordering::Relaxed) != 0 {
            return Err(NotQueued::Closed);
        }
        self.send(frame)
    }

    /// Frames that may still be queued before the queue is full.
    pub fn free(&self) -> usize {
        self.tx.capacity()
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Closes the connection with `code`, ahead of anything still queued. The first close
    /// wins.
    pub fn close(&self, code: u16) {
        if self
            .shared
            .close_code
            .compare_exchange(0, code, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            self.shared.waker.wake();
            self.shared.closed.notify_one();
        }
    }

    /// Closes the connection with `code` once the frames already queued are written (a
    /// stopping node: the last acks and events must not be overtaken).
    pub fn close_after_queue(&self, code: u16) {
        self.shared.after_queue.store(true, Ordering::Release);
        self.close(code);
    }

    /// Resolves once [`Outbox::close`] has been called (or the socket failed).
    pub async fn closing(&self) {
        if self.shared.close_code.load(Ordering::Acquire) != 0 {
            return;
        }
        self.shared.closed.notified().await;
    }

    /// The close code, once closing.
    pub fn close_code(&self) -> Option<u16> {
        match self.shared.close_code.load(Ordering::Acquire) {
            0 => None,
            code => Some(code),
        }
    }
}

#[cfg(test)]
pub mod testing {
    use std::cell::RefCell;
    use std::rc::Rc;

    use super::*;

    /// An outbox of `capacity` frames with no socket behind it, and a function returning
    /// every frame queued on it so far (taking them off the queue).
    pub fn recording_outbox_of(capacity: usize) -> (Outbox, impl Fn() -> Vec<Bytes>) {
        let (outbox, rx, _) = Outbox::new(capacity);
        let state = Rc::new(RefCell::new((rx, Vec::new())));
        let sent = move || {
            let mut state = state.borrow_mut();
            let (rx, seen) = &mut *state;
            while let Ok(frame) = rx.try_recv() {
                seen.push(frame);
            }
            seen.clone()
        };
        (outbox, sent)
    }

    pub fn recording_outbox() -> (Outbox, impl Fn() -> Vec<Bytes>) {
        recording_outbox_of(64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_essential_frame_that_does_not_fit_closes_the_reader() {
        let (outbox, _rx, _) = Outbox::new(1);
        assert_eq!(outbox.send_or_close(Bytes::from_static(b"ack")), Ok(()));
        assert_eq!(outbox.close_code(), None);
        assert_eq!(
            outbox.send_or_close(Bytes::from_static(b"ack 2")),
            Err(NotQueued::Full)
        );
        assert_eq!(outbox.close_code(), Some(CLOSE_TOO_SLOW));
    }

    #[test]
    fn no_droppable_frame_is_queued_after_a_close() {
        let (outbox, mut rx, _) = Outbox::new(4);
        assert_eq!(outbox.send(Bytes::from_static(b"before")), Ok(()));
        outbox.close_after_queue(1012);
        assert_eq!(
            outbox.send_droppable(Bytes::from_static(b"after")),
            Err(NotQueued::Closed)
        );
        assert_eq!(rx.try_recv().ok(), Some(Bytes::from_static(b"before")));
        assert!(rx.try_recv().is_err());
    }
}
