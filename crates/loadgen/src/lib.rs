//! `ferrokv-loadgen`: a load generator for ferrokv and redis-server over raw TCP.
//!
//! It opens `--connections` sockets, drives them from a multi-thread tokio runtime (one task per
//! connection, each a closed loop of `--pipeline` requests per write), picks keys uniformly or
//! from a Zipf distribution, and records every request's send-to-reply latency in an
//! HdrHistogram. bench/compare.py runs it against both servers with the same flags.

pub mod config;
pub mod keys;
pub mod report;
pub mod resp;
pub mod run;
