//! `container-staged-pickle` lives in mlvet-pickle, which reports pickles staged inside pickle values
//! with the same rule; tensor storage records use it from here.

pub use mlvet_pickle::rules::container_staged_pickle::{RULE, finding};
