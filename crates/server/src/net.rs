//! Networking: listeners, connection worker threads and the per-connection loop.
//!
//! Threads: the main thread runs a small runtime for the accept loops, the cron task and signal
//! handling; each of N worker threads (one per core) runs its own single-threaded runtime with its
//! own I/O driver. An accepted socket is handed to one worker (round robin) and is served there,
//! so serving a request never involves a wake-up on another thread: no work-stealing hops, no
//! cross-core scheduling per command. Shared state (the sharded keyspace) is reached through the
//! per-shard locks.
//!
//! Connection migration ([`crate::affinity`]): a connection whose batches keep waiting for one
//! shard held by another worker (redis-benchmark's one-key HSET/ZADD/... at pipeline 16) moves to
//! that worker, so the shard's commands run on one thread without lock hand-offs; a connection
//! that moved for a shard it no longer uses goes back to a less loaded worker. The move happens
//! only at a batch boundary of the connection loop (every reply written, nothing half executed,
//! no blocking/MONITOR/Pub/Sub/tracking state: [`crate::affinity::movable`]): the tokio socket is
//! turned back into a std one and sent with the connection's whole state (client, parser, read
//! buffer with any partial request, reply protocol) to the other worker's queue
//! ([`Handover::Migrated`]), whose task goes on where this one stopped. The client stays
//! registered under the same id and fd throughout.
//!
//! One tokio task per connection. Each time the socket is readable, the task parses *every*
//! complete request in its buffer, executes them in order and appends the replies to one output
//! buffer, which is written with a single write when the batch is done (or when it grows past
//! [`FLUSH_AT`]). Locks are only held inside `dispatch::execute`, never across an `.await`.

use crate::client::{Client, RegistrationGuard, ReplyMode};
use crate::dispatch::{self, Flow};
use crate::server::Server;
use crate::{log_notice, log_verbose, log_warning};
use bytes::{Bytes, BytesMut};
use ferrokv_resp::{Limits, Protocol, Reply, RequestParser};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::futures::Notified;

/// Replies are flushed mid-batch once they exceed this many bytes.
const FLUSH_AT: usize = 64 * 1024;
/// Read buffer growth step.
const READ_CHUNK: usize = 16 * 1024;

/// Binds every configured address; fails with a clear message if none can be bound.
pub async fn bind(srv: &Server) -> std::io::Result<Vec<TcpListener>> {
    let (binds, port) = {
        let c = srv.config.read();
        (c.bind(), c.port())
    };
    let mut out = Vec::new();
    let mut last_err = None;
    for b in &binds {
        let (addr, optional) = match b.strip_prefix('-') {
            Some(a) => (a, true),
            None => (b.as_str(), false),
        };
        // Redis's wildcards: "*" is every IPv4 interface, "::*" every IPv6 one.
        let addr = match addr {
            "*" => "0.0.0.0",
            "::*" => "::",
            a => a,
        };
        let host = if addr.contains(':') && !addr.starts_with('[') {
            format!("[{addr}]:{port}")
        } else {
            format!("{addr}:{port}")
        };
        match TcpListener::bind(&host).await {
            Ok(l) => out.push(l),
            Err(e) if optional || (addr == "::1" && binds.len() > 1) => {
                log_verbose!("Skipping optional bind address {}: {}", host, e);
            }
            Err(e) => {
                log_warning!(
                    "Warning: Could not create server TCP listening socket {}: {}",
                    host,
                    e
                );
                last_err = Some(e);
            }
        }
    }
    if out.is_empty() || (last_err.is_some() && out.len() < binds.len()) {
        if let Some(e) = last_err {
            return Err(e);
        }
        if out.is_empty() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AddrNotAvailable,
                "no address to listen on",
            ));
        }
    }
    if let Some(l) = out.first() {
        if let Ok(a) = l.local_addr() {
            srv.tcp_port.store(u64::from(a.port()), Relaxed);
        }
    }
    Ok(out)
}

/// Where accepted connections are sent: one channel per worker thread.
type WorkerQueue = tokio::sync::mpsc::UnboundedSender<Handover>;

/// A connection on its way to a worker.
pub enum Handover {
    /// Accepted and registered by the accept loop.
    New(
        std::net::TcpStream,
        SocketAddr,
        Arc<crate::client::ClientHandle>,
    ),
    /// Moved from another worker at a batch boundary, with its whole state
    /// (see [`crate::affinity`]).
    Migrated(Box<Carried>),
}

/// A migrating connection: its socket and registration, and its state.
pub struct Carried {
    sock: std::net::TcpStream,
    addr: SocketAddr,
    handle: Arc<crate::client::ClientHandle>,
    state: ConnState,
}

/// Everything `serve_registered` keeps across batches (what a migrated connection brings
/// along).
struct ConnState {
    client: Client,
    parser: RequestParser,
    /// Unparsed bytes (a partial request) included.
    inbuf: BytesMut,
    /// Empty at a batch boundary; keeps the protocol (RESP2/3).
    reply: Reply,
    aff: crate::affinity::Affinity,
}

thread_local! {
    /// The worker threads' queues and loads, on each worker thread (for migrations).
    static WORKERS: std::cell::RefCell<Option<Arc<crate::affinity::Workers<WorkerQueue>>>> =
        const { std::cell::RefCell::new(None) };
}

/// How many connections each worker thread serves, by worker index, and how many connection
/// batches waited for a shard held by another worker; `None` off the worker threads (INFO
/// `ferrokv_worker_connections` and `ferrokv_contended_batches`, see [`crate::affinity`]).
pub fn worker_loads() -> Option<(Vec<usize>, u64)> {
    WORKERS.with(|w| {
        w.borrow().as_ref().map(|w| {
            (
                w.loads.iter().map(|l| l.load(Relaxed)).collect(),
                w.contended_batches.load(Relaxed),
            )
        })
    })
}

/// The packing state for INFO; `None` off the worker threads.
pub struct PackingInfo {
    /// Whether connections are packed on one worker now (`ferrokv_packed`).
    pub packed: bool,
    /// Switches between packed and spread (`ferrokv_pack_switches`).
    pub switches: u64,
    /// Each worker's busy fraction, permille (`ferrokv_worker_busy_permille`).
    pub busy: Vec<u32>,
    /// Each worker's repeated-shard share of lock acquisitions, permille
    /// (`ferrokv_worker_repeat_permille`, see [`crate::affinity::ONE_SHARD_ABOVE`]).
    pub repeats: Vec<u32>,
}

/// The packing state of the workers (see [`crate::affinity`]); `None` off the worker threads.
pub fn worker_packing() -> Option<PackingInfo> {
    WORKERS.with(|w| {
        w.borrow().as_ref().map(|w| PackingInfo {
            packed: w.is_packed(),
            switches: w.switches.load(Relaxed),
            busy: w.busy_permille(),
            repeats: w.repeat_permille(),
        })
    })
}

/// Starts `n` connection worker threads, each with its own current-thread runtime; returns
/// what the accept loop needs to hand them connections (their queues and packing state).
pub fn start_workers(
    srv: &Arc<Server>,
    n: usize,
) -> std::io::Result<Arc<crate::affinity::Workers<WorkerQueue>>> {
    let (queues, receivers): (Vec<_>, Vec<_>) = (0..n.max(1))
        .map(|_| tokio::sync::mpsc::unbounded_channel::<Handover>())
        .unzip();
    let mut shared = crate::affinity::Workers::new(queues.clone());
    shared.enabled = std::env::var("FERROKV_AFFINITY").map_or(true, |v| v != "0");
    shared.pack_enabled = std::env::var("FERROKV_PACK").map_or(true, |v| v != "0");
    shared.start_packed();
    let shared = Arc::new(shared);
    let all = shared.clone();
    for (i, mut rx) in receivers.into_iter().enumerate() {
        let srv = srv.clone();
        let shared = shared.clone();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .on_thread_park(crate::affinity::on_park)
            .on_thread_unpark(crate::affinity::on_unpark)
            .build()?;
        std::thread::Builder::new()
            .name(format!("ferrokv-io-{i}"))
            .spawn(move || {
                crate::affinity::set_worker(i);
                WORKERS.with(|w| *w.borrow_mut() = Some(shared.clone()));
                rt.block_on(async move {
                    if shared.can_pack() {
                        tokio::spawn(sample_busy(shared, i));
                    }
                    while let Some(h) = rx.recv().await {
                        let (sock, addr, handle, carried) = match h {
                            Handover::New(sock, addr, handle) => (sock, addr, handle, None),
                            Handover::Migrated(c) => {
                                let Carried {
                                    sock,
                                    addr,
                                    handle,
                                    state,
                                } = *c;
                                (sock, addr, handle, Some(state))
                            }
                        };
                        match TcpStream::from_std(sock) {
                            Ok(stream) => {
                                tokio::spawn(serve_registered(
                                    srv.clone(),
                                    stream,
                                    addr,
                                    handle,
                                    carried,
                                ));
                            }
                            Err(e) => {
                                if let Some(mut state) = carried {
                                    release_client(&srv, &mut state.client);
                                }
                                srv.clients.unregister(handle.id);
                                log_warning!("Registering client connection: {}", e);
                            }
                        }
                    }
                });
            })?;
    }
    Ok(all)
}

/// Publishes worker `index`'s busy fraction every [`crate::affinity::SAMPLE_MS`] (and, on
/// worker 0, decides whether connections are packed).
async fn sample_busy(workers: Arc<crate::affinity::Workers<WorkerQueue>>, index: usize) {
    let mut sampler = crate::affinity::Sampler::new(index);
    let mut tick = tokio::time::interval(Duration::from_millis(crate::affinity::SAMPLE_MS));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        sampler.sample(&workers);
    }
}

/// Runs the server until shutdown: accept loops (handing connections to `workers`), cron,
/// signal handling.
pub async fn serve(
    srv: Arc<Server>,
    listeners: Vec<TcpListener>,
    workers: Arc<crate::affinity::Workers<WorkerQueue>>,
) {
    let mut tasks = Vec::new();
    for l in listeners {
        tasks.push(tokio::spawn(accept_loop(srv.clone(), l, workers.clone())));
    }
    tokio::spawn(crate::cron::run(srv.clone()));
    tokio::spawn(signals(srv.clone()));
    log_notice!("Ready to accept connections tcp");
    for t in tasks {
        let _ = t.await;
    }
    // Give connections a bounded moment to observe the kill flag and close.
    for _ in 0..100 {
        if srv.clients.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn signals(srv: Arc<Server>) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        return;
    };
    let which = tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    };
    log_warning!("Received {} scheduling shutdown...", which);
    if !srv.config.read().save_params().is_empty() {
        log_notice!("Saving the final RDB snapshot before exiting.");
        let s = srv.clone();
        match tokio::task::spawn_blocking(move || crate::cmd::server::save_for_shutdown(&s)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => log_warning!("Error trying to save the DB: {}", e),
            Err(e) => log_warning!("Error trying to save the DB: {}", e),
        }
    }
    crate::cmd::server::shutdown_now(&srv);
}

async fn accept_loop(
    srv: Arc<Server>,
    listener: TcpListener,
    workers: Arc<crate::affinity::Workers<WorkerQueue>>,
) {
    let mut next = 0usize;
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = srv.shutdown_signal() => return,
        };
        if srv.shutting_down.load(Relaxed) {
            return;
        }
        let (stream, addr) = match accepted {
            Ok(x) => x,
            Err(e) => {
                // EMFILE and friends: back off briefly instead of spinning.
                log_warning!("Accepting client connection: {}", e);
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let max = srv.hot.maxclients.load(Relaxed) as usize;
        if srv.clients.len() >= max {
            srv.stats.rejected_connections.fetch_add(1, Relaxed);
            let msg = format!("-{}\r\n", crate::errors::MAX_CLIENTS);
            let _ = stream.try_write(msg.as_bytes());
            continue;
        }
        if protected_mode_denies(
            srv.hot.protected_mode.load(Relaxed),
            srv.auth_required(),
            &addr,
        ) {
            srv.stats.rejected_connections.fetch_add(1, Relaxed);
            let msg = format!("-{}\r\n", crate::errors::DENIED_PROTECTED_MODE);
            let _ = stream.try_write(msg.as_bytes());
            continue;
        }
        srv.stats.total_connections_received.fetch_add(1, Relaxed);
        // Registered here, before the next accept, so a burst of connections cannot slip past
        // the maxclients check above while their tasks have not started yet.
        let laddr = stream.local_addr().unwrap_or(addr);
        let handle = srv.clients.register(addr, laddr);
        let sock = match stream.into_std() {
            Ok(s) => s,
            Err(e) => {
                srv.clients.unregister(handle.id);
                log_warning!("Handing over client connection: {}", e);
                continue;
            }
        };
        next = next.wrapping_add(1);
        if let Some(q) = workers.queues.get(workers.accept_target(next)) {
            if q.send(Handover::New(sock, addr, handle.clone())).is_err() {
                srv.clients.unregister(handle.id);
            }
        }
    }
}

/// Redis's protected mode: with `protected-mode yes` and no password for the default user, only
/// clients connecting from a loopback address are accepted.
pub fn protected_mode_denies(protected: bool, password_set: bool, peer: &SocketAddr) -> bool {
    if !protected || password_set {
        return false;
    }
    let loopback = match peer.ip() {
        std::net::IpAddr::V4(ip) => ip.is_loopback(),
        std::net::IpAddr::V6(ip) => {
            ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    };
    !loopback
}

fn limits(srv: &Server) -> Limits {
    Limits {
        max_bulk_len: srv.hot.proto_max_bulk_len.load(Relaxed),
        ..Limits::default()
    }
}

/// Serves one client until it quits, is killed, times out or breaks the protocol.
pub async fn connection(srv: Arc<Server>, stream: TcpStream, addr: SocketAddr) {
    let laddr = stream.local_addr().unwrap_or(addr);
    let handle = srv.clients.register(addr, laddr);
    serve_registered(srv, stream, addr, handle, None).await;
}

/// [`connection`] for a client already registered in the client table (by the accept loop);
/// unregisters it when the connection ends. `carried`: the state of a connection migrated from
/// another worker, which goes on where it stopped.
async fn serve_registered(
    srv: Arc<Server>,
    mut stream: TcpStream,
    addr: SocketAddr,
    handle: Arc<crate::client::ClientHandle>,
    carried: Option<ConnState>,
) {
    {
        use std::os::fd::AsRawFd;
        handle.fd.store(i64::from(stream.as_raw_fd()), Relaxed);
    }
    let _reg = RegistrationGuard {
        srv: &srv,
        id: handle.id,
    };
    let migrated = carried.is_some();
    let ConnState {
        mut client,
        mut parser,
        mut inbuf,
        mut reply,
        mut aff,
    } = carried.unwrap_or_else(|| ConnState {
        client: Client::new(handle.clone(), !srv.auth_required()),
        parser: RequestParser::new(),
        inbuf: BytesMut::with_capacity(READ_CHUNK),
        reply: Reply::new(Protocol::Resp2),
        aff: crate::affinity::Affinity::default(),
    });
    let workers = WORKERS.with(|w| w.borrow().clone());
    let _load = workers.clone().map(|w| match migrated {
        true => crate::affinity::LoadGuard::adopt(w),
        false => crate::affinity::LoadGuard::enter(w),
    });
    let mut args: Vec<Bytes> = Vec::new();
    let mut pending = false;
    let mut monitor: Option<tokio::sync::mpsc::Receiver<Bytes>> = None;
    let mut squash = crate::squash::Squash::default();
    // One wait for CLIENT KILL for the connection's whole life, awaited wherever the task
    // waits (read, write, pause, WAIT, blocked on keys). Re-creating a `Notified` per wait
    // cost two waiter-list lock round trips per request (register, then unregister on drop);
    // once registered, polling it again is one. Every wait of this task must use this one:
    // `kill` is a `notify_one`, which would wake an idle second waiter instead.
    let killed = handle.kill_notify.notified();
    tokio::pin!(killed);

    'conn: loop {
        let lim = limits(&srv);
        client.clock_us = crate::util::now_us();
        aff.begin();
        // MONITOR lines produced before this batch go out before its replies (in order with
        // what this client does next, e.g. a RESET that ends the feed).
        if let Some(rx) = monitor.as_mut() {
            while let Ok(line) = rx.try_recv() {
                reply.raw(&line);
            }
        }
        loop {
            if !pending {
                match squash.parse(
                    &mut parser,
                    &mut inbuf,
                    &mut args,
                    &lim,
                    client.authenticated,
                ) {
                    Ok(true) => {}
                    Ok(false) => break,
                    Err(e) => {
                        // Exact bytes: `expected '$', got '<byte>'` carries the raw byte,
                        // which the Display text would re-encode as UTF-8.
                        e.write_reply(&mut reply);
                        srv.stats.count_error("ERR");
                        log_verbose!(
                            "Protocol error ({}) from client: id={} addr={}",
                            e,
                            client.id,
                            addr
                        );
                        let _ = stream.write_all(&reply.take()).await;
                        break 'conn;
                    }
                }
            }
            pending = false;
            if handle.is_killed() {
                break 'conn;
            }
            let before = client.reply_mode;
            if before == ReplyMode::SkipNext {
                client.reply_mode = ReplyMode::Skip;
            }
            // Messages queued for a subscriber go out before the reply of its next command.
            if let Some(mb) = client.subs.mailbox.as_ref() {
                if mb.has_pending() {
                    mb.drain_into(&mut reply);
                }
            }
            let mark = reply.len();
            // (While a script is busy, a script call is answered BUSY right here instead of
            // queueing behind it on the script thread.)
            let script = crate::scripting::runs_off_thread(&args) && !srv.scripting.busy();
            let inline = script
                .then(|| {
                    crate::scripting::inline::try_inline(
                        &srv,
                        &mut client,
                        (&mut squash, &mut parser, &mut inbuf, &lim),
                        &mut args,
                        &mut reply,
                    )
                })
                .flatten();
            let flow = if let Some(f) = inline {
                f
            } else if script {
                // Scripts not known to be fast run on the script thread so this worker keeps
                // serving its other connections (they get -BUSY from a long script, and can
                // SCRIPT KILL).
                let (srv2, argv, proto) = (srv.clone(), args.clone(), reply.proto());
                let placeholder = Client::new(handle.clone(), client.authenticated);
                let mut taken = std::mem::replace(&mut client, placeholder);
                let job = srv.scripting.run_on_script_thread(move || {
                    let mut out = Reply::new(proto);
                    let start = std::time::Instant::now();
                    let f = dispatch::execute(&srv2, &mut taken, &argv, &mut out);
                    srv2.scripting.note_run(&argv, start.elapsed());
                    (taken, out, f)
                });
                match job.await.ok_or(()) {
                    Ok((c, out, f)) => {
                        client = c;
                        reply.raw(out.as_bytes());
                        f
                    }
                    Err(_) => break 'conn,
                }
            } else {
                // Runs `args`, and the requests after it that fit under the same locks.
                let (p, b) = (&mut parser, &mut inbuf);
                squash.run(&srv, &mut client, p, b, &mut args, &mut reply, &lim)
            };
            // Serve the clients blocked on keys this command (or whole EXEC / script) made
            // ready, whatever happens to this connection next.
            crate::blocking::after_command(&srv, &mut client);
            if let Some(mb) = client.subs.mailbox.as_ref() {
                mb.set_proto(reply.proto());
            }
            if over_normal_limit(&srv, &client, reply.len()) {
                break 'conn;
            }
            if flow == Flow::Paused {
                client.reply_mode = before;
                pending = true;
                break;
            }
            client.blocking.keep_deadline = None;
            match client.reply_mode {
                ReplyMode::Off => reply.truncate(mark),
                ReplyMode::Skip => {
                    reply.truncate(mark);
                    client.reply_mode = ReplyMode::On;
                }
                ReplyMode::SkipNext if before != ReplyMode::SkipNext => reply.truncate(mark),
                _ => {}
            }
            if let Some(b) = client.block_until.take() {
                // Blocked (WAIT): send what is pending, park until the deadline, then reply.
                let silent = client.reply_mode == ReplyMode::Off
                    || matches!(before, ReplyMode::SkipNext | ReplyMode::Skip);
                srv.flush_batch(&mut client);
                if !reply.is_empty() {
                    let out = reply.take();
                    srv.stats
                        .net_output_bytes
                        .fetch_add(out.len() as u64, Relaxed);
                    aof_gate(&srv, &client).await;
                    if stream.write_all(&out).await.is_err() {
                        break 'conn;
                    }
                }
                let sleep = async {
                    match b.deadline_ms {
                        None => std::future::pending::<()>().await,
                        Some(d) => {
                            let ms = d.saturating_sub(crate::util::now_ms()).max(0) as u64;
                            tokio::time::sleep(Duration::from_millis(ms)).await;
                        }
                    }
                };
                tokio::select! {
                    _ = sleep => {}
                    _ = killed.as_mut() => break 'conn,
                }
                if !silent {
                    reply.int(b.reply_int);
                }
            }
            if let Some(w) = client.blocking.parked.take() {
                // Blocked on keys (BLPOP, ...): later pipelined requests wait in `inbuf`.
                let silent = client.reply_mode == ReplyMode::Off
                    || matches!(before, ReplyMode::SkipNext | ReplyMode::Skip);
                srv.flush_batch(&mut client);
                client.publish_info(reply.proto(), inbuf.len(), inbuf.capacity(), 0);
                if !reply.is_empty() {
                    let out = reply.take();
                    srv.stats
                        .net_output_bytes
                        .fetch_add(out.len() as u64, Relaxed);
                    aof_gate(&srv, &client).await;
                    if stream.write_all(&out).await.is_err() {
                        srv.blocking.cancel(&w);
                        break 'conn;
                    }
                }
                let mailbox = client.subs.mailbox.clone();
                let end = park(
                    &srv,
                    &handle,
                    &mut stream,
                    &mut inbuf,
                    &w,
                    mailbox,
                    killed.as_mut(),
                )
                .await;
                client.clock_us = crate::util::now_us();
                match end {
                    ParkEnd::Close => break 'conn,
                    ParkEnd::Delivered(crate::blocking::Delivery::Reply(bytes)) => {
                        if !silent {
                            reply.raw(&bytes);
                        }
                    }
                    ParkEnd::Delivered(crate::blocking::Delivery::Retry) => {
                        // Clients were paused when a key got ready: run the command again
                        // here once the pause ends, keeping the original deadline.
                        client.blocking.keep_deadline = Some(w.deadline_ms);
                        client.reply_mode = before;
                        pending = true;
                        break;
                    }
                    ParkEnd::TimedOut => {
                        crate::blocking::count_unserved_call(&srv, &mut client, &w, false, false);
                        if !silent {
                            crate::blocking::write_timeout_reply(&mut reply, w.on_timeout);
                        }
                    }
                    ParkEnd::Unblocked(reason) => {
                        let mut r = Reply::new(reply.proto());
                        let failed =
                            crate::blocking::write_unblocked_reply(&mut r, reason, w.on_timeout);
                        crate::blocking::count_unserved_call(&srv, &mut client, &w, true, failed);
                        if !silent {
                            reply.raw(&r.take());
                        }
                    }
                }
            }
            if client.wants_monitor && monitor.is_none() {
                monitor = Some(srv.add_monitor(client.id));
            } else if !client.wants_monitor && monitor.is_some() {
                // RESET ends MONITOR mode.
                srv.remove_monitor(client.id);
                monitor = None;
            }
            if flow == Flow::Close {
                aof_gate(&srv, &client).await;
                let _ = stream.write_all(&reply.take()).await;
                break 'conn;
            }
            if reply.len() >= FLUSH_AT {
                let out = reply.take();
                srv.stats
                    .net_output_bytes
                    .fetch_add(out.len() as u64, Relaxed);
                aof_gate(&srv, &client).await;
                if stream.write_all(&out).await.is_err() {
                    break 'conn;
                }
            }
        }
        srv.flush_batch(&mut client);
        handle
            .last_interaction_ms
            .store(crate::util::now_ms() as u64, Relaxed);
        client.publish_info(reply.proto(), inbuf.len(), inbuf.capacity(), reply.len());
        if !reply.is_empty() {
            let out = reply.take();
            srv.stats
                .net_output_bytes
                .fetch_add(out.len() as u64, Relaxed);
            aof_gate(&srv, &client).await;
            if !write_or_killed(&mut stream, &out, killed.as_mut()).await {
                break;
            }
        }
        // Batch boundary: every reply written, nothing half executed. Move to another worker?
        // (See crate::affinity for the decision and the conditions.)
        if let Some(w) = workers.as_ref() {
            let now_ms = client.clock_us / 1000;
            let go = aff
                .end(w, now_ms)
                .filter(|_| crate::affinity::movable(&client, monitor.is_some(), pending));
            if let Some((m, q)) = go.and_then(|m| Some((m, w.queues.get(usize::from(m.to()))?))) {
                let Ok(sock) = stream.into_std() else {
                    break 'conn;
                };
                aff.moved(m, now_ms);
                w.reserve(m.to());
                let c = Carried {
                    sock,
                    addr,
                    handle: handle.clone(),
                    state: ConnState {
                        client,
                        parser,
                        inbuf,
                        reply,
                        aff,
                    },
                };
                match q.send(Handover::Migrated(Box::new(c))) {
                    Ok(()) => {
                        srv.stats.connection_migrations.fetch_add(1, Relaxed);
                        // Still registered: the target worker goes on serving the client.
                        std::mem::forget(_reg);
                        return;
                    }
                    Err(e) => {
                        // That worker is gone (shutting down): close the connection.
                        w.unreserve(m.to());
                        match e.0 {
                            Handover::Migrated(c) => client = c.state.client,
                            // (Not what was sent.)
                            Handover::New(..) => return,
                        }
                        break 'conn;
                    }
                }
            }
        }
        if pending {
            let wait = srv.pause.until_ms() - crate::util::now_ms();
            let wait = Duration::from_millis(wait.clamp(1, 1000) as u64);
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = srv.pause.unpaused.notified() => {}
                _ = killed.as_mut() => break,
            }
            continue;
        }
        if inbuf.capacity() - inbuf.len() < READ_CHUNK / 2 {
            inbuf.reserve(READ_CHUNK);
        }
        let idle_limit = srv.hot.timeout_secs.load(Relaxed);
        // Like Redis, `timeout` spares MONITOR and Pub/Sub clients.
        // (Only looked up with a timeout set: the common case takes no lock here.)
        let spared = idle_limit == 0
            || monitor.is_some()
            || handle.info.lock().kind == crate::client::ClientKind::PubSub;
        let idle = async {
            if spared {
                std::future::pending::<()>().await;
            }
            tokio::time::sleep(Duration::from_secs(idle_limit)).await;
        };
        // Biased, the read first: when it is what woke the task (nearly always), the other
        // waits are not polled at all.
        tokio::select! {
            biased;
            r = stream.read_buf(&mut inbuf) => match r {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    srv.stats.net_input_bytes.fetch_add(n as u64, Relaxed);
                    let limit = srv.hot.query_buffer_limit.load(Relaxed) as usize;
                    if inbuf.len() > limit {
                        srv.stats.client_query_buffer_limit_disconnections.fetch_add(1, Relaxed);
                        log_warning!("Closing client that reached max query buffer length: id={} addr={} (qbuf={})", client.id, addr, inbuf.len());
                        break;
                    }
                }
            },
            _ = killed.as_mut() => break,
            m = async { match monitor.as_mut() { Some(rx) => rx.recv().await, None => std::future::pending().await } } => {
                match m {
                    Some(line) => {
                        let mut out = line.to_vec();
                        if let Some(rx) = monitor.as_mut() {
                            while let Ok(more) = rx.try_recv() {
                                out.extend_from_slice(&more);
                            }
                        }
                        if stream.write_all(&out).await.is_err() {
                            break;
                        }
                    }
                    None => break,
                }
            },
            _ = async { match client.subs.mailbox.as_ref() { Some(mb) => mb.wake.notified().await, None => std::future::pending().await } } => {
                if let Some(mb) = client.subs.mailbox.clone() {
                    // Let the publishers running now queue more before this write: fewer,
                    // larger writes when many messages arrive in a burst.
                    tokio::task::yield_now().await;
                    if let Some(out) = mb.take() {
                        srv.stats.net_output_bytes.fetch_add(out.len() as u64, Relaxed);
                        let ok = write_or_killed(&mut stream, &out, killed.as_mut()).await;
                        mb.written();
                        if !ok {
                            break;
                        }
                    }
                }
            },
            _ = idle => {
                log_verbose!("Closing idle client id={}", client.id);
                break;
            }
        }
    }
    if monitor.is_some() {
        srv.remove_monitor(client.id);
    }
    release_client(&srv, &mut client);
}

/// What a closing connection releases in the server's shared state (subscriptions, watched
/// keys, tracking) besides its MONITOR feed and registration.
fn release_client(srv: &Server, client: &mut Client) {
    crate::pubsub::unsubscribe_all(srv, &mut client.subs);
    crate::watch::unwatch_all(&srv.watches, client);
    crate::tracking::disable(srv, client, None);
    srv.flush_batch(client);
}

/// How a wait on keys ended.
enum ParkEnd {
    /// A server thread ran the command for the client (or asks it to run it again).
    Delivered(crate::blocking::Delivery),
    /// The deadline passed.
    TimedOut,
    /// CLIENT UNBLOCK with this reason.
    Unblocked(u8),
    /// Killed, disconnected or over the query buffer limit: close the connection.
    Close,
}

/// Waits for the parked waiter `w` to be served, time out, be unblocked or killed. Reads the
/// socket meanwhile (to notice a disconnect; the requests stay unparsed in `inbuf`). The wait is
/// ended from this side only through `Registry::cancel`, which fails once a server thread has
/// claimed the waiter: then the delivery is awaited instead.
async fn park(
    srv: &Server,
    handle: &crate::client::ClientHandle,
    stream: &mut TcpStream,
    inbuf: &mut BytesMut,
    w: &Arc<crate::blocking::Waiter>,
    mailbox: Option<Arc<crate::pubsub::Mailbox>>,
    mut killed: Pin<&mut Notified<'_>>,
) -> ParkEnd {
    let _guard = crate::blocking::ParkGuard {
        reg: &srv.blocking,
        waiter: w.clone(),
    };
    loop {
        if let Some(d) = w.take_delivery() {
            return ParkEnd::Delivered(d);
        }
        if w.is_claimed() {
            w.notify.notified().await;
            continue;
        }
        let deadline = w.deadline_ms;
        let sleep = async move {
            match deadline {
                None => std::future::pending::<()>().await,
                Some(d) => {
                    let ms = d.saturating_sub(crate::util::now_ms()).max(0) as u64;
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                }
            }
        };
        if inbuf.capacity() - inbuf.len() < READ_CHUNK / 2 {
            inbuf.reserve(READ_CHUNK);
        }
        tokio::select! {
            _ = w.notify.notified() => {}
            _ = killed.as_mut() => {
                srv.blocking.cancel(w);
                return ParkEnd::Close;
            }
            _ = handle.unblock_notify.notified() => {
                let reason = handle.take_unblock();
                if reason != 0 && srv.blocking.cancel(w) {
                    return ParkEnd::Unblocked(reason);
                }
            }
            _ = sleep => {
                if srv.blocking.cancel(w) {
                    return ParkEnd::TimedOut;
                }
            }
            // Pub/Sub messages (RESP3 subscribers may block) are delivered meanwhile.
            _ = async { match mailbox.as_ref() { Some(mb) => mb.wake.notified().await, None => std::future::pending().await } } => {
                if let Some(out) = mailbox.as_ref().and_then(|mb| mb.take()) {
                    srv.stats.net_output_bytes.fetch_add(out.len() as u64, Relaxed);
                    let ok = write_or_killed(stream, &out, killed.as_mut()).await;
                    if let Some(mb) = mailbox.as_ref() {
                        mb.written();
                    }
                    if !ok {
                        srv.blocking.cancel(w);
                        return ParkEnd::Close;
                    }
                }
            }
            r = stream.read_buf(inbuf) => match r {
                Ok(0) | Err(_) => {
                    srv.blocking.cancel(w);
                    return ParkEnd::Close;
                }
                Ok(n) => {
                    srv.stats.net_input_bytes.fetch_add(n as u64, Relaxed);
                    let limit = srv.hot.query_buffer_limit.load(Relaxed) as usize;
                    if inbuf.len() > limit {
                        srv.stats.client_query_buffer_limit_disconnections.fetch_add(1, Relaxed);
                        log_warning!("Closing client that reached max query buffer length: id={} addr={} (qbuf={})", handle.id, handle.addr, inbuf.len());
                        srv.blocking.cancel(w);
                        return ParkEnd::Close;
                    }
                }
            },
        }
    }
}

/// With `appendfsync always`, a client's replies go out only once its last execution unit is
/// on disk (see [`crate::persist::aof`]).
#[inline]
async fn aof_gate(srv: &Server, client: &Client) {
    let aof = &srv.persist.aof;
    let barrier = client.effects.aof_offset.max(aof.reply_barrier());
    aof.wait_synced(barrier).await
}

/// Writes `out`, giving up when the client is killed meanwhile (a subscriber closed by the
/// output-buffer limit must not stay blocked on a socket nobody reads). False when the
/// connection must close. `killed` is the connection's one wait for CLIENT KILL.
async fn write_or_killed(
    stream: &mut TcpStream,
    out: &[u8],
    killed: Pin<&mut Notified<'_>>,
) -> bool {
    // Biased, the write first: a reply that fits in the socket buffer (nearly all) is written
    // on the first poll, without touching the kill wait.
    tokio::select! {
        biased;
        r = stream.write_all(out) => r.is_ok(),
        _ = killed => false,
    }
}

/// The `normal` class of `client-output-buffer-limit` applied to a normal client's reply
/// buffer (`pending` bytes): true (after logging and counting) when the client must be closed.
/// Only the hard limit is enforced here: replies are flushed every [`FLUSH_AT`] bytes, so only
/// a single huge reply can reach it.
fn over_normal_limit(srv: &Server, client: &Client, pending: usize) -> bool {
    let (hard, _, _) = srv.hot.obuf_limit(crate::pubsub::CLASS_NORMAL);
    if hard == 0 || (pending as u64) < hard || client.subs.active() {
        return false;
    }
    srv.stats
        .client_output_buffer_limit_disconnections
        .fetch_add(1, Relaxed);
    log_warning!(
        "Client id={} addr={} closed for overcoming of output buffer limits.",
        client.id,
        client.handle.addr
    );
    true
}

#[cfg(test)]
mod tests {
    use super::protected_mode_denies;
    use std::net::SocketAddr;

    fn a(s: &str) -> SocketAddr {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn protected_mode_admits_only_loopback_without_a_password() {
        for ok in [
            "127.0.0.1:5000",
            "127.9.9.9:1",
            "[::1]:5000",
            "[::ffff:127.0.0.1]:7",
        ] {
            assert!(!protected_mode_denies(true, false, &a(ok)), "{ok}");
        }
        for far in [
            "10.1.2.3:5000",
            "192.0.2.2:1",
            "[2001:db8::1]:5000",
            "[::ffff:10.0.0.1]:7",
        ] {
            assert!(protected_mode_denies(true, false, &a(far)), "{far}");
            // A password, or protected-mode no, lets them in.
            assert!(!protected_mode_denies(true, true, &a(far)), "{far}");
            assert!(!protected_mode_denies(false, false, &a(far)), "{far}");
        }
    }
}
