//! Fuzz target for the AOF command parser (`crates/server/src/persist/aof/parse.rs`, included
//! by path: it is a pure function over bytes). Arbitrary input must never panic; every item
//! returned must lie within the input; an error is reported at an offset inside the input; and
//! a truncation is consistent: the input cut at the reported offset parses cleanly.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../crates/server/src/persist/aof/parse.rs"]
#[allow(dead_code)]
mod parse;

use parse::{next_item, Item, ParseError};

fuzz_target!(|data: &[u8]| {
    let mut pos = 0usize;
    let end = loop {
        match next_item(data, pos) {
            Ok(Some((item, next))) => {
                assert!(next > pos && next <= data.len());
                if let Item::Command(args) = item {
                    assert!(!args.is_empty());
                    let total: usize = args.iter().map(|a| a.len()).sum();
                    assert!(total <= next - pos);
                }
                pos = next;
            }
            Ok(None) => break None,
            Err(e) => break Some(e),
        }
    };
    match end {
        None => assert_eq!(pos, data.len()),
        Some(ParseError::Truncated { at }) => {
            assert_eq!(at, pos);
            assert!(at < data.len());
        }
        Some(ParseError::Bad { at, .. }) => assert!(at < data.len().max(1)),
    }
});
