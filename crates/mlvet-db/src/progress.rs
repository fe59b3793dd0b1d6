/// Progress reporting for long operations (downloads, imports). The CLI wires this to a progress
/// bar; libraries and tests use [`NoProgress`].
///
/// `start` begins a new phase (a download, an import) with an optional total; `inc` advances it
/// (bytes for downloads, records for imports); `finish` ends the phase.
pub trait Progress: Sync {
    fn start(&self, label: &str, total: Option<u64>);
    fn inc(&self, n: u64);
    fn finish(&self);
}

/// A [`Progress`] that reports nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn start(&self, _label: &str, _total: Option<u64>) {}
    fn inc(&self, _n: u64) {}
    fn finish(&self) {}
}
