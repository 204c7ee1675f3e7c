//! Every error text ferrokv replies with, in one place (Redis's exact wording), and the error type
//! command handlers return.

use std::borrow::Cow;

/// An error reply: the full text after '-', starting with its code (`ERR`, `WRONGTYPE`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CmdError(pub Cow<'static, str>);

impl CmdError {
    /// An error with a fixed text.
    pub const fn new(s: &'static str) -> CmdError {
        CmdError(Cow::Borrowed(s))
    }

    /// The error code: the first word (`ERR`, `WRONGTYPE`, ...), as counted by INFO errorstats.
    pub fn code(&self) -> &str {
        self.0.split(' ').next().unwrap_or("ERR")
    }
}

impl From<String> for CmdError {
    fn from(s: String) -> Self {
        CmdError(Cow::Owned(s))
    }
}

impl From<&'static str> for CmdError {
    fn from(s: &'static str) -> Self {
        CmdError(Cow::Borrowed(s))
    }
}

/// Result of a command handler: `Err` is written as the reply and counted as a failed call.
pub type CmdResult = Result<(), CmdError>;

/// Builds an owned error text with `format!` syntax.
#[macro_export]
macro_rules! cmd_err {
    ($($arg:tt)*) => { $crate::errors::CmdError::from(format!($($arg)*)) };
}

pub const WRONGTYPE: CmdError =
    CmdError::new("WRONGTYPE Operation against a key holding the wrong kind of value");
pub const TIMEOUT_OUT_OF_RANGE: CmdError = CmdError::new("ERR timeout is out of range");
pub const SYNTAX: CmdError = CmdError::new("ERR syntax error");
pub const NOT_INTEGER: CmdError = CmdError::new("ERR value is not an integer or out of range");
pub const NOT_FLOAT: CmdError = CmdError::new("ERR value is not a valid float");
pub const OVERFLOW: CmdError = CmdError::new("ERR increment or decrement would overflow");
pub const INCR_NAN_INF: CmdError = CmdError::new("ERR increment would produce NaN or Infinity");
pub const NO_SUCH_KEY: CmdError = CmdError::new("ERR no such key");
pub const DB_INDEX: CmdError = CmdError::new("ERR DB index is out of range");
pub const INVALID_DB_INDEX: CmdError = CmdError::new("ERR invalid DB index");
pub const STRING_TOO_LONG: CmdError =
    CmdError::new("ERR string exceeds maximum allowed size (proto-max-bulk-len)");
pub const OFFSET_OUT_OF_RANGE: CmdError = CmdError::new("ERR offset is out of range");
pub const NOAUTH: CmdError = CmdError::new("NOAUTH Authentication required.");
pub const WRONGPASS: CmdError =
    CmdError::new("WRONGPASS invalid username-password pair or user is disabled.");
pub const AUTH_NO_PASSWORD: CmdError = CmdError::new(
    "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
);
pub const NOPROTO: CmdError = CmdError::new("NOPROTO unsupported protocol version");
pub const TIMEOUT_NEGATIVE: CmdError = CmdError::new("ERR timeout is negative");
pub const TIMEOUT_NOT_FLOAT: CmdError = CmdError::new("ERR timeout is not a float or out of range");
pub const MAX_CLIENTS: &str = "ERR max number of clients reached";
/// Sent (then the connection is closed) to a non-loopback client in protected mode.
pub const DENIED_PROTECTED_MODE: &str = "DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Setup a an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.";
pub const DEBUG_DISABLED: CmdError = CmdError::new(
    "ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.",
);
pub const NESTED_MULTI: CmdError = CmdError::new("ERR MULTI calls can not be nested");
pub const EXEC_WITHOUT_MULTI: CmdError = CmdError::new("ERR EXEC without MULTI");
pub const DISCARD_WITHOUT_MULTI: CmdError = CmdError::new("ERR DISCARD without MULTI");
pub const WATCH_IN_MULTI: CmdError = CmdError::new("ERR WATCH inside MULTI is not allowed");
pub const EXECABORT: CmdError =
    CmdError::new("EXECABORT Transaction discarded because of previous errors.");
pub const NOT_IN_MULTI: CmdError = CmdError::new("ERR Command not allowed inside a transaction");
pub const CURSOR: CmdError = CmdError::new("ERR invalid cursor");
pub const NOT_POSITIVE: CmdError = CmdError::new("ERR value is out of range, must be positive");

/// `ERR wrong number of arguments for '<name>' command`
pub fn wrong_arity(name: &str) -> CmdError {
    cmd_err!("ERR wrong number of arguments for '{}' command", name)
}

/// `ERR invalid expire time in '<cmd>' command`
pub fn invalid_expire(cmd: &str) -> CmdError {
    cmd_err!("ERR invalid expire time in '{}' command", cmd)
}

/// `ERR unknown subcommand '<sub>'. Try <CMD> HELP.`
pub fn unknown_subcommand(sub: &[u8], cmd: &str) -> CmdError {
    let sub = String::from_utf8_lossy(sub);
    let sub: String = sub.chars().take(128).collect();
    cmd_err!(
        "ERR unknown subcommand '{}'. Try {} HELP.",
        sub,
        cmd.to_ascii_uppercase()
    )
}

/// Redis's reply to an unknown command: the name and the first arguments, each cut to fit
/// within 128 characters in all.
pub fn unknown_command(argv: &[bytes::Bytes]) -> CmdError {
    let name = argv
        .first()
        .map(|a| lossy_prefix(a, 128))
        .unwrap_or_default();
    let mut args = String::new();
    for a in argv.iter().skip(1) {
        if args.len() >= 128 {
            break;
        }
        let room = 128 - args.len();
        args.push('\'');
        args.push_str(&lossy_prefix(a, room));
        args.push_str("' ");
    }
    cmd_err!(
        "ERR unknown command '{}', with args beginning with: {}",
        name,
        args
    )
}

fn lossy_prefix(b: &[u8], max: usize) -> String {
    String::from_utf8_lossy(b.get(..b.len().min(max)).unwrap_or(b)).into_owned()
}

// Server administration (SHUTDOWN, SWAPDB, SLOWLOG, LATENCY, DEBUG).
pub const NO_SHUTDOWN_IN_PROGRESS: CmdError = CmdError::new("ERR No shutdown in progress.");
pub const SHUTDOWN_FAILED: CmdError = CmdError::new("ERR Errors trying to SHUTDOWN. Check logs.");
pub const INVALID_FIRST_DB: CmdError = CmdError::new("ERR invalid first DB index");
pub const INVALID_SECOND_DB: CmdError = CmdError::new("ERR invalid second DB index");
pub const SLOWLOG_COUNT: CmdError =
    CmdError::new("ERR count should be greater than or equal to -1");
pub const RESP2_UNSUPPORTED: CmdError = CmdError::new("ERR RESP2 is not supported by this command");

/// `ERR unknown subcommand or wrong number of arguments for '<sub>'. Try <CMD> HELP.`
pub fn bad_subcommand_args(sub: &[u8], cmd: &str) -> CmdError {
    cmd_err!(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try {} HELP.",
        String::from_utf8_lossy(sub),
        cmd
    )
}

/// Commands other than the `loading`-flagged ones while the dataset is being loaded.
pub const LOADING: CmdError = CmdError::new("LOADING Redis is loading the dataset in memory");
/// SAVE / BGSAVE while a background save runs.
pub const BGSAVE_IN_PROGRESS: CmdError = CmdError::new("ERR Background save already in progress");
/// RESTORE onto an existing key without REPLACE.
pub const BUSYKEY: CmdError = CmdError::new("BUSYKEY Target key name already exists.");
/// RESTORE: footer version newer than ours or CRC mismatch.
pub const DUMP_PAYLOAD: CmdError = CmdError::new("ERR DUMP payload version or checksum are wrong");
/// RESTORE: the payload's value does not decode.
pub const BAD_DATA_FORMAT: CmdError = CmdError::new("ERR Bad data format");
/// RESTORE with a negative TTL.
pub const INVALID_TTL: CmdError = CmdError::new("ERR Invalid TTL value, must be >= 0");
/// RESTORE IDLETIME below 0.
pub const INVALID_IDLETIME: CmdError = CmdError::new("ERR Invalid IDLETIME value, must be >= 0");
/// RESTORE FREQ outside 0..=255.
pub const INVALID_FREQ: CmdError = CmdError::new("ERR Invalid FREQ value, must be >= 0 and <= 255");
/// Writes refused after a failed background save (`stop-writes-on-bgsave-error`).
pub const MISCONF: CmdError = CmdError::new("MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error.");
