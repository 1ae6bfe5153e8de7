//! Sample data: the small demo district a fresh checkout starts with (`demo`), and the
//! deterministic district-sized data set of `emulin seed --scale` (`scale`).

mod bulk;
pub mod demo;
mod names;
pub mod scale;

pub use demo::{DEMO_USERS, seed_demo};
pub use scale::{Scale, SeedReport, seed_scale};
