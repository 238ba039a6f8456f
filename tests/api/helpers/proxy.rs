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
