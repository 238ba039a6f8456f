//! WebSocket plumbing over actix-http's codec, built for fan-out and for idle memory.
//!
//! After the handshake the socket is taken over from actix-http's HTTP/1 dispatcher (whose
//! two 8 KiB buffers would otherwise stay with every idle connection): a reader decodes
//! client frames ([`FrameReader`]) into a buffer that is released whenever it is empty,
//! and a writer task
//! drains the connection's queue onto the socket.
//!
//! Outbound frames are encoded once (a broadcast: once for all its subscribers) and queued
//! as `Bytes` in a bounded channel: the hub hands the same bytes to every subscriber, the
//! writer sends whatever is queued in one vectored write, and a full queue is how a slow
//! reader shows. A close (from the hub, a kick, or shutdown) overtakes whatever is still
//! queued.

use std::cell::RefCell;
use std::io::IoSlice;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use actix_codec::Encoder;
use actix_http::ws::{CloseCode, CloseReason, Codec, Frame, Message, ProtocolError};
use bytes::{Buf, Bytes, BytesMut};
use bytestring::ByteString;
use futures_util::{FutureExt, StreamExt};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{Notify, mpsc};

use super::outbox::{Outbox, Shared};
use super::reader::FrameReader;

/// Close code recorded when the socket itself failed (no close frame was exchanged).
const CLOSE_ABNORMAL: u16 = 1006;
/// Frames and bytes one vectored write takes at most.
const WRITE_FRAMES: usize = 64;
const WRITE_BYTES: usize = 64 * 1024;
/// Bytes read from a socket at a time, into a buffer shared by a worker's connections.
const READ_CHUNK: usize = 16 * 1024;

thread_local! {
    static SCRATCH: RefCell<Box<[u8]>> = RefCell::new(vec![0; READ_CHUNK].into_boxed_slice());
}

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

/// The outbound queue as a stream of wire frames, ending with the close frame.
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
            // No more frames are taken; a close after the queue lets the queued ones out.
            this.rx.close();
            if this.shared.after_queue.load(Ordering::Acquire)
                && let Poll::Ready(Some(frame)) = this.rx.poll_recv(cx)
            {
                this.shared.taken(&frame);
                return Poll::Ready(Some(Ok(frame)));
            }
            this.done = true;
            let reason = CloseReason {
                code: CloseCode::from(code),
                description: None,
            };
            return Poll::Ready(Some(Ok(encode(Message::Close(Some(reason))))));
        }
        match this.rx.poll_recv(cx) {
            Poll::Ready(Some(frame)) => {
                this.shared.taken(&frame);
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(None) => {
                this.done = true;
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

/// The receiving side: client frames decoded from the socket.
pub struct Inbound {
    read: OwnedReadHalf,
    frames: FrameReader,
}

impl Inbound {
    pub async fn next(&mut self) -> Option<Result<Frame, ProtocolError>> {
        loop {
            if let Some(frame) = self.frames.next_frame().transpose() {
                return Some(frame);
            }
            self.read.readable().await.ok()?;
            let read = SCRATCH.with(|scratch| {
                let mut scratch = scratch.borrow_mut();
                match self.read.try_read(&mut scratch[..]) {
                    Ok(0) => Some(false),
                    Ok(n) => {
                        self.frames.feed(&scratch[..n]);
                        Some(true)
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => None,
                    Err(_) => Some(false),
                }
            });
            if read == Some(false) {
                return None;
            }
        }
    }
}

/// The writer tasks of open sockets, so that shutdown can wait for their close frames.
#[derive(Default)]
pub struct Live {
    count: AtomicUsize,
    none_left: Notify,
}

struct LiveGuard(Arc<Live>);

impl Drop for LiveGuard {
    fn drop(&mut self) {
        if self.0.count.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.none_left.notify_waiters();
        }
    }
}

impl Live {
    fn enter(self: &Arc<Self>) -> LiveGuard {
        self.count.fetch_add(1, Ordering::AcqRel);
        LiveGuard(self.clone())
    }

    /// Waits until every socket's writer has finished, for at most `within`.
    pub async fn drained(&self, within: Duration) {
        let all_gone = async {
            loop {
                let notified = self.none_left.notified();
                if self.count.load(Ordering::Acquire) == 0 {
                    return;
                }
                notified.await;
            }
        };
        let _ = tokio::time::timeout(within, all_gone).await;
    }
}

/// Writes every frame, as few system calls as the socket allows.
async fn write_frames(write: &mut OwnedWriteHalf, frames: &mut [Bytes]) -> std::io::Result<()> {
    let mut start = 0;
    while start < frames.len() {
        let slices: Vec<IoSlice<'_>> = frames[start..].iter().map(|f| IoSlice::new(f)).collect();
        let mut written = write.write_vectored(&slices).await?;
        drop(slices);
        if written == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        while written > 0 && start < frames.len() {
            let len = frames[start].len();
            if written >= len {
                written -= len;
                start += 1;
            } else {
                frames[start].advance(written);
                written = 0;
            }
        }
    }
    Ok(())
}

/// How long a write may still take once the connection is closed ahead of its queue,
/// before the socket is dropped without its close frame.
const CUT_OFF_GRACE: Duration = Duration::from_secs(1);

/// Resolves [`CUT_OFF_GRACE`] after the connection is closed ahead of its queue (not a
/// graceful stop, whose queued frames must still go out).
async fn cut_off(shared: &Shared) {
    std::future::poll_fn(|cx| {
        shared.waker.register(cx.waker());
        let code = shared.close_code.load(Ordering::Acquire);
        if code != 0 && !shared.after_queue.load(Ordering::Acquire) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await;
    tokio::time::sleep(CUT_OFF_GRACE).await;
}

/// Drains the queue onto the socket until the close frame is out, then ends the stream.
/// A write that cannot finish within `timeout` (a peer that stopped reading with its
/// window shut) ends the connection.
async fn write_loop(
    mut body: OutboundBody,
    mut write: OwnedWriteHalf,
    timeout: Duration,
    _live: LiveGuard,
) {
    let shared = body.shared.clone();
    while let Some(Ok(first)) = body.next().await {
        let mut size = first.len();
        let mut batch = vec![first];
        while batch.len() < WRITE_FRAMES && size < WRITE_BYTES {
            match body.next().now_or_never() {
                Some(Some(Ok(frame))) => {
                    size += frame.len();
                    batch.push(frame);
                }
                _ => break,
            }
        }
        let write = tokio::time::timeout(timeout, write_frames(&mut write, &mut batch));
        let written = tokio::select! {
            biased;
            written = write => written,
            () = cut_off(&shared) => {
                // Closed ahead of its queue (a reader too slow to keep up) while its
                // window stays shut: the close frame cannot get through either, so the
                // socket goes now instead of holding its buffers until the timeout.
                return;
            }
        };
        if !matches!(written, Ok(Ok(()))) {
            // The peer is gone: let the connection's task end too.
            shared.failed(CLOSE_ABNORMAL);
            return;
        }
    }
    let _ = write.shutdown().await;
}

/// The handshake's answer: `101 Switching Protocols` with the key's accept value.
pub fn switching_protocols(client_key: &[u8]) -> Vec<u8> {
    let accept = actix_http::ws::hash_key(client_key);
    let mut head = b"HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\n\
        connection: upgrade\r\nsec-websocket-accept: "
        .to_vec();
    head.extend_from_slice(&accept);
    head.extend_from_slice(b"\r\n\r\n");
    head
}

/// What a taken-over socket is given.
#[derive(Debug, Clone, Copy)]
pub struct SocketSettings {
    /// The outbound queue's length, in frames.
    pub queue: usize,
    /// The largest client frame the decoder accepts, in bytes.
    pub max_frame: usize,
    /// The longest one write may take before the peer counts as gone.
    pub write_timeout: Duration,
}

/// Takes the socket over once the handshake has been checked: writes the `101`, starts
/// the writer task (on this worker) and returns the connection's two ends. `leftover`:
/// what the client sent after its request head.
pub async fn take_over(
    mut io: TcpStream,
    leftover: BytesMut,
    client_key: &[u8],
    settings: SocketSettings,
    live: &Arc<Live>,
) -> std::io::Result<(Outbox, Inbound)> {
    io.write_all(&switching_protocols(client_key)).await?;
    let (read, write) = io.into_split();
    let (outbox, rx, shared) = Outbox::new(settings.queue);
    let body = OutboundBody {
        rx,
        shared,
        done: false,
    };
    actix_web::rt::spawn(write_loop(
        body,
        write,
        settings.write_timeout,
        live.enter(),
    ));
    let inbound = Inbound {
        read,
        frames: FrameReader::with_leftover(settings.max_frame, &leftover),
    };
    Ok((outbox, inbound))
}
