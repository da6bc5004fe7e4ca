//! Test helpers: helix_stream::testing.

pub use helix_stream::testing::*;
