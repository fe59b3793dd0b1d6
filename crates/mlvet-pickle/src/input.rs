//! The byte source of the simulator: a streaming reader that reproduces how CPython's C unpickler
//! consumes its input, including the buffer semantics of `FRAME`.
//!
//! The C unpickler (`Modules/_pickle.c`) reading from a file object without `peek` — `io.BytesIO`,
//! PyTorch's zip records, and any frame larger than what a buffered file can peek — handles `FRAME n`
//! by `read(n)` into its buffer and rewinding to the frame start. Later reads are served from that
//! buffer; a fixed-size read (`_Unpickler_Read`) or a line read (`_Unpickler_Readline`) that does not
//! fit in what is left of the buffer *discards the rest of the buffer* and reads from the file after
//! it. Only the bulk payloads of `BINBYTES`/`BINBYTES8`/`SHORT_BINBYTES`/`BYTEARRAY8`
//! (`_Unpickler_ReadInto`) continue across the buffer end. `pickle.loads` and `pickletools` instead
//! read straight on. The two agree unless an opcode crosses a frame end, which CPython's pickler
//! never writes: the reader follows the file loader and counts such divergences.
//!
//! Memory use is bounded by the buffer: payloads are skipped, and callers keep at most a capture
//! limit of any literal.

use std::io::{self, Read};

const BUFFER_SIZE: usize = 64 * 1024;

/// Why a read failed.
#[derive(Debug)]
pub(crate) enum ReadError {
    /// The input ended `needed` bytes short (or inside a line).
    Eof,
    Io(io::Error),
}

impl From<io::Error> for ReadError {
    fn from(e: io::Error) -> Self {
        ReadError::Io(e)
    }
}

pub(crate) type ReadResult<T> = Result<T, ReadError>;

pub(crate) struct Input<R: Read> {
    inner: R,
    buf: Box<[u8]>,
    start: usize,
    end: usize,
    eof: bool,
    /// Bytes consumed so far (the position of the next byte in the stream).
    pos: u64,
    /// End of the C unpickler's buffer: the file position up to which it has read.
    buffer_end: u64,
    /// Number of reads that crossed a frame end, and the offset of the first.
    pub(crate) divergences: u64,
    pub(crate) first_divergence: Option<u64>,
}

impl<R: Read> Input<R> {
    pub(crate) fn new(inner: R) -> Self {
        Input {
            inner,
            buf: vec![0u8; BUFFER_SIZE].into_boxed_slice(),
            start: 0,
            end: 0,
            eof: false,
            pos: 0,
            buffer_end: 0,
            divergences: 0,
            first_divergence: None,
        }
    }

    pub(crate) fn pos(&self) -> u64 {
        self.pos
    }

    /// Makes at least `want` (≤ buffer size) bytes available unless the input ends first; returns
    /// how many are available.
    fn fill(&mut self, want: usize) -> io::Result<usize> {
        let want = want.min(self.buf.len());
        while self.end - self.start < want && !self.eof {
            if self.end == self.buf.len() || self.buf.len() - self.start < want {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            }
            let Some(space) = self.buf.get_mut(self.end..) else {
                break;
            };
            match self.inner.read(space) {
                Ok(0) => self.eof = true,
                Ok(n) => self.end += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(self.end - self.start)
    }

    /// Up to `n` upcoming bytes without consuming them (fewer at the end of the input).
    pub(crate) fn peek(&mut self, n: usize) -> io::Result<&[u8]> {
        let available = self.fill(n)?;
        let take = available.min(n);
        Ok(self.buf.get(self.start..self.start + take).unwrap_or(&[]))
    }

    #[inline]
    fn advance(&mut self, n: usize) {
        self.start += n;
        self.pos += n as u64;
        if self.pos > self.buffer_end {
            self.buffer_end = self.pos;
        }
    }

    /// Consumes `n` bytes, handing each available chunk to `sink`.
    fn consume_with(&mut self, mut n: u64, mut sink: impl FnMut(&[u8])) -> ReadResult<()> {
        while n > 0 {
            let available = self.fill(1)?;
            if available == 0 {
                return Err(ReadError::Eof);
            }
            let take = (available as u64).min(n) as usize;
            if let Some(chunk) = self.buf.get(self.start..self.start + take) {
                sink(chunk);
            }
            self.advance(take);
            n -= take as u64;
        }
        Ok(())
    }

    /// The C unpickler's `_Unpickler_Read` of `n` bytes: if the read does not fit in what is left of
    /// its buffer, the rest of the buffer is dropped.
    #[inline]
    fn enter_fixed_read(&mut self, n: u64) -> ReadResult<()> {
        if self.pos < self.buffer_end && self.pos.saturating_add(n) > self.buffer_end {
            self.diverge()?;
        }
        Ok(())
    }

    fn diverge(&mut self) -> ReadResult<()> {
        self.divergences += 1;
        self.first_divergence.get_or_insert(self.pos);
        let skip = self.buffer_end - self.pos;
        self.consume_with(skip, |_| {})
    }

    /// One opcode byte, or `None` at the end of the input.
    #[inline]
    pub(crate) fn opcode(&mut self) -> ReadResult<Option<u8>> {
        if self.start == self.end && self.fill(1)? == 0 {
            return Ok(None);
        }
        let byte = self.buf.get(self.start).copied();
        if byte.is_some() {
            self.advance(1);
        }
        Ok(byte)
    }

    /// A fixed-size argument of `N` ≤ 8 bytes.
    #[inline]
    pub(crate) fn fixed<const N: usize>(&mut self) -> ReadResult<[u8; N]> {
        self.enter_fixed_read(N as u64)?;
        let mut out = [0u8; N];
        if let Some(src) = self
            .buf
            .get(self.start..self.start + N)
            .filter(|_| self.end - self.start >= N)
        {
            out.copy_from_slice(src);
            self.advance(N);
            return Ok(out);
        }
        let mut filled = 0;
        self.consume_with(N as u64, |chunk| {
            if let Some(dst) = out.get_mut(filled..filled + chunk.len()) {
                dst.copy_from_slice(chunk);
            }
            filled += chunk.len();
        })?;
        Ok(out)
    }

    /// A counted payload read with `_Unpickler_Read` (strings): keeps at most `cap` bytes in `out`.
    pub(crate) fn counted(&mut self, n: u64, cap: usize, out: &mut Vec<u8>) -> ReadResult<()> {
        self.enter_fixed_read(n)?;
        self.capture(n, cap, out)
    }

    /// A counted payload read with `_Unpickler_ReadInto` (bytes, bytearrays): continues across the
    /// buffer end. Keeps at most `cap` bytes.
    pub(crate) fn counted_into(&mut self, n: u64, cap: usize, out: &mut Vec<u8>) -> ReadResult<()> {
        self.capture(n, cap, out)
    }

    fn capture(&mut self, n: u64, cap: usize, out: &mut Vec<u8>) -> ReadResult<()> {
        out.clear();
        self.consume_with(n, |chunk| {
            let room = cap.saturating_sub(out.len());
            if room > 0 {
                out.extend_from_slice(chunk.get(..room.min(chunk.len())).unwrap_or(chunk));
            }
        })
    }

    /// A `\n`-terminated line read with `_Unpickler_Readline`; keeps at most `cap` bytes of it
    /// (without the newline) and returns the full length.
    pub(crate) fn line(&mut self, cap: usize, out: &mut Vec<u8>) -> ReadResult<u64> {
        let mut sink = CappedLine { out, cap };
        self.line_into(&mut sink)
    }

    /// A `\n`-terminated line read with `_Unpickler_Readline`, of any length (CPython's readline
    /// has no limit), handed to `sink` chunk by chunk without the newline; returns its length. If
    /// the line does not end inside what is left of the C buffer, that rest is dropped and the line
    /// is read from the file after it (the sink is restarted).
    pub(crate) fn line_into(&mut self, sink: &mut dyn LineSink) -> ReadResult<u64> {
        sink.restart();
        let mut len: u64 = 0;
        let mut in_buffer = self.pos < self.buffer_end;
        loop {
            if in_buffer && self.pos == self.buffer_end {
                // The line did not end inside the frame buffer: C starts over after it.
                self.divergences += 1;
                self.first_divergence.get_or_insert(self.pos);
                sink.restart();
                len = 0;
                in_buffer = false;
            }
            let available = self.fill(1)?;
            if available == 0 {
                return Err(ReadError::Eof);
            }
            let mut window = available;
            if in_buffer {
                window = window.min((self.buffer_end - self.pos) as usize);
            }
            let chunk = self.buf.get(self.start..self.start + window).unwrap_or(&[]);
            match chunk.iter().position(|&b| b == b'\n') {
                Some(newline) => {
                    sink.feed(chunk.get(..newline).unwrap_or(&[]));
                    len += newline as u64;
                    self.advance(newline + 1);
                    return Ok(len);
                }
                None => {
                    sink.feed(chunk);
                    len += window as u64;
                    self.advance(window);
                }
            }
        }
    }

    /// `FRAME n`: the C unpickler reads `n` bytes into its buffer (dropping what was left of the
    /// previous buffer if the frame does not fit in it) and rewinds to the frame start.
    pub(crate) fn frame(&mut self, n: u64) -> ReadResult<()> {
        if self.pos.saturating_add(n) <= self.buffer_end {
            return Ok(());
        }
        if self.pos < self.buffer_end {
            self.diverge()?;
        }
        self.buffer_end = self.pos.saturating_add(n);
        Ok(())
    }

    /// Where the current frame buffer ends, if a frame is being read.
    pub(crate) fn pending_frame_end(&self) -> Option<u64> {
        (self.buffer_end > self.pos).then_some(self.buffer_end)
    }

    /// Ends the frame state of a pickle at its STOP (a frame never spans pickles in valid files).
    pub(crate) fn end_of_pickle(&mut self) {
        if self.buffer_end > self.pos {
            // A frame that extends past STOP: a loader without peek resumes after the frame, one with
            // peek right after STOP. Follow the latter and count the disagreement.
            self.divergences += 1;
            self.first_divergence.get_or_insert(self.pos);
        }
        self.buffer_end = self.pos;
    }
}

impl<R: Read> Input<R> {
    /// A counted payload handed on as a stream (an embedded pickle is simulated while it is read),
    /// with the read semantics of `counted` (`fixed`, strings) or `counted_into` (bytes). The
    /// payload's first `cap` bytes are kept in [`Payload::captured`]; [`Payload::finish`] consumes
    /// whatever the reader of the stream left.
    pub(crate) fn payload(
        &mut self,
        n: u64,
        fixed: bool,
        cap: usize,
    ) -> ReadResult<Payload<'_, R>> {
        if fixed {
            self.enter_fixed_read(n)?;
        }
        Ok(Payload {
            input: self,
            remaining: n,
            cap,
            captured: Vec::new(),
        })
    }
}

/// The stream of one counted payload (see [`Input::payload`]).
pub(crate) struct Payload<'a, R: Read> {
    input: &'a mut Input<R>,
    remaining: u64,
    cap: usize,
    pub(crate) captured: Vec<u8>,
}

impl<R: Read> Payload<'_, R> {
    /// Consumes the rest of the payload; `Eof` when the input ends inside it.
    pub(crate) fn finish(self) -> ReadResult<Vec<u8>> {
        let Payload {
            input,
            remaining,
            cap,
            mut captured,
        } = self;
        input.consume_with(remaining, |chunk| keep(&mut captured, cap, chunk))?;
        Ok(captured)
    }
}

impl<R: Read> Read for Payload<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.remaining == 0 || buf.is_empty() {
            return Ok(0);
        }
        let available = self.input.fill(1)?;
        let take = (available as u64).min(self.remaining).min(buf.len() as u64) as usize;
        let start = self.input.start;
        let Some(chunk) = self.input.buf.get(start..start + take) else {
            return Ok(0);
        };
        let Some(dst) = buf.get_mut(..take) else {
            return Ok(0);
        };
        dst.copy_from_slice(chunk);
        keep(&mut self.captured, self.cap, chunk);
        self.input.advance(take);
        self.remaining -= take as u64;
        Ok(take)
    }
}

fn keep(out: &mut Vec<u8>, cap: usize, chunk: &[u8]) {
    let room = cap.saturating_sub(out.len());
    if room > 0 {
        out.extend_from_slice(chunk.get(..room.min(chunk.len())).unwrap_or(chunk));
    }
}

/// Receives a text line as it is read, in chunks.
pub(crate) trait LineSink {
    /// Forget everything fed so far (the line starts over).
    fn restart(&mut self);
    fn feed(&mut self, chunk: &[u8]);
}

/// Keeps the first `cap` bytes of a line.
struct CappedLine<'a> {
    out: &'a mut Vec<u8>,
    cap: usize,
}

impl LineSink for CappedLine<'_> {
    fn restart(&mut self) {
        self.out.clear();
    }

    fn feed(&mut self, chunk: &[u8]) {
        let room = self.cap.saturating_sub(self.out.len());
        if room > 0 {
            self.out
                .extend_from_slice(chunk.get(..room.min(chunk.len())).unwrap_or(chunk));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_fixed_counted_and_lines_across_refills() {
        let mut data = vec![b'a'; 70_000];
        data.extend_from_slice(b"\nxyz");
        let mut input = Input::new(&data[..]);
        let mut out = Vec::new();
        assert_eq!(input.line(8, &mut out).ok(), Some(70_000));
        assert_eq!(out, b"aaaaaaaa");
        assert_eq!(input.fixed::<2>().ok(), Some(*b"xy"));
        assert!(matches!(input.fixed::<2>(), Err(ReadError::Eof)));
    }

    #[test]
    fn a_read_crossing_a_frame_end_drops_the_rest_of_the_frame() {
        // FRAME covers 3 bytes "abc"; a 4-byte read at "bc.." restarts after the frame.
        let data = b"abcdefgh";
        let mut input = Input::new(&data[..]);
        input.frame(3).ok();
        assert_eq!(input.fixed::<1>().ok(), Some(*b"a"));
        assert_eq!(input.fixed::<4>().ok(), Some(*b"defg"));
        assert_eq!(input.divergences, 1);
        assert_eq!(input.first_divergence, Some(1));
    }

    #[test]
    fn a_payload_streams_its_bytes_and_finish_consumes_the_rest() {
        let data = b"0123456789abc";
        let mut input = Input::new(&data[..]);
        let mut payload = input.payload(10, false, 4).expect("payload");
        let mut head = [0u8; 3];
        assert_eq!(payload.read(&mut head).ok(), Some(3));
        assert_eq!(&head, b"012");
        assert_eq!(payload.finish().ok(), Some(b"0123".to_vec()));
        assert_eq!(input.pos(), 10);
        assert_eq!(input.fixed::<3>().ok(), Some(*b"abc"));
        let mut short = Input::new(&b"xy"[..]);
        let payload = short.payload(5, false, 8).expect("payload");
        assert!(matches!(payload.finish(), Err(ReadError::Eof)));
    }

    #[test]
    fn bulk_payloads_continue_across_the_frame_end() {
        let data = b"abcdefgh";
        let mut input = Input::new(&data[..]);
        input.frame(3).ok();
        let mut out = Vec::new();
        input.counted_into(5, 16, &mut out).ok();
        assert_eq!(out, b"abcde");
        assert_eq!(input.divergences, 0);
    }
}
