//! Jupyter notebooks (nbformat 4, and the `worksheets` layout of nbformat 3): the code cells, their
//! shell lines (`!cmd`, `%pip …`, `%%bash` cells) with positions, and the Python left once those
//! lines are set aside.

use serde_json::Value;

/// Notebooks larger than this are not read (outputs included; real notebooks with images stay
/// well below it).
pub const MAX_NOTEBOOK_BYTES: usize = 64 * 1024 * 1024;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NotebookError {
    #[error("notebook of {0} bytes is larger than the {MAX_NOTEBOOK_BYTES}-byte limit")]
    TooLarge(usize),
    #[error("not a JSON notebook: {0}")]
    Json(String),
    #[error("not a Jupyter notebook: {0}")]
    Shape(&'static str),
}

/// A notebook's cells, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Notebook {
    /// `nbformat` major version as the file declares it.
    pub nbformat: u64,
    /// Kernel language from `metadata.kernelspec.language` / `metadata.language_info.name`.
    pub language: Option<String>,
    pub cells: Vec<Cell>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    /// 0-based index among all cells (markdown included), as the notebook shows them.
    pub index: u32,
    pub kind: CellKind,
    pub source: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CellKind {
    Code,
    Markdown,
    Raw,
}

/// How a shell line is written in the notebook.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ShellKind {
    /// `!cmd` (also `x = !cmd`, `!!cmd`).
    Bang,
    /// A line magic that runs a command: `%pip`, `%conda`, `%sx`, `%system`, `%sh`; the name
    /// without `%`.
    LineMagic(String),
    /// A line of a shell cell (`%%bash`, `%%sh`, `%%script bash`, `%%system`); the magic name.
    CellMagic(String),
}

/// One line a notebook hands to a shell (or to a package installer magic).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ShellLine {
    /// 0-based cell index.
    pub cell: u32,
    /// 1-based line inside the cell.
    pub line: u32,
    /// 1-based column where the command starts.
    pub column: u32,
    /// The command as a shell would see it: `pip install x` for both `!pip install x` and
    /// `%pip install x`.
    pub command: String,
    pub kind: ShellKind,
}

/// Reads a notebook's JSON. Nothing in it is executed or rendered.
pub fn read_notebook(bytes: &[u8]) -> Result<Notebook, NotebookError> {
    if bytes.len() > MAX_NOTEBOOK_BYTES {
        return Err(NotebookError::TooLarge(bytes.len()));
    }
    let value: Value =
        serde_json::from_slice(bytes).map_err(|err| NotebookError::Json(err.to_string()))?;
    let Value::Object(root) = &value else {
        return Err(NotebookError::Shape("the top level is not an object"));
    };
    let nbformat = root.get("nbformat").and_then(Value::as_u64).unwrap_or(0);
    let language = root.get("metadata").and_then(|metadata| {
        metadata
            .pointer("/kernelspec/language")
            .or_else(|| metadata.pointer("/language_info/name"))
            .and_then(Value::as_str)
            .map(str::to_string)
    });
    let (cells, source_key): (Vec<&Value>, &str) = if let Some(cells) = root.get("cells") {
        (collect_array(cells)?.iter().collect(), "source")
    } else if let Some(worksheets) = root.get("worksheets") {
        // nbformat 3: cells live in worksheets and code cells keep their text in `input`.
        let mut all = Vec::new();
        for sheet in collect_array(worksheets)? {
            if let Some(cells) = sheet.get("cells") {
                all.extend(collect_array(cells)?.iter());
            }
        }
        (all, "input")
    } else {
        return Err(NotebookError::Shape(
            "no `cells` (nor nbformat 3 `worksheets`)",
        ));
    };
    let mut notebook = Notebook {
        nbformat,
        language,
        cells: Vec::with_capacity(cells.len()),
    };
    for (index, cell) in cells.iter().enumerate() {
        let kind = match cell.get("cell_type").and_then(Value::as_str) {
            Some("code") => CellKind::Code,
            Some("markdown") | Some("heading") => CellKind::Markdown,
            _ => CellKind::Raw,
        };
        let source = cell
            .get(source_key)
            .or_else(|| cell.get("source"))
            .map(multiline_text)
            .unwrap_or_default();
        notebook.cells.push(Cell {
            index: u32::try_from(index).unwrap_or(u32::MAX),
            kind,
            source,
        });
    }
    Ok(notebook)
}

fn collect_array(value: &Value) -> Result<&Vec<Value>, NotebookError> {
    value
        .as_array()
        .ok_or(NotebookError::Shape("`cells` is not an array"))
}

/// nbformat's "multiline string": a string, or a list of strings to concatenate.
fn multiline_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Array(parts) => parts.iter().filter_map(Value::as_str).collect(),
        _ => String::new(),
    }
}

/// Magics whose body is Python (timing, capture): the body is analysed.
const PYTHON_CELL_MAGICS: &[&str] = &["time", "timeit", "capture", "prun", "debug"];
/// Cell magics that hand their body to a shell.
const SHELL_CELL_MAGICS: &[&str] = &["bash", "sh", "system", "script"];
/// Line magics that run a command line.
const SHELL_LINE_MAGICS: &[&str] = &["pip", "conda", "mamba", "uv", "sx", "system", "sh"];

/// One code cell split into the Python a parser should see (shell and magic lines replaced by a
/// `pass` of the same indentation, so that lines and columns stay where they were) and its shell
/// lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitCell {
    pub python: String,
    pub shell: Vec<ShellLine>,
    /// False when the cell is not Python at all (`%%html`, `%%writefile`, `%%javascript`...).
    pub is_python: bool,
}

/// Splits a code cell into Python and shell lines.
pub fn split_cell(cell: u32, source: &str) -> SplitCell {
    let mut python = String::with_capacity(source.len());
    let mut shell = Vec::new();
    let lines: Vec<&str> = source.split_inclusive('\n').collect();
    let first_code = lines.iter().position(|l| !l.trim().is_empty());
    let cell_magic = first_code.and_then(|i| {
        let trimmed = lines.get(i)?.trim_start();
        let rest = trimmed.strip_prefix("%%")?;
        let mut words = rest.split_whitespace();
        let name = words.next().unwrap_or("").to_string();
        let arg = words.next().map(str::to_string);
        Some((i, name, arg))
    });
    if let Some((magic_line, name, arg)) = &cell_magic {
        let shell_cell = SHELL_CELL_MAGICS.contains(&name.as_str())
            && (name != "script" || arg.as_deref().is_some_and(|a| a.ends_with("sh")));
        if shell_cell {
            for (i, line) in lines.iter().enumerate().skip(magic_line + 1) {
                let text = line.trim_end_matches(['\n', '\r']);
                if text.trim().is_empty() {
                    continue;
                }
                let indent = text.len() - text.trim_start().len();
                shell.push(ShellLine {
                    cell,
                    line: line_number(i),
                    column: column_of(text, indent),
                    command: text.trim().to_string(),
                    kind: ShellKind::CellMagic(name.clone()),
                });
            }
            return SplitCell {
                python: String::new(),
                shell,
                is_python: false,
            };
        }
        if !PYTHON_CELL_MAGICS.contains(&name.as_str()) {
            return SplitCell {
                python: String::new(),
                shell,
                is_python: false,
            };
        }
    }
    let mut continuing = false;
    for (i, line) in lines.iter().enumerate() {
        let text = line.trim_end_matches(['\n', '\r']);
        let newline = &line[text.len()..];
        let trimmed = text.trim_start();
        let indent = &text[..text.len() - trimmed.len()];
        let is_cell_magic_line = cell_magic.as_ref().is_some_and(|(at, _, _)| *at == i);
        let command = if continuing {
            Some((trimmed.to_string(), ShellKind::Bang, indent.len()))
        } else if is_cell_magic_line {
            None
        } else {
            shell_command(trimmed)
                .map(|(command, kind, offset)| (command, kind, indent.len() + offset))
        };
        let replaced = is_cell_magic_line || continuing || is_escape(trimmed);
        continuing = false;
        if let Some((command, kind, offset)) = command {
            continuing = kind == ShellKind::Bang && command.ends_with('\\');
            shell.push(ShellLine {
                cell,
                line: line_number(i),
                column: column_of(text, offset),
                command,
                kind,
            });
        }
        if replaced {
            python.push_str(indent);
            python.push_str("pass");
        } else {
            python.push_str(text);
        }
        python.push_str(newline);
    }
    SplitCell {
        python,
        shell,
        is_python: true,
    }
}

/// An IPython escape line: `!cmd`, `%magic`, `x = !cmd`, `x = %magic`, `obj?`, `?obj`.
fn is_escape(trimmed: &str) -> bool {
    if trimmed.starts_with(['!', '%', '?']) {
        return true;
    }
    if let Some((_, value)) = assignment_value(trimmed) {
        return value.starts_with(['!', '%']);
    }
    !trimmed.starts_with('#') && trimmed.ends_with('?') && !trimmed.contains(['\'', '"', '#'])
}

/// `name = value` where name is a plain identifier (so `x == !y` or keyword arguments don't
/// match).
fn assignment_value(trimmed: &str) -> Option<(usize, &str)> {
    let eq = trimmed.find('=')?;
    let target = trimmed[..eq].trim();
    if target.is_empty()
        || !target
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == ',' || c == ' ')
    {
        return None;
    }
    let after = &trimmed[eq + 1..];
    if after.starts_with('=') {
        return None;
    }
    let value = after.trim_start();
    Some((eq + 1 + (after.len() - value.len()), value))
}

/// The shell command of an escape line and its byte offset inside the trimmed line.
fn shell_command(trimmed: &str) -> Option<(String, ShellKind, usize)> {
    let (offset, escape) = match assignment_value(trimmed) {
        Some((offset, value)) if value.starts_with(['!', '%']) => (offset, value),
        _ => (0, trimmed),
    };
    if let Some(rest) = escape.strip_prefix('!') {
        let rest = rest.strip_prefix('!').unwrap_or(rest);
        let skipped = escape.len() - rest.len();
        let command = rest.trim();
        if command.is_empty() {
            return None;
        }
        let lead = rest.len() - rest.trim_start().len();
        return Some((
            command.to_string(),
            ShellKind::Bang,
            offset + skipped + lead,
        ));
    }
    let rest = escape.strip_prefix('%')?;
    if rest.starts_with('%') {
        return None;
    }
    let name: String = rest
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    if !SHELL_LINE_MAGICS.contains(&name.as_str()) {
        return None;
    }
    let command = match name.as_str() {
        // `%sx cmd`, `%system cmd` and `%sh cmd` run `cmd`; `%pip`/`%conda`... run the installer.
        "sx" | "system" | "sh" => rest[name.len()..].trim().to_string(),
        _ => rest.trim().to_string(),
    };
    if command.is_empty() {
        return None;
    }
    Some((command, ShellKind::LineMagic(name), offset + 1))
}

fn line_number(index: usize) -> u32 {
    u32::try_from(index + 1).unwrap_or(u32::MAX)
}

fn column_of(text: &str, byte_offset: usize) -> u32 {
    let prefix = text.get(..byte_offset).unwrap_or(text);
    u32::try_from(prefix.chars().count() + 1).unwrap_or(u32::MAX)
}

/// Every shell line of a notebook's code cells, in order: what the pipelines analysis checks with
/// its shell rules (`!pip install --index-url …`, `%pip install … --trust-remote-code`...).
pub fn shell_lines(notebook: &Notebook) -> Vec<ShellLine> {
    notebook
        .cells
        .iter()
        .filter(|cell| cell.kind == CellKind::Code)
        .flat_map(|cell| split_cell(cell.index, &cell.source).shell)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_lines_are_set_aside_and_lines_kept() {
        let split = split_cell(
            2,
            "!pip install -q transformers\n%pip install datasets==3.0.1\nfiles = !ls data\nimport torch\nif True:\n    !nvidia-smi\n%matplotlib inline\ntorch.load?\n",
        );
        assert!(split.is_python);
        let commands: Vec<(&str, u32, u32)> = split
            .shell
            .iter()
            .map(|s| (s.command.as_str(), s.line, s.column))
            .collect();
        assert_eq!(
            commands,
            [
                ("pip install -q transformers", 1, 2),
                ("pip install datasets==3.0.1", 2, 2),
                ("ls data", 3, 10),
                ("nvidia-smi", 6, 6),
            ]
        );
        assert_eq!(split.shell[1].kind, ShellKind::LineMagic("pip".into()));
        assert_eq!(
            split.python,
            "pass\npass\npass\nimport torch\nif True:\n    pass\npass\npass\n"
        );
    }

    #[test]
    fn shell_cells_and_other_cell_magics() {
        let bash = split_cell(0, "%%bash\npip install x\n\n  echo hi\n");
        assert!(!bash.is_python);
        assert_eq!(bash.shell.len(), 2);
        assert_eq!(bash.shell[1].column, 3);
        assert_eq!(bash.shell[0].kind, ShellKind::CellMagic("bash".into()));
        let timed = split_cell(0, "%%time\nimport pickle\npickle.loads(b)\n");
        assert!(timed.is_python);
        assert_eq!(timed.python, "pass\nimport pickle\npickle.loads(b)\n");
        assert!(!split_cell(0, "%%html\n<b>x</b>\n").is_python);
    }

    #[test]
    fn notebooks_of_both_layouts_read() {
        let v4 = br##"{"nbformat": 4, "nbformat_minor": 5, "metadata": {"kernelspec": {"language": "python"}},
            "cells": [{"cell_type": "markdown", "source": "# t"},
                      {"cell_type": "code", "source": ["import torch\n", "torch.load('x')"], "outputs": []}]}"##;
        let nb = read_notebook(v4).expect("v4");
        assert_eq!(nb.cells.len(), 2);
        assert_eq!(nb.cells[1].source, "import torch\ntorch.load('x')");
        assert_eq!(nb.language.as_deref(), Some("python"));
        let v3 = br#"{"nbformat": 3, "worksheets": [{"cells": [{"cell_type": "code", "input": ["!ls\n"]}]}]}"#;
        let nb = read_notebook(v3).expect("v3");
        assert_eq!(shell_lines(&nb)[0].command, "ls");
        assert!(read_notebook(b"[1]").is_err());
        assert!(read_notebook(b"{").is_err());
    }
}
