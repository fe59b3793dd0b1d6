//! indicatif progress bars for long database operations and scans, drawn on stderr only when it
//! is a TTY (and never with `--quiet`): nothing reaches a log file or a pipe.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

pub struct BarProgress {
    bar: ProgressBar,
}

impl BarProgress {
    pub fn new(visible: bool) -> Self {
        let bar = ProgressBar::hidden();
        if visible {
            bar.set_draw_target(ProgressDrawTarget::stderr());
        }
        BarProgress { bar }
    }
}

impl mlvet_db::Progress for BarProgress {
    fn start(&self, label: &str, total: Option<u64>) {
        self.bar.reset();
        self.bar.set_position(0);
        match total {
            Some(total) => {
                self.bar.set_length(total);
                self.bar.set_style(
                    ProgressStyle::with_template("{msg:>12} [{bar:40}] {pos}/{len} {per_sec}")
                        .unwrap_or_else(|_| ProgressStyle::default_bar())
                        .progress_chars("=> "),
                );
            }
            None => {
                self.bar.unset_length();
                self.bar.set_style(
                    ProgressStyle::with_template("{msg:>12} {spinner} {pos} {per_sec}")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
            }
        }
        // Labels name imported paths and archives: sanitised like every other printed name.
        self.bar
            .set_message(mlvet_report::text_internals::sanitize(label).into_owned());
    }

    fn inc(&self, n: u64) {
        self.bar.inc(n);
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// The scan's progress: files done of the total, bytes, and a file being read now. Drawn at
/// most a few times a second by indicatif, from every worker thread, and cleared at the end.
pub struct ScanProgress {
    bar: ProgressBar,
    total_bytes: u64,
    done_bytes: std::sync::atomic::AtomicU64,
}

impl ScanProgress {
    pub fn new(files: &[mlvet_formats::WalkedFile], visible: bool) -> Self {
        let total_bytes = files.iter().map(|f| f.size).sum();
        let bar = ProgressBar::hidden();
        if visible {
            bar.set_draw_target(ProgressDrawTarget::stderr());
        }
        bar.set_length(u64::try_from(files.len()).unwrap_or(u64::MAX));
        bar.set_style(
            ProgressStyle::with_template("{spinner} [{bar:30}] {pos}/{len} files {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        ScanProgress {
            bar,
            total_bytes,
            done_bytes: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// `display` is being read now.
    pub fn start(&self, display: &str) {
        if self.bar.is_hidden() {
            return;
        }
        let done = self.done_bytes.load(std::sync::atomic::Ordering::Relaxed);
        // File names come from the scanned tree: sanitised like every other printed name.
        self.bar.set_message(format!(
            "· {}/{} · {}",
            indicatif::HumanBytes(done),
            indicatif::HumanBytes(self.total_bytes),
            mlvet_report::text_internals::sanitize(display)
        ));
    }

    /// A file of `size` bytes is finished.
    pub fn done(&self, size: u64) {
        self.done_bytes
            .fetch_add(size, std::sync::atomic::Ordering::Relaxed);
        self.bar.inc(1);
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
