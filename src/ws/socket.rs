//! WebSocket plumbing over actix-http's codec, built for fan-out.
//!
//! Outbound frames are encoded once (a broadcast: once for all its subscribers) and queued
//! as `Bytes` in a bounded channel that *is* the response body: the hub hands the same bytes
//! to every subscriber, the body stream writes whatever is queued in one go, and a full queue
//! is how a slow reader shows. A close (from the hub, a kick, or shutdown) overtakes
//! whatever is still queued.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};
use std::task::{Context, Poll};

use actix_codec::{Decoder, Encoder};
use actix_http::ws::{CloseCode, CloseReason, Codec, Frame, Message, ProtocolError};
use actix_web::{HttpRequest, HttpResponse, web};
use bytes::{Bytes, BytesMut};
use bytestring::ByteString;
use futures_util::StreamExt;
use futures_util::task::AtomicWaker;
use tokio::sync::{Notify, mpsc};

/// Encodes one server frame (unmasked) into wire bytes.
pub fn encode(message: Message) -> Bytes {
    let mut buf = BytesMut::with_capacity(64);
    // Encoding a server frame into memory cannot fail.
    let _ = Codec::new().encode(message, &mut buf);
    buf.freeze()
}

/// Wire bytes of a text frame.
pub fn text_frame(json: String) -> Bytes {
    encode(Message::Text(ByteString::from(json)))
}

struct Shared {
    close_code: AtomicU16,
    waker: AtomicWaker,
    closed: Notify,
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
    pub fn send(&self, frame: Bytes) -> Result<(), NotQueued> {
        self.tx.try_send(frame).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => NotQueued::Full,
            mpsc::error::TrySendError::Closed(_) => NotQueued::Closed,
        })
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

    /// Resolves once [`Outbox::close`] has been called.
    pub async fn closing(&self) {
        if self.shared.close_code.load(Ordering::Acquire) != 0 {
            return;
        }
        self.shared.closed.notified().await;
    }
}

/// The response body: drains the outbound queue onto the socket.
struct OutboundBody {
    rx: mpsc::Receiver<Bytes>,
    shared: Arc<Shared>,
    done: bool,
}

impl futures_util::Stream for OutboundBody {
    type Item = Result<Bytes, std::convert::Infallible>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        this.shared.waker.register(cx.waker());
        let code = this.shared.close_code.load(Ordering::Acquire);
        if code != 0 {
            this.done = true;
            this.rx.close();
            let reason = CloseReason {
                code: CloseCode::from(code),
                description: None,
            };
            return Poll::Ready(Some(Ok(encode(Message::Close(Some(reason))))));
        }
        match this.rx.poll_recv(cx) {
            Poll::Ready(Some(frame)) => Poll::Ready(Some(Ok(frame))),
            Poll::Ready(None) => {
                this.done = true;
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

/// The receiving side: client frames decoded from the request body.
pub struct Inbound {
    payload: web::Payload,
    buf: BytesMut,
    codec: Codec,
}

impl Inbound {
    pub async fn next(&mut self) -> Option<Result<Frame, ProtocolError>> {
        loop {
            match self.codec.decode(&mut self.buf) {
                Ok(Some(frame)) => return Some(Ok(frame)),
                Ok(None) => {}
                Err(e) => return Some(Err(e)),
            }
            match self.payload.next().await {
                Some(Ok(bytes)) => self.buf.extend_from_slice(&bytes),
                Some(Err(_)) | None => return None,
            }
        }
    }
}

/// Completes the WebSocket handshake. `queue`: the outbound queue's length in frames;
/// `max_frame`: the largest client frame the decoder accepts.
pub fn upgrade(
    req: &HttpRequest,
    payload: web::Payload,
    queue: usize,
    max_frame: usize,
) -> Result<(HttpResponse, Outbox, Inbound), actix_web::Error> {
    let mut builder = actix_http::ws::handshake(req.head())?;
    let (tx, rx) = mpsc::channel(queue.max(1));
    let shared = Arc::new(Shared {
        close_code: AtomicU16::new(0),
        waker: AtomicWaker::new(),
        closed: Notify::new(),
    });
    let body = OutboundBody {
        rx,
        shared: shared.clone(),
        done: false,
    };
    let response: HttpResponse = builder
        .message_body(actix_web::body::MessageBody::boxed(
            actix_web::body::BodyStream::new(body),
        ))?
        .into();
    let outbox = Outbox {
        tx,
        shared,
        capacity: queue.max(1),
    };
    let inbound = Inbound {
        payload,
        buf: BytesMut::new(),
        codec: Codec::new().max_size(max_frame),
    };
    Ok((response, outbox, inbound))
}

#[cfg(test)]
pub mod testing {
    use std::cell::RefCell;
    use std::rc::Rc;

    use super::*;

    /// An outbox with no socket behind it, and a function returning every frame queued on
    /// it so far.
    pub fn recording_outbox() -> (Outbox, impl Fn() -> Vec<Bytes>) {
        let (tx, rx) = mpsc::channel(64);
        let outbox = Outbox {
            tx,
            shared: Arc::new(Shared {
                close_code: AtomicU16::new(0),
                waker: AtomicWaker::new(),
                closed: Notify::new(),
            }),
            capacity: 64,
        };
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
}
