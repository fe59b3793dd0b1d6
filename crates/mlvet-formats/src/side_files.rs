//! Side files of old joblib pickles: found while scanning the pickle (see
//! [`crate::walker::SideFileRef`]), resolved here the way `joblib.load` resolves them
//! (`os.path.join(dirname(pickle), filename)`) and scanned as part of the artefact.

use std::io::Read;
use std::path::Path;

use crate::engine::{PendingSideFile, PickleLoader, Scan};
use crate::rules::container_archive_path_escape::escape_reason;
use crate::rules::container_side_file;
use crate::sniff::{Format, SNIFF_LEN, sniff};

/// Side files looked at per artefact (one per array in a real file).
const SIDE_FILES_MAX: usize = 1_000;

/// Resolves and scans every side file the artefact's pickles named. `folder` is the folder of
/// the artefact on disk (`None` when it is not a file on disk).
pub(crate) fn resolve(scan: &mut Scan<'_>, folder: Option<&Path>) {
    let pending = std::mem::take(&mut scan.side_files);
    let mut seen = std::collections::HashSet::new();
    for (count, side) in pending.into_iter().enumerate() {
        if count >= SIDE_FILES_MAX {
            scan.incomplete(container_side_file::not_inspected(
                side.loc,
                &side.class,
                side.filename.as_deref(),
                &format!("more than {SIDE_FILES_MAX} side files"),
            ));
            break;
        }
        // The same file named twice is read twice by joblib, but scanning it once is enough.
        if side.filename.is_some() && !seen.insert(side.filename.clone()) {
            continue;
        }
        resolve_one(scan, folder, side);
    }
}

fn resolve_one(scan: &mut Scan<'_>, folder: Option<&Path>, side: PendingSideFile) {
    let PendingSideFile {
        loc,
        class,
        filename,
    } = side;
    let Some(name) = filename else {
        scan.incomplete(container_side_file::not_inspected(
            loc,
            &class,
            None,
            "the name it is given could not be determined",
        ));
        return;
    };
    if let Some(why) = escape_reason(&name) {
        scan.incomplete(container_side_file::escape(loc, &class, &name, why));
        return;
    }
    // Members of archives and streams decoded from them have no folder joblib could join the
    // name to; compression wrappers (`<gzip>`, `<joblib-zfile>`) of a file on disk do.
    let inside_archive = loc.members.iter().any(|m| !m.starts_with('<'));
    let Some(folder) = folder.filter(|_| !inside_archive) else {
        scan.incomplete(container_side_file::not_inspected(
            loc,
            &class,
            Some(&name),
            "the pickle is not a file on disk, so the side file is not available to scan",
        ));
        return;
    };
    let path = folder.join(&name);
    let mut file = match crate::open_regular(&path) {
        Ok(file) => file,
        Err(e) => {
            let why = if e.kind() == std::io::ErrorKind::NotFound {
                "missing next to the pickle".to_string()
            } else {
                format!("cannot be opened: {e}")
            };
            scan.incomplete(container_side_file::not_inspected(
                loc,
                &class,
                Some(&name),
                &why,
            ));
            return;
        }
    };
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let side_loc = loc.clone().member(format!("<side file {name}>"));
    let mut prefix = Vec::with_capacity(SNIFF_LEN);
    let sniffed = (&mut file)
        .take(SNIFF_LEN as u64)
        .read_to_end(&mut prefix)
        .map(|_| sniff(&prefix));
    // The side file is a separate input: its own expansion budget.
    let mut side_scan = Scan::new(scan.opts, size);
    match sniffed {
        Ok(Format::NotAModel) if class == "NDArrayWrapper" => {
            // np.load(allow_pickle=True) hands anything that is neither .npy nor .npz to
            // pickle.load: simulate it as a pickle, whatever it looks like.
            let rest = std::io::Cursor::new(prefix).chain(std::io::BufReader::new(file));
            side_scan.scan_pickles(rest, &side_loc, 0, Some(1), PickleLoader::One);
        }
        Ok(_) => {
            side_scan.scan_seekable(&mut file, size, &side_loc, 1);
        }
        Err(e) => {
            scan.incomplete(container_side_file::not_inspected(
                loc,
                &class,
                Some(&name),
                &format!("unreadable: {e}"),
            ));
            return;
        }
    }
    scan.fully_inspected &= side_scan.fully_inspected;
    scan.findings.append(&mut side_scan.findings);
    scan.findings
        .push(container_side_file::scanned(loc, &class, &name));
}
