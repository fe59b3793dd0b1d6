//! Navigation helpers over toml's spanned document tree (`DeTable`), which gives every key and
//! value its byte span and so every package its line.

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::sink::Sink;
use crate::text::LineIndex;

pub(crate) type Item<'i> = Spanned<DeValue<'i>>;

/// Parses a TOML document with recovery: syntax errors become findings and whatever could be read
/// is still returned.
pub(crate) fn parse<'i>(
    content: &'i str,
    lines: &LineIndex,
    sink: &mut Sink,
) -> Spanned<DeTable<'i>> {
    let (document, errors) = DeTable::parse_recoverable(content);
    for error in errors {
        let line = error.span().map(|span| lines.line(span.start));
        sink.parse_error(line, format!("invalid TOML: {}", error.message().trim()));
    }
    document
}

pub(crate) fn get<'a, 'i>(table: &'a DeTable<'i>, key: &str) -> Option<&'a Item<'i>> {
    table.get(key)
}

pub(crate) fn table<'a, 'i>(item: &'a Item<'i>) -> Option<&'a DeTable<'i>> {
    item.get_ref().as_table()
}

pub(crate) fn sub_table<'a, 'i>(table: &'a DeTable<'i>, key: &str) -> Option<&'a DeTable<'i>> {
    get(table, key).and_then(self::table)
}

pub(crate) fn array<'a, 'i>(item: &'a Item<'i>) -> &'a [Item<'i>] {
    item.get_ref().as_array().map_or(&[], |a| &a[..])
}

pub(crate) fn str_at<'a>(table: &'a DeTable<'_>, key: &str) -> Option<&'a str> {
    get(table, key).and_then(|item| item.get_ref().as_str())
}

pub(crate) fn line_of(item: &Item<'_>, lines: &LineIndex) -> u32 {
    lines.line(item.span().start)
}

/// The line of a table's `name` key value, or of the table itself.
pub(crate) fn entry_line(entry: &Item<'_>, lines: &LineIndex) -> u32 {
    table(entry)
        .and_then(|t| get(t, "name"))
        .map_or_else(|| line_of(entry, lines), |name| line_of(name, lines))
}

/// The entries of an array of tables `[[key]]`.
pub(crate) fn array_of_tables<'a, 'i>(table: &'a DeTable<'i>, key: &str) -> &'a [Item<'i>] {
    get(table, key).map_or(&[], array)
}
