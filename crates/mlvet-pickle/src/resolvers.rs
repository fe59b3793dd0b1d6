//! String-to-callable resolvers, folded statically.
//!
//! `getattr(obj, "name")`, `pkgutil.resolve_name("mod:attr")` and torch's
//! `torch._utils._import_dotted_name("mod.attr")` turn constants into arbitrary callables, so on their
//! own they are denied. But a call with literal arguments resolves to exactly one reference, which
//! the simulator can name and judge itself: `_import_dotted_name("os.system")` *is* a reference to
//! `os.system`. Every resolver is treated the same way: a call with literal arguments is replaced by
//! the reference it resolves; when every use of a resolver in the pickle was such a call, the
//! resolver itself adds nothing and is allowed, otherwise (a computed argument, the resolver stored
//! or passed somewhere) it stays denied.

/// How a resolver turns its arguments into a reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ResolverKind {
    /// `getattr(<reference>, "<attribute>")`.
    Getattr,
    /// One dotted string: `mod.attr` or `mod:attr.attr` (`pkgutil.resolve_name`).
    DottedString,
    /// Loads bytes with a loader that runs on load (`torch.storage._load_from_bytes`): judged by
    /// the file in its literal argument (`embedded.rs`), not folded into a reference.
    BytesLoader,
}

/// The resolvers mlvet folds, by the `(module, name)` a pickle references them with.
const RESOLVERS: &[(&str, &str, ResolverKind)] = &[
    ("builtins", "getattr", ResolverKind::Getattr),
    ("pkgutil", "resolve_name", ResolverKind::DottedString),
    (
        "torch._utils",
        "_import_dotted_name",
        ResolverKind::DottedString,
    ),
    (
        "torch.storage",
        "_load_from_bytes",
        ResolverKind::BytesLoader,
    ),
];

pub(crate) fn kind_of(module: &str, name: &str) -> Option<ResolverKind> {
    RESOLVERS
        .iter()
        .find(|(m, n, _)| *m == module && *n == name)
        .map(|(_, _, kind)| *kind)
}

/// The `(module, name)` a dotted string resolves to. `pkgutil.resolve_name` splits at a `:` when
/// there is one; otherwise (and for `_import_dotted_name`, which imports the first component and
/// walks the rest with getattr) the last component is taken as the name. Deny entries match the
/// dotted path whatever the split; allow entries are exact, so an unusual split is at worst unknown.
pub(crate) fn split_dotted(text: &str) -> Option<(String, String)> {
    let valid = |part: &str| !part.is_empty() && part.split('.').all(is_identifier);
    if let Some((module, name)) = text.split_once(':') {
        return (valid(module) && valid(name)).then(|| (module.to_string(), name.to_string()));
    }
    let (module, name) = text.rsplit_once('.')?;
    (valid(module) && is_identifier(name)).then(|| (module.to_string(), name.to_string()))
}

fn is_identifier(part: &str) -> bool {
    let mut chars = part.chars();
    chars.next().is_some_and(|c| c == '_' || c.is_alphabetic())
        && chars.all(|c| c == '_' || c.is_alphanumeric())
}

/// One resolver reference of the pickle and how its values were used.
#[derive(Debug)]
struct Tracked {
    reference: u32,
    kind: ResolverKind,
    /// Times its value was pushed on the stack.
    pushes: u64,
    /// Times a push was consumed by a call that was folded.
    folded: u64,
}

/// The resolver references of one stream.
#[derive(Debug, Default)]
pub(crate) struct Resolvers {
    tracked: Vec<Tracked>,
}

impl Resolvers {
    pub(crate) fn register(&mut self, reference: u32, kind: ResolverKind) {
        self.tracked.push(Tracked {
            reference,
            kind,
            pushes: 0,
            folded: 0,
        });
    }

    #[inline]
    pub(crate) fn note_push(&mut self, reference: u32) {
        if let Some(t) = self.tracked.iter_mut().find(|t| t.reference == reference) {
            t.pushes += 1;
        }
    }

    pub(crate) fn kind(&self, reference: u32) -> Option<ResolverKind> {
        self.tracked
            .iter()
            .find(|t| t.reference == reference)
            .map(|t| t.kind)
    }

    pub(crate) fn note_folded(&mut self, reference: u32) {
        if let Some(t) = self.tracked.iter_mut().find(|t| t.reference == reference) {
            t.folded += 1;
        }
    }

    /// Resolvers whose every use was folded into the reference it resolves (or judged).
    pub(crate) fn fully_folded(&self) -> impl Iterator<Item = (u32, ResolverKind)> + '_ {
        self.tracked
            .iter()
            .filter(|t| t.folded > 0 && t.folded == t.pushes)
            .map(|t| (t.reference, t.kind))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotted_strings_split_like_the_resolvers() {
        let split = |s: &str| split_dotted(s);
        assert_eq!(split("os.system"), Some(("os".into(), "system".into())));
        assert_eq!(
            split("os.path:join"),
            Some(("os.path".into(), "join".into()))
        );
        assert_eq!(
            split("collections:OrderedDict.fromkeys"),
            Some(("collections".into(), "OrderedDict.fromkeys".into()))
        );
        assert_eq!(split("a.b.c"), Some(("a.b".into(), "c".into())));
        for bad in [
            "os",
            "",
            ".x",
            "os.",
            "os..system",
            "os:",
            ":x",
            "os.sys tem",
            "1os.x",
        ] {
            assert_eq!(split(bad), None, "{bad}");
        }
    }

    #[test]
    fn only_fully_folded_resolvers_are_reported() {
        let mut r = Resolvers::default();
        r.register(3, ResolverKind::DottedString);
        r.register(5, ResolverKind::Getattr);
        r.note_push(3);
        r.note_folded(3);
        r.note_push(5);
        r.note_push(5);
        r.note_folded(5);
        assert_eq!(
            r.fully_folded().collect::<Vec<_>>(),
            vec![(3, ResolverKind::DottedString)]
        );
        assert_eq!(r.kind(5), Some(ResolverKind::Getattr));
        assert_eq!(r.kind(4), None);
    }
}
