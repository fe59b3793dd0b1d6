//! indicatif progress bars for long database operations, drawn on stderr only when it is a TTY.

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
