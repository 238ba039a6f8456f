//! A TCP proxy between two roles that loses replies on request: it forwards a request
//! whose bytes contain a marker, waits until the upstream starts to answer (the work is
//! done by then), and cuts the connection instead of passing the answer on.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub struct LossyProxy {
    pub address: String,
    /// Replies still to lose.
    lose: Arc<AtomicUsize>,
}

impl LossyProxy {
    /// Listens on a free port and forwards to `upstream` (`host:port`).
    pub async fn start(upstream: &str, marker: &'static [u8]) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("addr").to_string();
        let lose = Arc::new(AtomicUsize::new(0));
        let (upstream, budget) = (upstream.to_owned(), lose.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = TcpStream::connect(&upstream).await else {
                    continue;
                };
                tokio::spawn(relay(client, server, marker, budget.clone()));
            }
        });
        Self { address, lose }
    }

    /// The next `n` replies to a request with the marker are lost.
    pub fn lose_next(&self, n: usize) {
        self.lose.store(n, Ordering::SeqCst);
    }

    /// Replies still to lose.
    pub fn still_to_lose(&self) -> usize {
        self.lose.load(Ordering::SeqCst)
    }
}

async fn relay(
    mut client: TcpStream,
    mut server: TcpStream,
    marker: &'static [u8],
    lose: Arc<AtomicUsize>,
) {
    let (mut up, mut down) = ([0u8; 16384], [0u8; 16384]);
    let mut losing = false;
    loop {
        tokio::select! {
            read = client.read(&mut up) => {
                let Ok(n @ 1..) = read else { return };
                let chunk = &up[..n];
                if !losing
                    && chunk.windows(marker.len()).any(|w| w == marker)
                    && lose
                        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |l| l.checked_sub(1))
                        .is_ok()
                {
                    losing = true;
                }
                if server.write_all(chunk).await.is_err() {
                    return;
                }
            }
            read = server.read(&mut down) => {
                let Ok(n @ 1..) = read else { return };
                if losing {
                    // The upstream answered: whatever it did is done. The answer is lost.
                    return;
                }
                if client.write_all(&down[..n]).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// A TCP proxy whose connections can be made to go silent without closing, as a peer that
/// died or a network that drops packets does: `stall()` stops every connection from
/// passing a byte either way (their sockets stay open), and new ones are accepted and held
/// silent too, until `resume()`; connections made after that are forwarded as usual.
pub struct StallingProxy {
    pub address: String,
    stalled: tokio::sync::watch::Sender<usize>,
    holding: Arc<std::sync::atomic::AtomicBool>,
}

impl StallingProxy {
    pub async fn start(upstream: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("addr").to_string();
        let (stalled, watch) = tokio::sync::watch::channel(0usize);
        let holding = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (upstream, hold) = (upstream.to_owned(), holding.clone());
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if hold.load(Ordering::SeqCst) {
                    tokio::spawn(async move {
                        std::future::pending::<()>().await;
                        drop(client);
                    });
                    continue;
                }
                let Ok(mut server) = TcpStream::connect(&upstream).await else {
                    continue;
                };
                let mut watch = watch.clone();
                let generation = *watch.borrow_and_update();
                tokio::spawn(async move {
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => return,
                        _ = watch.wait_for(|g| *g != generation) => {}
                    }
                    // Silent from now on, but open: hold both sockets until the test ends.
                    std::future::pending::<()>().await;
                    drop((client, server));
                });
            }
        });
        Self {
            address,
            stalled,
            holding,
        }
    }

    /// Every connection goes silent, and so do new ones until [`Self::resume`].
    pub fn stall(&self) {
        self.holding.store(true, Ordering::SeqCst);
        self.stalled.send_modify(|g| *g += 1);
    }

    /// New connections are forwarded again (the stalled ones stay silent).
    pub fn resume(&self) {
        self.holding.store(false, Ordering::SeqCst);
    }
}

/// A TCP proxy that can be made slow, as a congested link or an overloaded peer is:
/// while `set_delay(d)` holds, every chunk either way waits `d` before it is passed on
/// (in order, nothing lost).
pub struct DelayProxy {
    pub address: String,
    delay_ms: Arc<std::sync::atomic::AtomicU64>,
}

impl DelayProxy {
    /// Listens on `bind` (`host:port`; port 0: any) and forwards to `upstream`.
    pub async fn start(bind: &str, upstream: &str) -> Self {
        let listener = TcpListener::bind(bind).await.expect("bind");
        let address = listener.local_addr().expect("addr").to_string();
        let delay_ms = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let (upstream, delay) = (upstream.to_owned(), delay_ms.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = TcpStream::connect(&upstream).await else {
                    continue;
                };
                let (client_read, client_write) = client.into_split();
                let (server_read, server_write) = server.into_split();
                tokio::spawn(delayed_copy(client_read, server_write, delay.clone()));
                tokio::spawn(delayed_copy(server_read, client_write, delay.clone()));
            }
        });
        Self { address, delay_ms }
    }

    pub fn set_delay(&self, delay: std::time::Duration) {
        let ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        self.delay_ms.store(ms, Ordering::SeqCst);
    }
}

async fn delayed_copy(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    delay_ms: Arc<std::sync::atomic::AtomicU64>,
) {
    let mut buf = [0u8; 16384];
    loop {
        let Ok(n @ 1..) = from.read(&mut buf).await else {
            let _ = to.shutdown().await;
            return;
        };
        let ms = delay_ms.load(Ordering::SeqCst);
        if ms > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}
