//! mlvet's project configuration, ignores and VEX.
//!
//! - [`discover`] finds `mlvet.toml`, `.mlvet.toml` or `pyproject.toml` `[tool.mlvet]` from a
//!   directory upwards (stopping at the repository root), like ruff and uv.
//! - [`Config::load`] / [`parse`] read and validate it: unknown keys, missing reasons and bad
//!   values are errors naming the file, line and key (`docs/configuration.md`).
//! - [`vex::load`] / [`vex::parse`] read and validate OpenVEX 0.2.0 documents.
//! - [`suppress::apply`] marks the findings of a finished scan that an ignore or a `not_affected`
//!   VEX statement covers, re-derives verdicts, and warns about expired and unused ignores.
//! - [`PathGlobs`] is the gitignore-style matcher `exclude` and ignore `path`s use.
//!
//! Pure functions: nothing here prints; the only I/O is reading the files named.

mod date;
mod discover;
mod error;
mod globs;
pub mod purl;
mod settings;
pub mod suppress;
pub mod vex;

pub use date::{Date, parse_rfc3339};
pub use discover::{CONFIG_FILES, discover};
pub use error::ConfigError;
pub use globs::PathGlobs;
pub use settings::{
    Config, ConfigKind, FailOn, Ignore, IgnoreTarget, MAX_CONFIG_BYTES, MAX_ENTRIES, SourceRules,
    Sources, parse,
};
