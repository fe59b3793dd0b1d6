//! Object headers (versions 1 and 2) and their messages, continuation blocks followed.

use crate::Error;
use crate::io::{Cursor, Source};

pub(crate) const MSG_DATASPACE: u16 = 0x0001;
pub(crate) const MSG_LINK_INFO: u16 = 0x0002;
pub(crate) const MSG_DATATYPE: u16 = 0x0003;
pub(crate) const MSG_LINK: u16 = 0x0006;
pub(crate) const MSG_LAYOUT: u16 = 0x0008;
pub(crate) const MSG_ATTRIBUTE: u16 = 0x000C;
pub(crate) const MSG_CONTINUATION: u16 = 0x0010;
pub(crate) const MSG_SYMBOL_TABLE: u16 = 0x0011;
pub(crate) const MSG_ATTRIBUTE_INFO: u16 = 0x0015;

/// Bit of a message's flags: the message is shared (stored elsewhere, referenced here).
pub(crate) const FLAG_SHARED: u8 = 0x02;

#[derive(Debug, Clone)]
pub(crate) struct Message {
    pub kind: u16,
    pub flags: u8,
    pub data: Vec<u8>,
}

/// Continuation blocks one object header may have.
const CONTINUATIONS_MAX: usize = 256;

/// Reads the object header at `address` and every message of all its chunks.
pub(crate) fn read_messages(src: &mut Source<'_>, address: u64) -> Result<Vec<Message>, Error> {
    let probe = src.read_up_to(address, 16, "object header")?;
    if probe.starts_with(b"OHDR") {
        read_v2(src, address)
    } else if probe.first() == Some(&1) {
        read_v1(src, address)
    } else {
        Err(Error::Malformed(format!(
            "no object header at {address:#x}"
        )))
    }
}

fn read_v1(src: &mut Source<'_>, address: u64) -> Result<Vec<Message>, Error> {
    let head = src.read(address, 16, "object header")?;
    let mut c = Cursor::new(&head, "object header");
    c.skip(2)?;
    let declared = usize::from(c.u16()?);
    let _refcount = c.u32()?;
    let size = u64::from(c.u32()?);
    let mut chunks = vec![(address + 16, size)];
    let mut messages = Vec::new();
    let mut chunk_index = 0;
    while let Some(&(start, len)) = chunks.get(chunk_index) {
        chunk_index += 1;
        if chunk_index > CONTINUATIONS_MAX {
            return Err(Error::Limit(
                "too many object header continuation blocks".into(),
            ));
        }
        let bytes = src.read(start, len, "object header chunk")?;
        let mut c = Cursor::new(&bytes, "object header chunk");
        while c.remaining() >= 8 {
            let kind = c.u16()?;
            let msg_size = usize::from(c.u16()?);
            let flags = c.u8()?;
            c.skip(3)?;
            let data = c.take(msg_size)?.to_vec();
            c.align(8);
            push(src, &mut messages, &mut chunks, kind, flags, data)?;
        }
    }
    if messages.len() > declared.saturating_add(CONTINUATIONS_MAX) {
        return Err(Error::Malformed(
            "object header holds more messages than declared".into(),
        ));
    }
    Ok(messages)
}

fn read_v2(src: &mut Source<'_>, address: u64) -> Result<Vec<Message>, Error> {
    let head = src.read_up_to(address, 6 + 16 + 4 + 8, "object header")?;
    let mut c = Cursor::new(&head, "object header");
    c.skip(4)?;
    let version = c.u8()?;
    if version != 2 {
        return Err(Error::Unsupported(format!(
            "object header version {version}"
        )));
    }
    let flags = c.u8()?;
    if flags & 0x20 != 0 {
        c.skip(16)?;
    }
    if flags & 0x10 != 0 {
        c.skip(4)?;
    }
    let size_width = 1usize << (flags & 0x03);
    let size = c.uint(size_width)?;
    let creation_order = flags & 0x04 != 0;
    let mut chunks = vec![(address + c.pos as u64, size, false)];
    let mut messages = Vec::new();
    let mut chunk_index = 0;
    let header_len = if creation_order { 6 } else { 4 };
    while let Some(&(start, len, continuation)) = chunks.get(chunk_index) {
        chunk_index += 1;
        if chunk_index > CONTINUATIONS_MAX {
            return Err(Error::Limit(
                "too many object header continuation blocks".into(),
            ));
        }
        let bytes = src.read(start, len, "object header chunk")?;
        let mut body: &[u8] = &bytes;
        if continuation {
            if !body.starts_with(b"OCHK") {
                return Err(Error::Malformed(
                    "continuation block signature missing".into(),
                ));
            }
            // The signature and the trailing checksum frame the messages.
            body = body.get(4..body.len().saturating_sub(4)).unwrap_or(&[]);
        }
        let mut c = Cursor::new(body, "object header chunk");
        while c.remaining() >= header_len {
            let kind = u16::from(c.u8()?);
            let msg_size = usize::from(c.u16()?);
            let msg_flags = c.u8()?;
            if creation_order {
                c.skip(2)?;
            }
            let data = c.take(msg_size)?.to_vec();
            let mut new_chunks = Vec::new();
            push(src, &mut messages, &mut new_chunks, kind, msg_flags, data)?;
            chunks.extend(new_chunks.into_iter().map(|(s, l)| (s, l, true)));
        }
    }
    Ok(messages)
}

fn push(
    src: &mut Source<'_>,
    messages: &mut Vec<Message>,
    chunks: &mut Vec<(u64, u64)>,
    kind: u16,
    flags: u8,
    data: Vec<u8>,
) -> Result<(), Error> {
    if messages.len() >= src.limits.max_messages {
        return Err(Error::Limit(format!(
            "more than {} messages in one object header",
            src.limits.max_messages
        )));
    }
    if kind == MSG_CONTINUATION {
        let mut c = Cursor::new(&data, "continuation message");
        let offset = c.uint(usize::from(src.offset_size))?;
        let length = c.uint(usize::from(src.length_size))?;
        chunks.push((offset, length));
    } else {
        messages.push(Message { kind, flags, data });
    }
    Ok(())
}
