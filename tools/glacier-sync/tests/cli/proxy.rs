//! A TCP proxy on loopback in front of a test server, which the tests stop
//! (every connection cut, the port refusing connections, as when the server
//! dies) and start again on the same port. moto keeps its state only while
//! it runs, so the proxy stands for the server going away and coming back.
//! It can also fall silent: accept connections, read the requests and
//! answer nothing, as a hung server or a black-holed network does.

use std::io::{Read as _, Write as _};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

struct Shared {
    upstream: String,
    /// Bytes sent by clients to the server, since the last start.
    sent: AtomicU64,
    /// Stop by itself once `sent` reaches this (0: never).
    cut_at: AtomicU64,
    down: AtomicBool,
    /// Accepts and reads, never forwards or answers.
    silent: AtomicBool,
    conns: Mutex<Vec<TcpStream>>,
}

pub(crate) struct Proxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
}

impl Proxy {
    /// A proxy to `upstream` (`host:port`) on a free port.
    pub(crate) fn start(upstream: &str) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared {
            upstream: upstream.to_owned(),
            sent: AtomicU64::new(0),
            cut_at: AtomicU64::new(0),
            down: AtomicBool::new(false),
            silent: AtomicBool::new(false),
            conns: Mutex::new(Vec::new()),
        });
        serve(listener, shared.clone());
        Proxy { addr, shared }
    }

    pub(crate) fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Bytes clients sent through the proxy since it last started.
    pub(crate) fn sent(&self) -> u64 {
        self.shared.sent.load(Ordering::SeqCst)
    }

    /// Stops by itself once clients have sent `bytes`.
    pub(crate) fn cut_after(&self, bytes: u64) {
        self.shared.cut_at.store(bytes, Ordering::SeqCst);
    }

    /// From now on, new connections get no answer (until [`Proxy::speak`]).
    pub(crate) fn silence(&self) {
        self.shared.silent.store(true, Ordering::SeqCst);
    }

    /// New connections reach the server again.
    pub(crate) fn speak(&self) {
        self.shared.silent.store(false, Ordering::SeqCst);
    }

    pub(crate) fn is_down(&self) -> bool {
        self.shared.down.load(Ordering::SeqCst)
    }

    /// Listens again on the same port, counting from zero.
    pub(crate) fn restart(&self) {
        assert!(self.is_down(), "the proxy is running");
        let listener = TcpListener::bind(self.addr).unwrap();
        self.shared.sent.store(0, Ordering::SeqCst);
        self.shared.cut_at.store(0, Ordering::SeqCst);
        self.shared.down.store(false, Ordering::SeqCst);
        serve(listener, self.shared.clone());
    }
}

fn stop(shared: &Shared, addr: SocketAddr) {
    if shared.down.swap(true, Ordering::SeqCst) {
        return;
    }
    for c in shared.conns.lock().unwrap().drain(..) {
        let _ = c.shutdown(Shutdown::Both);
    }
    // Wake the accept loop so that it drops the listener.
    let _ = TcpStream::connect(addr);
}

fn serve(listener: TcpListener, shared: Arc<Shared>) {
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            if shared.down.load(Ordering::SeqCst) {
                break; // the listener goes: connections are refused
            }
            let Ok(client) = conn else { continue };
            if shared.silent.load(Ordering::SeqCst) {
                std::thread::spawn(move || swallow(client));
                continue;
            }
            let Ok(server) = TcpStream::connect(&shared.upstream) else {
                continue;
            };
            {
                let mut conns = shared.conns.lock().unwrap();
                conns.push(client.try_clone().unwrap());
                conns.push(server.try_clone().unwrap());
            }
            let up = shared.clone();
            let (c, s) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            std::thread::spawn(move || pump(c, s, Some((&up, addr))));
            std::thread::spawn(move || pump(server, client, None));
        }
    });
}

/// Reads whatever the client sends and never answers.
fn swallow(mut client: TcpStream) {
    let mut buf = vec![0u8; 64 << 10];
    while matches!(client.read(&mut buf), Ok(n) if n > 0) {}
}

/// Copies `from` to `to`; counts (and cuts) the client's direction.
fn pump(mut from: TcpStream, mut to: TcpStream, count: Option<(&Shared, SocketAddr)>) {
    let mut buf = vec![0u8; 64 << 10];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if let Some((shared, addr)) = count {
            if shared.down.load(Ordering::SeqCst) {
                break;
            }
            if shared.silent.load(Ordering::SeqCst) {
                continue; // a kept-alive connection falls silent too
            }
            let total = shared.sent.fetch_add(n as u64, Ordering::SeqCst) + n as u64;
            let cut = shared.cut_at.load(Ordering::SeqCst);
            if cut > 0 && total >= cut {
                stop(shared, addr);
                break;
            }
        }
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}
