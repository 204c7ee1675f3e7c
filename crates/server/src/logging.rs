//! Redis-style server log.
//!
//! Every line looks like Redis's: `<pid>:<role> <dd Mon yyyy HH:MM:SS.mmm> <level> <message>`, e.g.
//! `4242:M 24 Nov 2026 02:30:38.123 * Ready to accept connections`. The role character is `M`
//! (master, the default), `S` (replica), `C` (child process) or `X` (sentinel); the level character
//! is `.` debug, `-` verbose, `*` notice, `#` warning. Times are UTC.
//!
//! There is one global logger (atomics plus a mutex-protected target), configured from the
//! `loglevel` and `logfile` parameters and changeable at run time with [`set_level`] and
//! [`set_logfile`]. With an empty `logfile` lines go to stdout; otherwise the file is opened in
//! append mode for every line, like Redis does, so external log rotation just works.
//!
//! Use the macros [`log_warning!`](crate::log_warning), [`log_notice!`](crate::log_notice),
//! [`log_verbose!`](crate::log_verbose) and [`log_debug!`](crate::log_debug), which take
//! `format!`-style arguments and skip formatting entirely when the level is filtered out.

use std::fmt;
use std::fs::OpenOptions;
use std::io::Write;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

/// Verbosity levels, ordered from most to least verbose; `Nothing` silences the log entirely.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum LogLevel {
    /// Lots of information, useful for development/testing (`.`).
    Debug = 0,
    /// Useful information, less noisy than debug (`-`).
    Verbose = 1,
    /// Moderately verbose, what you want in production (`*`, the default).
    Notice = 2,
    /// Only very important or critical messages (`#`).
    Warning = 3,
    /// Nothing is logged.
    Nothing = 4,
}

impl LogLevel {
    /// Parses a `loglevel` value (`debug`, `verbose`, `notice`, `warning`, `nothing`),
    /// ignoring ASCII case; `None` for anything else.
    pub fn from_name(name: &str) -> Option<LogLevel> {
        match name.to_ascii_lowercase().as_str() {
            "debug" => Some(LogLevel::Debug),
            "verbose" => Some(LogLevel::Verbose),
            "notice" => Some(LogLevel::Notice),
            "warning" => Some(LogLevel::Warning),
            "nothing" => Some(LogLevel::Nothing),
            _ => None,
        }
    }

    /// The lower-case name as `CONFIG GET loglevel` shows it.
    pub fn name(self) -> &'static str {
        match self {
            LogLevel::Debug => "debug",
            LogLevel::Verbose => "verbose",
            LogLevel::Notice => "notice",
            LogLevel::Warning => "warning",
            LogLevel::Nothing => "nothing",
        }
    }

    /// The marker character written in each log line for this level.
    pub fn marker(self) -> char {
        match self {
            LogLevel::Debug => '.',
            LogLevel::Verbose => '-',
            LogLevel::Notice => '*',
            LogLevel::Warning | LogLevel::Nothing => '#',
        }
    }

    fn from_u8(v: u8) -> LogLevel {
        match v {
            0 => LogLevel::Debug,
            1 => LogLevel::Verbose,
            2 => LogLevel::Notice,
            3 => LogLevel::Warning,
            _ => LogLevel::Nothing,
        }
    }
}

static LEVEL: AtomicU8 = AtomicU8::new(LogLevel::Notice as u8);
static ROLE: AtomicU8 = AtomicU8::new(b'M');
/// Empty path = stdout. The mutex also serialises writers so lines never interleave.
static TARGET: Mutex<String> = Mutex::new(String::new());

/// Configures the global logger in one go: minimum level and destination (`""` = stdout).
pub fn init(level: LogLevel, logfile: &str) {
    set_level(level);
    set_logfile(logfile);
}

/// Changes the minimum level at run time (CONFIG SET loglevel).
pub fn set_level(level: LogLevel) {
    LEVEL.store(level as u8, Ordering::Relaxed);
}

/// The current minimum level.
pub fn level() -> LogLevel {
    LogLevel::from_u8(LEVEL.load(Ordering::Relaxed))
}

/// Changes the destination: empty string for stdout, otherwise a file opened in append mode
/// for each line. Does not check that the file is writable; see [`check_logfile`].
pub fn set_logfile(path: &str) {
    let mut t = TARGET.lock().unwrap_or_else(|e| e.into_inner());
    t.clear();
    t.push_str(path);
}

/// Sets the role character shown after the pid (`M` master, `S` replica, `C` child, `X` sentinel).
pub fn set_role(role: char) {
    let b = if role.is_ascii() { role as u8 } else { b'?' };
    ROLE.store(b, Ordering::Relaxed);
}

/// Whether a message at `level` would currently be written (use it to avoid costly formatting).
pub fn enabled(level: LogLevel) -> bool {
    level != LogLevel::Nothing && level as u8 >= LEVEL.load(Ordering::Relaxed)
}

/// Verifies at startup that `path` can be opened for appending (creating it if needed), returning
/// the OS error text otherwise, so the server can refuse to start like Redis does
/// ("Can't open the log file: ..."). An empty path (stdout) is always fine.
pub fn check_logfile(path: &str) -> Result<(), String> {
    if path.is_empty() {
        return Ok(());
    }
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map(|_| ())
        .map_err(|e| crate::config::io_error_text(&e))
}

/// Writes one log line at `level` if it passes the filter. Failures to write are ignored, as in
/// Redis (there is nowhere left to report them).
pub fn log(level: LogLevel, args: fmt::Arguments<'_>) {
    if !enabled(level) {
        return;
    }
    let line = format_line(
        std::process::id(),
        ROLE.load(Ordering::Relaxed) as char,
        SystemTime::now(),
        level,
        args,
    );
    write_line(&line);
}

/// Writes `text` verbatim (no pid/time/level prefix, newline added) if `level` passes the
/// filter; Redis uses such raw lines for the ASCII-art logo.
pub fn log_raw(level: LogLevel, text: &str) {
    if !enabled(level) {
        return;
    }
    let mut line = String::with_capacity(text.len() + 1);
    line.push_str(text);
    line.push('\n');
    write_line(&line);
}

fn write_line(line: &str) {
    let target = TARGET.lock().unwrap_or_else(|e| e.into_inner());
    if target.is_empty() {
        let out = std::io::stdout();
        let mut out = out.lock();
        let _ = out.write_all(line.as_bytes());
        let _ = out.flush();
    } else if let Ok(mut f) = OpenOptions::new()
        .create(true)
        .append(true)
        .open(target.as_str())
    {
        let _ = f.write_all(line.as_bytes());
    }
}

/// Formats one complete log line (with trailing newline) without writing it; exposed so the
/// format can be tested and reused (e.g. for crash reports written to stderr).
pub fn format_line(
    pid: u32,
    role: char,
    when: SystemTime,
    level: LogLevel,
    args: fmt::Arguments<'_>,
) -> String {
    format!(
        "{}:{} {} {} {}\n",
        pid,
        role,
        format_timestamp(when),
        level.marker(),
        args
    )
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Formats `when` (UTC) as `dd Mon yyyy HH:MM:SS.mmm`, the timestamp part of a Redis log line.
/// Times before the Unix epoch are shown as the epoch.
pub fn format_timestamp(when: SystemTime) -> String {
    let d = when.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let millis = d.subsec_millis();
    let days = (secs / 86_400) as i64;
    let sod = secs % 86_400;
    let (y, m, day) = civil_from_days(days);
    format!(
        "{:02} {} {} {:02}:{:02}:{:02}.{:03}",
        day,
        MONTHS[(m - 1) as usize],
        y,
        sod / 3600,
        (sod / 60) % 60,
        sod % 60,
        millis
    )
}

/// Converts days since 1970-01-01 to a proleptic Gregorian (year, month 1..=12, day 1..=31).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Logs at warning level (`#`) with `format!` arguments.
#[macro_export]
macro_rules! log_warning {
    ($($arg:tt)*) => {
        if $crate::logging::enabled($crate::logging::LogLevel::Warning) {
            $crate::logging::log($crate::logging::LogLevel::Warning, format_args!($($arg)*));
        }
    };
}

/// Logs at notice level (`*`) with `format!` arguments.
#[macro_export]
macro_rules! log_notice {
    ($($arg:tt)*) => {
        if $crate::logging::enabled($crate::logging::LogLevel::Notice) {
            $crate::logging::log($crate::logging::LogLevel::Notice, format_args!($($arg)*));
        }
    };
}

/// Logs at verbose level (`-`) with `format!` arguments.
#[macro_export]
macro_rules! log_verbose {
    ($($arg:tt)*) => {
        if $crate::logging::enabled($crate::logging::LogLevel::Verbose) {
            $crate::logging::log($crate::logging::LogLevel::Verbose, format_args!($($arg)*));
        }
    };
}

/// Logs at debug level (`.`) with `format!` arguments.
#[macro_export]
macro_rules! log_debug {
    ($($arg:tt)*) => {
        if $crate::logging::enabled($crate::logging::LogLevel::Debug) {
            $crate::logging::log($crate::logging::LogLevel::Debug, format_args!($($arg)*));
        }
    };
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn timestamp_format() {
        let t = UNIX_EPOCH + Duration::from_millis(0);
        assert_eq!(format_timestamp(t), "01 Jan 1970 00:00:00.000");
        // 2026-11-24 02:30:38.123 UTC
        let t = UNIX_EPOCH + Duration::from_millis(1_795_487_438_123);
        assert_eq!(format_timestamp(t), "24 Nov 2026 02:30:38.123");
        // leap day 2024-02-29 23:59:59.999
        let t = UNIX_EPOCH + Duration::from_millis(1_709_251_199_999);
        assert_eq!(format_timestamp(t), "29 Feb 2024 23:59:59.999");
        // 2000-03-01 00:00:00
        let t = UNIX_EPOCH + Duration::from_secs(951_868_800);
        assert_eq!(format_timestamp(t), "01 Mar 2000 00:00:00.000");
    }

    #[test]
    fn line_format() {
        let t = UNIX_EPOCH + Duration::from_millis(1_795_487_438_123);
        let l = format_line(
            42,
            'M',
            t,
            LogLevel::Notice,
            format_args!("Ready {}", "now"),
        );
        assert_eq!(l, "42:M 24 Nov 2026 02:30:38.123 * Ready now\n");
        let l = format_line(7, 'S', t, LogLevel::Warning, format_args!("x"));
        assert_eq!(l, "7:S 24 Nov 2026 02:30:38.123 # x\n");
        assert_eq!(LogLevel::Debug.marker(), '.');
        assert_eq!(LogLevel::Verbose.marker(), '-');
    }

    #[test]
    fn level_names() {
        for l in [
            LogLevel::Debug,
            LogLevel::Verbose,
            LogLevel::Notice,
            LogLevel::Warning,
            LogLevel::Nothing,
        ] {
            assert_eq!(LogLevel::from_name(l.name()), Some(l));
        }
        assert_eq!(LogLevel::from_name("WARNING"), Some(LogLevel::Warning));
        assert_eq!(LogLevel::from_name("loud"), None);
    }

    /// The logger is global, so everything touching it lives in this one test.
    #[test]
    fn global_logger_filters_and_appends_to_file() {
        let path =
            std::env::temp_dir().join(format!("ferrokv-log-test-{}.log", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let p = path.to_string_lossy().to_string();
        assert!(check_logfile(&p).is_ok());
        init(LogLevel::Notice, &p);
        crate::log_debug!("hidden {}", 1);
        crate::log_verbose!("hidden {}", 2);
        crate::log_notice!("shown {}", 3);
        crate::log_warning!("shown {}", 4);
        set_level(LogLevel::Debug);
        assert_eq!(level(), LogLevel::Debug);
        crate::log_debug!("shown {}", 5);
        set_level(LogLevel::Nothing);
        crate::log_warning!("hidden {}", 6);
        set_role('S');
        set_level(LogLevel::Warning);
        crate::log_warning!("replica {}", 7);
        log_raw(LogLevel::Warning, "raw line");
        log_raw(LogLevel::Notice, "hidden raw");
        set_role('M');
        init(LogLevel::Notice, "");
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 5, "{text}");
        assert_eq!(lines[4], "raw line");
        let pid = std::process::id().to_string();
        assert!(lines[0].starts_with(&format!("{pid}:M ")));
        assert!(lines[0].ends_with(" * shown 3"));
        assert!(lines[1].ends_with(" # shown 4"));
        assert!(lines[2].ends_with(" . shown 5"));
        assert!(lines[3].starts_with(&format!("{pid}:S ")));
        assert!(lines[3].ends_with(" # replica 7"));
        let _ = std::fs::remove_file(&path);
        assert!(check_logfile("/nonexistent-dir/x.log").is_err());
    }
}
