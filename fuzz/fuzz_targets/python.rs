//! The Python analysis on arbitrary input: as a source file, as a notebook, and the rules over
//! whatever was found. Must never panic, overflow or hang.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mlvet_python::{CodeKind, Context, analyze_bytes, check};

fuzz_target!(|data: &[u8]| {
    let mut context = Context::default();
    context.observe("torch", "2.5.1");
    for kind in [CodeKind::Python, CodeKind::Notebook] {
        let file = analyze_bytes(kind, data);
        let _ = check(&file, "fuzz", &context);
    }
    if let Ok(notebook) = mlvet_python::read_notebook(data) {
        let _ = mlvet_python::shell_lines(&notebook);
    }
});
