//! Maven version ordering: a port of Maven's `ComparableVersion` (maven-artifact 3.8 semantics).
//!
//! Versions are split on `.`, `-` and digit/letter transitions into integer, qualifier and
//! sub-list items; trailing "null" items (`0`, empty qualifiers such as `ga`/`final`/`release`)
//! are dropped; qualifiers order as `alpha < beta < milestone < rc = cr < snapshot < "" < sp`, then
//! unknown qualifiers alphabetically. The 3.9 "combination item" refinement (`1-x1`) is not
//! implemented; those rare forms order as in 3.8. No JVM is available to differential-test this,
//! so it is tested against the ordering lists of Maven's own `ComparableVersionTest`.

use std::cmp::Ordering;

const MAX_LEN: usize = 256;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Item {
    /// Decimal digits without leading zeros (`""` is zero), compared as a number of any size.
    Int(String),
    /// A qualifier after alias resolution (`ga` → ``, `cr` → `rc`, `a1` → `alpha`...).
    Str(String),
    List(Vec<Item>),
}

/// A Maven version, ordered as Maven orders it.
#[derive(Debug, Clone)]
pub struct MavenVersion {
    items: Vec<Item>,
}

impl MavenVersion {
    pub fn parse(text: &str) -> Option<MavenVersion> {
        let text = text.trim();
        if text.is_empty()
            || text.len() > MAX_LEN
            || !text.is_ascii()
            || text.chars().any(|c| c.is_whitespace())
        {
            return None;
        }
        Some(MavenVersion {
            items: parse_items(&text.to_ascii_lowercase()),
        })
    }
}

impl PartialEq for MavenVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for MavenVersion {}

impl Ord for MavenVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        compare_lists(&self.items, &other.items)
    }
}

impl PartialOrd for MavenVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Builds the nested item lists. Instead of Java's stack of mutable lists, each new sub-list is
/// collected in `stack` and folded into its parent at the end (a sub-list is always the last
/// element of its parent, so this is equivalent).
fn parse_items(version: &str) -> Vec<Item> {
    let bytes = version.as_bytes();
    let mut stack: Vec<Vec<Item>> = vec![Vec::new()];
    let mut is_digit = false;
    let mut start = 0usize;
    let piece = |from: usize, to: usize| version.get(from..to).unwrap_or("");
    for (i, &c) in bytes.iter().enumerate() {
        if c == b'.' || c == b'-' {
            let item = if i == start {
                Item::Int(String::new())
            } else {
                parse_item(is_digit, piece(start, i))
            };
            push(&mut stack, item);
            start = i + 1;
            if c == b'-' {
                stack.push(Vec::new());
            }
        } else if c.is_ascii_digit() {
            if !is_digit && i > start {
                push(&mut stack, string_item(piece(start, i), true));
                start = i;
                stack.push(Vec::new());
            }
            is_digit = true;
        } else {
            if is_digit && i > start {
                push(&mut stack, parse_item(true, piece(start, i)));
                start = i;
                stack.push(Vec::new());
            }
            is_digit = false;
        }
    }
    if bytes.len() > start {
        push(&mut stack, parse_item(is_digit, piece(start, bytes.len())));
    }
    while stack.len() > 1 {
        let mut list = stack.pop().unwrap_or_default();
        normalize(&mut list);
        push(&mut stack, Item::List(list));
    }
    let mut root = stack.pop().unwrap_or_default();
    normalize(&mut root);
    root
}

fn push(stack: &mut [Vec<Item>], item: Item) {
    if let Some(top) = stack.last_mut() {
        top.push(item);
    }
}

fn parse_item(is_digit: bool, text: &str) -> Item {
    if is_digit {
        Item::Int(text.trim_start_matches('0').to_string())
    } else {
        string_item(text, false)
    }
}

fn string_item(text: &str, followed_by_digit: bool) -> Item {
    let text = if followed_by_digit && text.len() == 1 {
        match text {
            "a" => "alpha",
            "b" => "beta",
            "m" => "milestone",
            other => other,
        }
    } else {
        text
    };
    let text = match text {
        "ga" | "final" | "release" => "",
        "cr" => "rc",
        other => other,
    };
    Item::Str(text.to_string())
}

/// Drops trailing null items (zero, empty qualifier, empty list) up to the last non-list item.
fn normalize(list: &mut Vec<Item>) {
    let mut i = list.len();
    while i > 0 {
        i -= 1;
        let Some(item) = list.get(i) else { break };
        if is_null(item) {
            list.remove(i);
        } else if !matches!(item, Item::List(_)) {
            break;
        }
    }
}

fn is_null(item: &Item) -> bool {
    match item {
        Item::Int(digits) => digits.is_empty(),
        Item::Str(s) => s.is_empty(),
        Item::List(items) => items.is_empty(),
    }
}

const QUALIFIERS: [&str; 7] = ["alpha", "beta", "milestone", "rc", "snapshot", "", "sp"];

/// Known qualifiers by rank; unknown ones after all of them, alphabetically (Java compares the
/// strings `"<index>"` and `"7-<qualifier>"`).
fn qualifier_key(q: &str) -> (usize, &str) {
    match QUALIFIERS.iter().position(|k| *k == q) {
        Some(i) => (i, ""),
        None => (QUALIFIERS.len(), q),
    }
}

fn compare_int(a: &str, b: &str) -> Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// `item.compareTo(null)` in Java: how an item compares with a missing one.
fn compare_with_null(item: &Item) -> Ordering {
    match item {
        Item::Int(digits) => {
            if digits.is_empty() {
                Ordering::Equal
            } else {
                Ordering::Greater
            }
        }
        Item::Str(s) => qualifier_key(s).cmp(&qualifier_key("")),
        Item::List(items) => items
            .first()
            .map(compare_with_null)
            .unwrap_or(Ordering::Equal),
    }
}

fn compare_items(a: &Item, b: &Item) -> Ordering {
    match (a, b) {
        (Item::Int(x), Item::Int(y)) => compare_int(x, y),
        (Item::Int(_), _) => Ordering::Greater,
        (Item::Str(_), Item::Int(_)) => Ordering::Less,
        (Item::Str(x), Item::Str(y)) => qualifier_key(x).cmp(&qualifier_key(y)),
        (Item::Str(_), Item::List(_)) => Ordering::Less,
        (Item::List(_), Item::Int(_)) => Ordering::Less,
        (Item::List(_), Item::Str(_)) => Ordering::Greater,
        (Item::List(x), Item::List(y)) => compare_lists(x, y),
    }
}

fn compare_lists(a: &[Item], b: &[Item]) -> Ordering {
    let mut left = a.iter();
    let mut right = b.iter();
    loop {
        let order = match (left.next(), right.next()) {
            (None, None) => return Ordering::Equal,
            (Some(l), None) => compare_with_null(l),
            (None, Some(r)) => compare_with_null(r).reverse(),
            (Some(l), Some(r)) => compare_items(l, r),
        };
        if order != Ordering::Equal {
            return order;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_ascending(list: &[&str]) {
        let parsed: Vec<MavenVersion> = list
            .iter()
            .map(|s| MavenVersion::parse(s).unwrap_or_else(|| panic!("{s}")))
            .collect();
        for (i, a) in parsed.iter().enumerate() {
            for (j, b) in parsed.iter().enumerate() {
                assert_eq!(
                    a.cmp(b),
                    i.cmp(&j),
                    "{} vs {}",
                    list.get(i).copied().unwrap_or(""),
                    list.get(j).copied().unwrap_or("")
                );
            }
        }
    }

    #[test]
    fn maven_qualifier_ordering() {
        // Maven 3.8's ComparableVersionTest VERSIONS_QUALIFIER.
        assert_ascending(&[
            "1-alpha2snapshot",
            "1-alpha2",
            "1-alpha-123",
            "1-beta-2",
            "1-beta123",
            "1-m2",
            "1-m11",
            "1-rc",
            "1-cr2",
            "1-rc123",
            "1-SNAPSHOT",
            "1",
            "1-sp",
            "1-sp2",
            "1-sp123",
            "1-abc",
            "1-def",
            "1-pom-1",
            "1-1-snapshot",
            "1-1",
            "1-2",
            "1-123",
        ]);
    }

    #[test]
    fn maven_number_ordering() {
        // Maven 3.8's ComparableVersionTest VERSIONS_NUMBER (3.9 moved `2.0.a` before `2-1`).
        assert_ascending(&[
            "2.0", "2-1", "2.0.a", "2.0.0.a", "2.0.2", "2.0.123", "2.1.0", "2.1-a", "2.1b",
            "2.1-c", "2.1-1", "2.1.0.1", "2.2", "2.123", "11.a2", "11.a11", "11.b2", "11.b11",
            "11.m2", "11.m11", "11", "11.a", "11b", "11c", "11m",
        ]);
    }

    #[test]
    fn maven_equalities() {
        let eq = |a: &str, b: &str| {
            assert_eq!(
                MavenVersion::parse(a).map(|x| x.items),
                MavenVersion::parse(b).map(|x| x.items),
                "{a} == {b}"
            );
        };
        eq("1", "1.0.0");
        eq("1-ga", "1");
        eq("1.final", "1");
        eq("1cr", "1rc");
        eq("1a1", "1-alpha-1");
        eq("1.0.0-RELEASE", "1");
        assert!(
            MavenVersion::parse("2.12.7.1").expect("v") > MavenVersion::parse("2.12.7").expect("v")
        );
        assert!(MavenVersion::parse("").is_none());
        assert_eq!(
            MavenVersion::parse("00000000000000000000000000001").expect("big"),
            MavenVersion::parse("1").expect("one")
        );
        assert!(
            MavenVersion::parse("99999999999999999999999").expect("big")
                > MavenVersion::parse("9999999999999999999").expect("v")
        );
    }
}
