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

/// Vendored copies and re-exports of a package that behave exactly like it: old scikit-learn
/// (<= 0.22) bundles joblib as `sklearn.externals.joblib` (0.21-0.22: a shim importing `joblib`),
/// and `sklearn.utils._joblib` re-exports joblib's API. Their references are judged, and their
/// array wrappers read, as joblib's own.
const VENDORED: &[(&str, &str)] = &[
    ("sklearn.externals.joblib", "joblib"),
    ("sklearn.utils._joblib", "joblib"),
];

/// The canonical module of a vendored copy (`sklearn.externals.joblib.numpy_pickle` ->
/// `joblib.numpy_pickle`), or `None` when `module` is not one.
pub(crate) fn vendored(module: &str) -> Option<String> {
    VENDORED.iter().find_map(|(vendored, canonical)| {
        let rest = module.strip_prefix(vendored)?;
        (rest.is_empty() || rest.starts_with('.')).then(|| format!("{canonical}{rest}"))
    })
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
    fn vendored_joblib_is_joblib() {
        assert_eq!(
            vendored("sklearn.externals.joblib.numpy_pickle").as_deref(),
            Some("joblib.numpy_pickle")
        );
        assert_eq!(
            vendored("sklearn.externals.joblib").as_deref(),
            Some("joblib")
        );
        assert_eq!(vendored("sklearn.utils._joblib").as_deref(), Some("joblib"));
        assert_eq!(vendored("sklearn.externals.joblibx"), None);
        assert_eq!(vendored("sklearn.externals"), None);
    }

    #[test]
    fn tables_are_sorted_for_binary_search() {
        assert!(tables::NAME_MAPPING.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(tables::IMPORT_MAPPING.windows(2).all(|w| w[0].0 < w[1].0));
    }
}
