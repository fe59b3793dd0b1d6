//! Opening the files a user points mlvet at: only regular files, and never blocking.

use std::fs::{File, FileType, OpenOptions};
use std::path::Path;

/// Opens `path` for reading only if it is a regular file, without ever blocking. A plain `open`
/// of a FIFO waits for a writer forever (a `-r` include, a side file or a walked path can name
/// one, or be swapped for one after a check), so the file is opened non-blocking and its type is
/// checked on the opened handle, not on the path.
pub fn open_regular(path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // No effect on regular files; makes opening a FIFO return at once.
        options.custom_flags(libc::O_NONBLOCK);
    }
    let file = options.open(path)?;
    let file_type = file.metadata()?.file_type();
    if file_type.is_file() {
        Ok(file)
    } else {
        Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!(
                "not a regular file ({}); only regular files are read",
                describe_file_type(&file_type)
            ),
        ))
    }
}

/// What a file that is not a regular file is, for messages: "a FIFO", "a device"...
pub fn describe_file_type(file_type: &FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_fifo() {
            return "a FIFO";
        }
        if file_type.is_char_device() || file_type.is_block_device() {
            return "a device";
        }
        if file_type.is_socket() {
            return "a socket";
        }
    }
    if file_type.is_dir() {
        "a directory"
    } else if file_type.is_file() {
        "a regular file"
    } else {
        "a special file"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regular_files_open_and_directories_do_not() {
        let dir = std::env::temp_dir();
        let error = open_regular(&dir).expect_err("a directory is refused");
        assert!(error.to_string().contains("a directory"), "{error}");
        let file = dir.join(format!("mlvet-core-fs-{}", std::process::id()));
        std::fs::write(&file, b"x").expect("write");
        assert!(open_regular(&file).is_ok());
        std::fs::remove_file(&file).expect("remove");
    }
}
