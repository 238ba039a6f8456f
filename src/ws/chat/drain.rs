//! Shutting down without losing a write: every draft handed to the persister holds a
//! [`Ticket`] until its sender has been answered, and a stopping node stops taking writes,
//! then waits until every ticket is back before it closes the sockets.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::Notify;

#[derive(Default)]
pub struct Drain {
    closed: AtomicBool,
    pending: AtomicUsize,
    none_pending: Notify,
}

/// A write on its way: its sender is still to be answered.
pub struct Ticket(Arc<Drain>);

impl Drop for Ticket {
    fn drop(&mut self) {
        if self.0.pending.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.none_pending.notify_waiters();
        }
    }
}

impl Drain {
    /// A ticket for a new write; `None` once the node is stopping.
    pub fn admit(self: &Arc<Self>) -> Option<Ticket> {
        self.pending.fetch_add(1, Ordering::AcqRel);
        let ticket = Ticket(self.clone());
        // Checked after counting, so a write admitted here is one `close` waits for.
        (!self.closed.load(Ordering::Acquire)).then_some(ticket)
    }

    /// Whether the node has stopped taking writes.
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Takes no more writes and waits, for at most `within`, until every admitted one has
    /// been answered. Returns how many were still pending at the end (0: all drained).
    pub async fn close(&self, within: Duration) -> usize {
        self.closed.store(true, Ordering::Release);
        let all_answered = async {
            loop {
                let notified = self.none_pending.notified();
                if self.pending.load(Ordering::Acquire) == 0 {
                    return;
                }
                notified.await;
            }
        };
        let _ = tokio::time::timeout(within, all_answered).await;
        self.pending.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[actix_web::test]
    async fn close_waits_for_admitted_writes_and_refuses_new_ones() {
        let drain = Arc::new(Drain::default());
        let ticket = drain.admit().expect("open");
        let answered = {
            let drain = drain.clone();
            actix_web::rt::spawn(async move { drain.close(Duration::from_secs(5)).await })
        };
        tokio::task::yield_now().await;
        assert!(drain.admit().is_none(), "closing: no new writes");
        drop(ticket);
        assert_eq!(answered.await.expect("joined"), 0);
    }

    #[actix_web::test]
    async fn close_gives_up_after_its_time() {
        let drain = Arc::new(Drain::default());
        let _stuck = drain.admit().expect("open");
        assert_eq!(drain.close(Duration::from_millis(20)).await, 1);
    }
}
