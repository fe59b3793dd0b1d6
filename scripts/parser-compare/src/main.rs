//! ruff_python_parser 0.0.10 vs rustpython-parser 0.4.0 on the same files: parse time, files
//! each rejects, and recent-syntax samples.
use std::time::Instant;

fn main() {
    let list = std::env::args().nth(1).expect("file list");
    let files: Vec<String> = std::fs::read_to_string(list).unwrap().lines().map(String::from).collect();
    let sources: Vec<String> = files.iter().map(|f| String::from_utf8_lossy(&std::fs::read(f).unwrap()).into_owned()).collect();
    let bytes: usize = sources.iter().map(String::len).sum();
    let t = Instant::now();
    let mut ruff_errors = 0;
    for s in &sources {
        let parsed = ruff_python_parser::parse_unchecked_source(s, ruff_python_ast::PySourceType::Python);
        if !parsed.errors().is_empty() { ruff_errors += 1; }
    }
    let ruff = t.elapsed();
    let t = Instant::now();
    let mut rp_errors = 0;
    for (s, f) in sources.iter().zip(&files) {
        use rustpython_parser::Parse;
        if rustpython_parser::ast::Suite::parse(s, f).is_err() { rp_errors += 1; }
    }
    let rp = t.elapsed();
    println!("files {} bytes {bytes}", files.len());
    println!("ruff_python_parser 0.0.10: {:.2?}, files with errors {ruff_errors}", ruff);
    println!("rustpython-parser 0.4.0:  {:.2?}, files rejected {rp_errors}", rp);
    let samples = [
        ("PEP 695 type alias", "type Pair[T] = tuple[T, T]\n"),
        ("PEP 695 generic def", "def f[T](x: T) -> T:\n    return x\n"),
        ("PEP 696 default type param", "class A[T = int]: pass\n"),
        ("PEP 701 nested quotes", "s = f\"{d[\"k\"]}\"\n"),
        ("PEP 654 except*", "try:\n    pass\nexcept* ValueError:\n    pass\n"),
        ("PEP 758 except without parens", "try:\n    pass\nexcept A, B:\n    pass\n"),
    ];
    for (name, src) in samples {
        let ruff_ok = ruff_python_parser::parse_unchecked_source(src, ruff_python_ast::PySourceType::Python).errors().is_empty();
        use rustpython_parser::Parse;
        let rp_ok = rustpython_parser::ast::Suite::parse(src, "<s>").is_ok();
        println!("{name}: ruff {} rustpython {}", ruff_ok, rp_ok);
    }
    let broken = "import torch\ndef f(:\n    pass\ntorch.load('x')\n";
    let parsed = ruff_python_parser::parse_unchecked_source(broken, ruff_python_ast::PySourceType::Python);
    println!("error recovery: ruff {} statements, {} errors; rustpython: {}", parsed.syntax().body.len(), parsed.errors().len(),
        { use rustpython_parser::Parse; if rustpython_parser::ast::Suite::parse(broken, "<s>").is_err() { "error, no AST" } else { "ok" } });
}
