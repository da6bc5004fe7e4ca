//! Test helpers: helix_stream::testing.

#[allow(unused_imports)]
pub use helix_stream::testing::*;
