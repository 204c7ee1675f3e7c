//! The `ferrokv-server` binary: same command line as `redis-server`.

use ferrokv_server::config::Config;
use ferrokv_server::server::Server;
use ferrokv_server::{log_notice, log_warning, net, FERROKV_VERSION, REDIS_VERSION};
use std::process::ExitCode;
use std::sync::Arc;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn usage() {
    eprintln!(
        "Usage: ./ferrokv-server [/path/to/ferrokv.conf] [options] [-]
       ./ferrokv-server - (read config from stdin)
       ./ferrokv-server -v or --version
       ./ferrokv-server -h or --help

Examples:
       ./ferrokv-server (run the server with default config)
       ./ferrokv-server /etc/redis/6379.conf
       ./ferrokv-server --port 7777
       ./ferrokv-server /etc/myredis.conf --loglevel verbose -
       ./ferrokv-server --port 7777 --save \"\" --appendonly no

Every redis.conf directive is accepted as a file line or as --directive value."
    );
}

/// Loads `dir/dbfilename` on a thread while the server already answers (commands without the
/// `loading` flag get `-LOADING` until it is done, INFO shows the progress). A file that cannot
/// be loaded entirely stops the server with a non-zero exit status.
fn start_loading(srv: &Arc<Server>) {
    let path = ferrokv_server::persist::rdb_path(srv);
    let disk_mode = ferrokv_server::disk::enabled(srv);
    // On the disk engine the store's journal is the durability mechanism: no AOF is loaded.
    let aof = !disk_mode && srv.config.read().get_bool("appendonly").unwrap_or(false);
    if !aof && !path.exists() {
        return;
    }
    if disk_mode && !ferrokv_server::disk::store_is_empty(srv) {
        // The disk store is the dataset: an RDB file is only imported into an empty store.
        return;
    }
    srv.persist
        .loading
        .store(true, std::sync::atomic::Ordering::Relaxed);
    let srv = srv.clone();
    let spawned = std::thread::Builder::new()
        .name("ferrokv-load".into())
        .spawn(move || {
            if aof {
                // With the AOF on, the RDB file is not read (as Redis 7).
                if let Err(e) = ferrokv_server::persist::aof::startup(&srv) {
                    log_warning!("{}", e);
                    log_warning!("Fatal error loading the DB, check server logs. Exiting.");
                    std::process::exit(1);
                }
            } else {
                match ferrokv_server::persist::load::load_file(&srv, &path) {
                    Ok(Some(l)) => {
                        log_notice!("DB loaded from disk: {:.3} seconds", l.secs);
                        if disk_mode {
                            // The loader wrote every key straight into the disk store, and
                            // installed the file's function libraries: keep them too.
                            ferrokv_server::disk::sysdata::save_functions(&srv);
                            log_notice!(
                                "Imported {} keys from {} into the empty disk store",
                                l.keys,
                                path.display()
                            );
                        }
                    }
                    Ok(None) => {}
                    Err(e) => {
                        log_warning!("{}", e);
                        log_warning!("Fatal error loading the DB, check server logs. Exiting.");
                        std::process::exit(1);
                    }
                }
            }
            srv.persist
                .loading
                .store(false, std::sync::atomic::Ordering::Relaxed);
        });
    if let Err(e) = spawned {
        log_warning!("Can't start loading the DB: {}", e);
        std::process::exit(1);
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(first) = args.first() {
        match first.as_str() {
            "-v" | "--version" => {
                println!(
                    "ferrokv server v={FERROKV_VERSION} redis_version={REDIS_VERSION} bits=64 malloc=mimalloc"
                );
                return ExitCode::SUCCESS;
            }
            "-h" | "--help" => {
                usage();
                return ExitCode::SUCCESS;
            }
            _ => {}
        }
    }
    let (config, warnings) = match Config::from_args(&args) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    ferrokv_server::logging::init(config.loglevel(), &config.logfile());
    log_notice!("oO0OoO0OoO0Oo ferrokv is starting oO0OoO0OoO0Oo");
    log_notice!(
        "ferrokv version={}, redis_version={}, bits=64, pid={}, just started",
        FERROKV_VERSION,
        REDIS_VERSION,
        std::process::id()
    );
    for w in &warnings {
        log_warning!("{}", w);
    }
    // Before any thread starts and before the dataset is loaded, so that no huge page is
    // faulted in first (the flag applies to later faults of the whole process).
    if config.get_bool("disable-thp") != Some(false) {
        ferrokv_server::util::disable_transparent_huge_pages();
    }
    let threads = std::env::var("FERROKV_THREADS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2)
        });
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("Failed to start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let disk_mode = config.storage_engine() == "disk";
    let srv = Arc::new(Server::new(config));
    srv.persist.attach(&srv);
    if disk_mode {
        if let Err(e) = ferrokv_server::disk::open(&srv)
            .and_then(|()| ferrokv_server::disk::sysdata::load_functions(&srv))
        {
            log_warning!("{}", e);
            eprintln!("*** FATAL ERROR *** {e}");
            return ExitCode::FAILURE;
        }
    }
    let workers = match net::start_workers(&srv, threads) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("Failed to start the connection threads: {e}");
            return ExitCode::FAILURE;
        }
    };
    rt.block_on(async move {
        let listeners = match net::bind(&srv).await {
            Ok(l) => l,
            Err(e) => {
                log_warning!(
                    "Failed listening on port {} (tcp), aborting: {}",
                    srv.config.read().port(),
                    e
                );
                return ExitCode::FAILURE;
            }
        };
        log_notice!("Server initialized");
        start_loading(&srv);
        net::serve(srv, listeners, workers).await;
        ExitCode::SUCCESS
    })
}
