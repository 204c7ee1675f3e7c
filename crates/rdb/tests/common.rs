//! Shared helpers of the integration tests (included with `mod common;`).
#![allow(dead_code, clippy::unwrap_used)]

use std::path::PathBuf;

use ferrokv_rdb::{KeyRecord, RdbValue};

/// The fixtures directory: `$FERROKV_FIXTURES`, else the first
/// `shared/fixtures` found beside the crate or one of its ancestors (the
/// repository lives at `<root>/main`, fixtures at `<root>/shared`).
pub fn fixtures_dir() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("FERROKV_FIXTURES") {
        let p = PathBuf::from(p);
        return p.is_dir().then_some(p);
    }
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest
        .ancestors()
        .map(|a| a.join("shared").join("fixtures"))
        .find(|p| p.is_dir())
}

/// Sorted copy of a set's members / a hash's (field, value) pairs etc., for
/// order-insensitive comparison.
pub fn normalise(v: &RdbValue) -> RdbValue {
    v.sorted_clone()
}

pub fn find<'a>(keys: &'a [KeyRecord], name: &str) -> &'a KeyRecord {
    keys.iter()
        .find(|k| k.key == name.as_bytes())
        .unwrap_or_else(|| panic!("key {name} missing"))
}

pub fn strs(items: &[&str]) -> Vec<Vec<u8>> {
    items.iter().map(|s| s.as_bytes().to_vec()).collect()
}
