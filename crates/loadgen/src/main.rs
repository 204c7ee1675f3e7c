//! The `ferrokv-loadgen` binary: parses the options, runs, prints the report.
//! Exit status: 0 on success, 1 if any request failed or a connection broke, 2 on bad usage or
//! when the server cannot be reached.

use ferrokv_loadgen::config::{parse_args, USAGE};
use ferrokv_loadgen::report::{to_json, to_text};
use ferrokv_loadgen::run::run;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let cfg = match parse_args(&args) {
        Ok(Some(c)) => c,
        Ok(None) => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("ferrokv-loadgen: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let report = match run(&cfg) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("ferrokv-loadgen: {e}");
            return ExitCode::from(2);
        }
    };
    if cfg.json {
        println!("{}", to_json(&cfg, &report));
    } else {
        print!("{}", to_text(&cfg, &report));
    }
    if report.errors > 0 || report.connection_errors > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
