//! `_compat_pickle` renames applied by `Unpickler.find_class` for protocols < 3 (`fix_imports`).

#[path = "compat_tables.rs"]
mod tables;

/// Maps a Python 2 `(module, name)` to what CPython 3 imports: first the exact pair in
/// `NAME_MAPPING`, else the module in `IMPORT_MAPPING`.
pub(crate) fn map(module: &str, name: &str) -> (String, String) {
    let by_name =
        tables::NAME_MAPPING.binary_search_by(|((m, n), _)| (*m, *n).cmp(&(module, name)));
    if let Some((_, (m, n))) = by_name.ok().and_then(|i| tables::NAME_MAPPING.get(i)) {
        return (m.to_string(), n.to_string());
    }
    let by_module = tables::IMPORT_MAPPING.binary_search_by(|(m, _)| (*m).cmp(module));
    if let Some((_, m)) = by_module.ok().and_then(|i| tables::IMPORT_MAPPING.get(i)) {
        return (m.to_string(), name.to_string());
    }
    (module.to_string(), name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python2_names_map_like_cpython() {
        assert_eq!(
            map("__builtin__", "eval"),
            ("builtins".into(), "eval".into())
        );
        assert_eq!(
            map("__builtin__", "xrange"),
            ("builtins".into(), "range".into())
        );
        assert_eq!(
            map("copy_reg", "_reconstructor"),
            ("copyreg".into(), "_reconstructor".into())
        );
        assert_eq!(
            map("commands", "getoutput"),
            ("subprocess".into(), "getoutput".into())
        );
        assert_eq!(map("os", "system"), ("os".into(), "system".into()));
    }

    #[test]
    fn tables_are_sorted_for_binary_search() {
        assert!(tables::NAME_MAPPING.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(tables::IMPORT_MAPPING.windows(2).all(|w| w[0].0 < w[1].0));
    }
}
