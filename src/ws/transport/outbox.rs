//! A connection's outbound queue: bounded, of encoded frames, with a close that overtakes
//! whatever is still queued.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicUsize, Ordering};

use bytes::Bytes;
use futures_util::task::AtomicWaker;
use tokio::sync::{Notify, mpsc};

/// Close code for a reader too slow to keep up ("try again later").
pub const CLOSE_TOO_SLOW: u16 = 1013;

/// Frames longer than this count against the queue's byte budget; shorter ones (nearly
/// every chat frame) only against its length, so the fan-out path pays one comparison.
pub const LARGE_FRAME: usize = 4 * 1024;
/// The most bytes of large frames one queue holds (a queue always takes one, however
/// large). With the queue's length, a connection's memory is bounded in bytes: a client
/// that asks again and again for big answers (a `join` of a large room) and does not read
/// them is closed, not fed.
pub const LARGE_BUDGET: usize = 4 * 1024 * 1024;

/// What the queue's two ends share.
pub(super) struct Shared {
    /// 0 while open; the close code once closing.
    pub(super) close_code: AtomicU16,
    /// The writer's, woken by a close.
    pub(super) waker: AtomicWaker,
    pub(super) closed: Notify,
    /// The close waits for the frames queued before it (a graceful stop).
    pub(super) after_queue: AtomicBool,
    /// Bytes of large frames queued and not yet taken by the writer.
    pub(super) large_bytes: AtomicUsize,
}

impl Shared {
    /// The writer took `frame` off the queue.
    pub(super) fn taken(&self, frame: &Bytes) {
        if frame.len() > LARGE_FRAME {
            self.large_bytes.fetch_sub(frame.len(), Ordering::AcqRel);
        }
    }

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
            large_bytes: AtomicUsize::new(0),
        });
        let outbox = Self {
            tx,
            shared: shared.clone(),
            capacity,
        };
        (outbox, rx, shared)
    }

    pub fn send(&self, frame: Bytes) -> Result<(), NotQueued> {
        let large = frame.len();
        if large > LARGE_FRAME {
            let before = self.shared.large_bytes.fetch_add(large, Ordering::AcqRel);
            if before > 0 && before + large > LARGE_BUDGET {
                self.shared.large_bytes.fetch_sub(large, Ordering::AcqRel);
                return Err(NotQueued::Full);
            }
        }
        self.tx.try_send(frame).map_err(|e| {
            if large > LARGE_FRAME {
                self.shared.large_bytes.fetch_sub(large, Ordering::AcqRel);
            }
            match e {
                mpsc::error::TrySendError::Full(_) => NotQueued::Full,
                mpsc::error::TrySendError::Closed(_) => NotQueued::Closed,
            }
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
    fn large_frames_are_bounded_in_bytes_and_freed_as_they_are_written() {
        let (outbox, mut rx, shared) = Outbox::new(1024);
        let big = Bytes::from(vec![b'x'; 100 * 1024]);
        let mut queued = 0;
        while outbox.send(big.clone()).is_ok() {
            queued += 1;
            assert!(queued < 1024, "never full");
        }
        assert_eq!(queued, LARGE_BUDGET / big.len());
        // Small frames still fit: the budget is for large ones.
        assert_eq!(outbox.send(Bytes::from_static(b"ack")), Ok(()));
        // An essential large frame that does not fit closes the reader.
        assert_eq!(outbox.send_or_close(big.clone()), Err(NotQueued::Full));
        assert_eq!(outbox.close_code(), Some(CLOSE_TOO_SLOW));
        // The writer takes one: there is room for one more.
        let (outbox, mut rx2, shared2) = Outbox::new(1024);
        for _ in 0..queued {
            outbox.send(big.clone()).expect("fits");
        }
        assert_eq!(outbox.send(big.clone()), Err(NotQueued::Full));
        let taken = rx2.try_recv().expect("a frame");
        shared2.taken(&taken);
        assert_eq!(outbox.send(big.clone()), Ok(()));
        // One frame larger than the whole budget still goes to an empty queue.
        let (outbox, _rx3, _) = Outbox::new(4);
        assert_eq!(
            outbox.send(Bytes::from(vec![b'y'; LARGE_BUDGET + 1])),
            Ok(())
        );
        drop((rx.try_recv(), shared));
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
