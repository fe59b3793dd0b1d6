//! Random-access input for the parsers: a byte slice, or a seekable reader read through a window
//! so that payloads the parsers step over (tensor bodies, weight buffers) are never read.

use std::io::{self, Read, Seek, SeekFrom};

/// Bytes the parsers read from, by offset.
pub trait Source {
    /// Total length in bytes.
    fn len(&self) -> u64;

    /// Whether the input is empty.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Up to `len` bytes starting at `offset` (fewer only at the end of the input). `len` must
    /// not exceed [`WINDOW`].
    fn bytes_at(&mut self, offset: u64, len: usize) -> io::Result<&[u8]>;

    /// Exactly `len` bytes at `offset` into a new vector (any length; the caller bounds it).
    fn read_vec(&mut self, offset: u64, len: usize) -> io::Result<Vec<u8>> {
        let mut out = Vec::with_capacity(len.min(WINDOW));
        let mut at = offset;
        while out.len() < len {
            let want = (len - out.len()).min(WINDOW);
            let chunk = self.bytes_at(at, want)?;
            if chunk.is_empty() {
                return Err(io::Error::from(io::ErrorKind::UnexpectedEof));
            }
            at += chunk.len() as u64;
            out.extend_from_slice(chunk);
        }
        Ok(out)
    }
}

/// The largest read [`Source::bytes_at`] serves at once, and the window a [`SeekSource`] keeps.
pub const WINDOW: usize = 64 * 1024;

/// A byte slice as a [`Source`].
#[derive(Debug, Clone, Copy)]
pub struct SliceSource<'a>(pub &'a [u8]);

impl Source for SliceSource<'_> {
    fn len(&self) -> u64 {
        self.0.len() as u64
    }

    fn bytes_at(&mut self, offset: u64, len: usize) -> io::Result<&[u8]> {
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(self.0.len());
        let end = start.saturating_add(len).min(self.0.len());
        Ok(&self.0[start..end])
    }
}

/// A seekable reader (a file) read through one window of [`WINDOW`] bytes: reads near each other
/// share one system call, and skipped ranges are never read at all.
#[derive(Debug)]
pub struct SeekSource<R> {
    inner: R,
    len: u64,
    window: Vec<u8>,
    window_start: u64,
    /// Bytes actually read from `inner` (for tests and benchmarks: bodies are never read).
    pub bytes_read: u64,
}

impl<R: Read + Seek> SeekSource<R> {
    /// Wraps `inner`, whose length is `len` bytes.
    pub fn new(inner: R, len: u64) -> Self {
        SeekSource {
            inner,
            len,
            window: Vec::new(),
            window_start: 0,
            bytes_read: 0,
        }
    }

    fn fill(&mut self, offset: u64) -> io::Result<()> {
        self.inner.seek(SeekFrom::Start(offset))?;
        self.window.clear();
        let want = (self.len.saturating_sub(offset)).min(WINDOW as u64);
        (&mut self.inner).take(want).read_to_end(&mut self.window)?;
        self.bytes_read += self.window.len() as u64;
        self.window_start = offset;
        Ok(())
    }
}

impl<R: Read + Seek> Source for SeekSource<R> {
    fn len(&self) -> u64 {
        self.len
    }

    fn bytes_at(&mut self, offset: u64, len: usize) -> io::Result<&[u8]> {
        let len = len.min(WINDOW);
        let end = offset.saturating_add(len as u64).min(self.len);
        let window_end = self.window_start + self.window.len() as u64;
        if offset < self.window_start || end > window_end {
            self.fill(offset)?;
        }
        let start = usize::try_from(offset - self.window_start).unwrap_or(usize::MAX);
        let stop = usize::try_from(end.saturating_sub(self.window_start)).unwrap_or(0);
        Ok(self.window.get(start..stop.max(start)).unwrap_or(&[]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seek_source_serves_ranges_and_skips_the_rest() {
        let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        let mut src = SeekSource::new(io::Cursor::new(&data), data.len() as u64);
        assert_eq!(src.bytes_at(10, 3).expect("read"), &data[10..13]);
        assert_eq!(
            src.bytes_at(250_000, 4).expect("read"),
            &data[250_000..250_004]
        );
        assert_eq!(src.read_vec(299_990, 10).expect("read"), &data[299_990..]);
        assert!(src.read_vec(299_995, 10).is_err());
        assert!(src.bytes_at(400_000, 4).expect("read").is_empty());
        assert!(src.bytes_read < 3 * WINDOW as u64);
        let mut slice = SliceSource(&data);
        assert_eq!(slice.bytes_at(299_998, 10).expect("read"), &data[299_998..]);
    }
}

#[cfg(test)]
mod payload_tests {
    use super::*;
    use crate::onnx;

    /// A reader over `head` followed by `hole` zero bytes, counting the bytes it hands out.
    struct Synthetic {
        head: Vec<u8>,
        len: u64,
        pos: u64,
        handed_out: std::rc::Rc<std::cell::Cell<u64>>,
    }

    impl Read for Synthetic {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = (self.len.saturating_sub(self.pos)).min(buf.len() as u64) as usize;
            for (i, b) in buf[..n].iter_mut().enumerate() {
                let at = self.pos as usize + i;
                *b = self.head.get(at).copied().unwrap_or(0);
            }
            self.pos += n as u64;
            self.handed_out.set(self.handed_out.get() + n as u64);
            Ok(n)
        }
    }

    impl Seek for Synthetic {
        fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
            if let SeekFrom::Start(p) = to {
                self.pos = p;
            }
            Ok(self.pos)
        }
    }

    fn varint(mut v: u64, out: &mut Vec<u8>) {
        while v >= 0x80 {
            out.push((v as u8) | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    }

    #[test]
    fn an_inline_gigabyte_initializer_is_stepped_over_not_read() {
        const PAYLOAD: u64 = 1 << 30;
        // TensorProto { name: "w", raw_data: <1 GiB> } in GraphProto.initializer in ModelProto.graph.
        let mut tensor_head = vec![0x42, 1, b'w', 0x4a];
        varint(PAYLOAD, &mut tensor_head);
        let tensor_len = tensor_head.len() as u64 + PAYLOAD;
        let node = [0x22, 4, b'R', b'e', b'l', b'u'];
        let mut graph_head = vec![0x0a, node.len() as u8];
        graph_head.extend_from_slice(&node);
        graph_head.push(0x2a);
        varint(tensor_len, &mut graph_head);
        graph_head.extend_from_slice(&tensor_head);
        let graph_len = graph_head.len() as u64 + PAYLOAD;
        let mut head = vec![0x08, 0x09, 0x3a];
        varint(graph_len, &mut head);
        head.extend_from_slice(&graph_head);
        let len = head.len() as u64 + PAYLOAD;
        let handed_out = std::rc::Rc::new(std::cell::Cell::new(0));
        let reader = Synthetic {
            head,
            len,
            pos: 0,
            handed_out: handed_out.clone(),
        };
        let mut src = SeekSource::new(reader, len);
        onnx::looks_like_onnx(&mut src).expect("onnx");
        let model = onnx::parse(&mut src, &onnx::Limits::default());
        assert_eq!(model.error, None);
        assert_eq!(model.node_count, 1);
        assert_eq!(model.initializer_count, 1);
        assert!(
            handed_out.get() <= 4 * WINDOW as u64,
            "read {} bytes",
            handed_out.get()
        );
    }
}
