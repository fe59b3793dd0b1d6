//! A bounded, read-only HDF5 structure reader in pure Rust.
//!
//! It reads what a loader such as `keras.models.load_model` acts on, and nothing else: the
//! superblock (versions 0 to 3, found at 0, 512, 1024, 2048... after a user block), object
//! headers (versions 1 and 2, continuation blocks followed, checksums not verified), the group
//! tree (old-style symbol tables: v1 B-tree + local heap; new-style link messages; dense link
//! storage: fractal heap + v2 B-tree), and attributes (compact and dense) with their values:
//! integers, floats, fixed-length strings and variable-length strings from the global heap. Other
//! datatypes are described, not decoded. Dataset data is never read: a dataset is reported with
//! its datatype and shape only.
//!
//! Every structure is bounded: addresses are checked against the file size, sizes against
//! [`Limits`], objects are visited once (hard-link cycles), and nesting is capped. Problems in one
//! object or attribute do not stop the walk; they are listed in [`File::problems`] so a caller
//! can report the file as not fully inspected. Errors that make the whole file unreadable are
//! returned as [`Error`].
//!
//! ```no_run
//! let mut file = std::fs::File::open("model.h5")?;
//! let size = file.metadata()?.len();
//! let h5 = mlvet_hdf5::read(&mut file, size, &mlvet_hdf5::Limits::default())?;
//! if let Some(config) = h5.root().attribute("model_config").and_then(|a| a.as_text()) {
//!     assert!(config.starts_with('{'));
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod btree;
mod heap;
mod io;
mod object;
mod types;

use std::collections::{HashSet, VecDeque};

pub use io::ReadSeek;
pub use types::{Attribute, Datatype, Value};

use io::{Cursor, Source};
use object::{
    FLAG_SHARED, MSG_ATTRIBUTE, MSG_ATTRIBUTE_INFO, MSG_DATASPACE, MSG_DATATYPE, MSG_LAYOUT,
    MSG_LINK, MSG_LINK_INFO, MSG_SYMBOL_TABLE, Message,
};

/// The HDF5 format signature.
pub const SIGNATURE: &[u8; 8] = b"\x89HDF\r\n\x1a\n";

/// Why a file (or one part of it) could not be read.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("no HDF5 superblock found")]
    NoSuperblock,
    #[error("{what} at address {address:#x} lies outside the file")]
    OutOfBounds { what: &'static str, address: u64 },
    #[error("truncated {0}")]
    Truncated(&'static str),
    #[error("malformed: {0}")]
    Malformed(String),
    #[error("unsupported: {0}")]
    Unsupported(String),
    #[error("limit exceeded: {0}")]
    Limit(String),
    #[error("read failed: {0}")]
    Io(#[from] std::io::Error),
}

/// Bounds on the work one file may cause.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Objects (groups, datasets) visited.
    pub max_objects: usize,
    /// Group nesting depth.
    pub max_depth: usize,
    /// Messages in one object header.
    pub max_messages: usize,
    /// Largest single structure read (a heap, a node, an attribute message).
    pub max_structure_bytes: u64,
    /// Metadata bytes read in total.
    pub max_total_read: u64,
    /// Elements of one attribute decoded.
    pub max_attribute_elements: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_objects: 100_000,
            max_depth: 64,
            max_messages: 65_536,
            max_structure_bytes: 256 * 1024 * 1024,
            max_total_read: 1024 * 1024 * 1024,
            max_attribute_elements: 1_000_000,
        }
    }
}

/// What an object is.
#[derive(Debug, Clone, PartialEq)]
pub enum ObjectKind {
    Group,
    /// A dataset: its element type and shape (data never read).
    Dataset {
        datatype: Option<Datatype>,
        shape: Option<Vec<u64>>,
    },
    /// A committed (named) datatype or an object of unknown kind.
    Other,
}

/// One object of the file, reached through the group tree.
#[derive(Debug, Clone, PartialEq)]
pub struct Object {
    /// `/` for the root group, `/model_weights/dense` below it.
    pub path: String,
    pub address: u64,
    pub kind: ObjectKind,
    pub attributes: Vec<Attribute>,
}

impl Object {
    pub fn attribute(&self, name: &str) -> Option<&Attribute> {
        self.attributes.iter().find(|a| a.name == name)
    }
}

/// A link that does not point into this file (soft or external).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForeignLink {
    /// The link's own path.
    pub path: String,
    /// `soft:/target` or `external:file.h5:/target`.
    pub target: String,
}

/// A problem that left part of the file unread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The object concerned.
    pub path: String,
    pub message: String,
}

/// The structure of an HDF5 file.
#[derive(Debug, Clone, PartialEq)]
pub struct File {
    pub superblock_version: u8,
    /// Where the signature was found (the user block's size).
    pub signature_offset: u64,
    /// Every object reached, root first, in breadth-first order.
    pub objects: Vec<Object>,
    pub foreign_links: Vec<ForeignLink>,
    pub problems: Vec<Problem>,
}

impl File {
    /// The root group.
    pub fn root(&self) -> &Object {
        // `read` always puts the root first; an empty list cannot be built.
        static EMPTY: Object = Object {
            path: String::new(),
            address: 0,
            kind: ObjectKind::Group,
            attributes: Vec::new(),
        };
        self.objects.first().unwrap_or(&EMPTY)
    }

    pub fn object(&self, path: &str) -> Option<&Object> {
        self.objects.iter().find(|o| o.path == path)
    }

    /// Whether everything reachable was read without a problem.
    pub fn fully_read(&self) -> bool {
        self.problems.is_empty()
    }

    pub fn datasets(&self) -> impl Iterator<Item = &Object> {
        self.objects
            .iter()
            .filter(|o| matches!(o.kind, ObjectKind::Dataset { .. }))
    }
}

/// Whether `prefix` starts with the HDF5 signature at offset 0 or at a user-block offset within it.
pub fn looks_like_hdf5(prefix: &[u8]) -> bool {
    let mut at = 0usize;
    loop {
        match prefix.get(at..at + 8) {
            Some(bytes) if bytes == SIGNATURE => return true,
            Some(_) => {}
            None => return false,
        }
        at = if at == 0 { 512 } else { at * 2 };
    }
}

/// Reads the structure of the HDF5 file in `src` (`size` bytes).
pub fn read<R: std::io::Read + std::io::Seek + ?Sized>(
    src: &mut R,
    size: u64,
    limits: &Limits,
) -> Result<File, Error> {
    let mut adapter = io::Adapter(src);
    let mut source = Source::new(&mut adapter, size, limits);
    let (signature_offset, version, root) = superblock(&mut source)?;
    let mut file = File {
        superblock_version: version,
        signature_offset,
        objects: Vec::new(),
        foreign_links: Vec::new(),
        problems: Vec::new(),
    };
    walk(&mut source, root, &mut file)?;
    Ok(file)
}

/// Finds and parses the superblock; returns where it is, its version and the root's object header.
fn superblock(src: &mut Source<'_>) -> Result<(u64, u8, u64), Error> {
    let mut at = 0u64;
    let found = loop {
        if at.saturating_add(8) > src.size {
            return Err(Error::NoSuperblock);
        }
        if src.read_abs(at, 8, "superblock")? == SIGNATURE {
            break at;
        }
        at = if at == 0 { 512 } else { at.saturating_mul(2) };
    };
    let head = src.read_up_to(found, 256, "superblock")?;
    let mut c = Cursor::new(&head, "superblock");
    c.skip(8)?;
    let version = c.u8()?;
    let (offset_size, length_size) = match version {
        0 | 1 => {
            c.skip(4)?;
            let o = c.u8()?;
            let l = c.u8()?;
            c.skip(1 + 4 + 4)?;
            if version == 1 {
                c.skip(4)?;
            }
            (o, l)
        }
        2 | 3 => {
            let o = c.u8()?;
            let l = c.u8()?;
            c.skip(1)?;
            (o, l)
        }
        v => return Err(Error::Unsupported(format!("superblock version {v}"))),
    };
    if ![2, 4, 8].contains(&offset_size) || ![2, 4, 8].contains(&length_size) {
        return Err(Error::Malformed(format!(
            "offset size {offset_size}, length size {length_size}"
        )));
    }
    src.offset_size = offset_size;
    src.length_size = length_size;
    let o = usize::from(offset_size);
    let base = c.uint(o)?;
    let root = match version {
        0 | 1 => {
            c.skip(3 * o)?; // free space, end of file, driver information
            c.skip(o)?; // root link name offset
            c.uint(o)?
        }
        _ => {
            c.skip(2 * o)?; // superblock extension, end of file
            c.uint(o)?
        }
    };
    // Addresses are relative to the base address; like the library, trust the superblock's own
    // position over the stored value (they differ only in files moved behind a user block).
    let _ = base;
    src.base = found;
    Ok((found, version, root))
}

fn walk(src: &mut Source<'_>, root: u64, file: &mut File) -> Result<(), Error> {
    let mut visited = HashSet::new();
    let mut queue = VecDeque::from([(root, "/".to_string(), 0usize)]);
    let mut first = true;
    while let Some((address, path, depth)) = queue.pop_front() {
        if !visited.insert(address) {
            continue; // a hard link to an object already read
        }
        if file.objects.len() >= src.limits.max_objects {
            file.problems.push(Problem {
                path,
                message: format!("more than {} objects", src.limits.max_objects),
            });
            break;
        }
        let messages = match object::read_messages(src, address) {
            Ok(m) => m,
            Err(e) if first => return Err(e),
            Err(e) => {
                file.problems.push(Problem {
                    path,
                    message: format!("object header: {e}"),
                });
                continue;
            }
        };
        first = false;
        let mut object = Object {
            path: path.clone(),
            address,
            kind: kind_of(src, &messages),
            attributes: Vec::new(),
        };
        read_attributes(src, &messages, &mut object, &mut file.problems);
        if object.kind == ObjectKind::Group {
            match members(src, &messages, &path, &mut file.foreign_links) {
                Ok(children) if depth + 1 > src.limits.max_depth && !children.is_empty() => {
                    file.problems.push(Problem {
                        path: path.clone(),
                        message: format!("groups nested deeper than {}", src.limits.max_depth),
                    });
                }
                Ok(children) => {
                    for (name, child) in children {
                        let child_path = if path == "/" {
                            format!("/{name}")
                        } else {
                            format!("{path}/{name}")
                        };
                        queue.push_back((child, child_path, depth + 1));
                    }
                }
                Err(e) => file.problems.push(Problem {
                    path: path.clone(),
                    message: format!("group members: {e}"),
                }),
            }
        }
        file.objects.push(object);
    }
    Ok(())
}

fn kind_of(src: &Source<'_>, messages: &[Message]) -> ObjectKind {
    let has = |kind| messages.iter().any(|m| m.kind == kind);
    if has(MSG_LAYOUT) || (has(MSG_DATASPACE) && has(MSG_DATATYPE)) {
        let unshared = |kind| {
            messages
                .iter()
                .find(|m| m.kind == kind && m.flags & FLAG_SHARED == 0)
        };
        ObjectKind::Dataset {
            datatype: unshared(MSG_DATATYPE).and_then(|m| types::parse_datatype(&m.data).ok()),
            shape: unshared(MSG_DATASPACE)
                .and_then(|m| types::parse_dataspace(&m.data, src.length_size).ok())
                .flatten(),
        }
    } else if has(MSG_DATATYPE) {
        ObjectKind::Other
    } else {
        ObjectKind::Group
    }
}

fn read_attributes(
    src: &mut Source<'_>,
    messages: &[Message],
    object: &mut Object,
    problems: &mut Vec<Problem>,
) {
    let mut problem = |message: String| {
        problems.push(Problem {
            path: object.path.clone(),
            message,
        })
    };
    for message in messages {
        match message.kind {
            MSG_ATTRIBUTE if message.flags & FLAG_SHARED != 0 => {
                problem("shared attribute message (stored in a shared-message table)".into())
            }
            MSG_ATTRIBUTE => match types::parse_attribute(src, &message.data) {
                Ok(attribute) => object.attributes.push(attribute),
                Err(e) => problem(format!("attribute: {e}")),
            },
            MSG_ATTRIBUTE_INFO => match dense_attributes(src, &message.data) {
                Ok(attributes) => object.attributes.extend(attributes),
                Err(e) => problem(format!("dense attribute storage: {e}")),
            },
            _ => {}
        }
    }
}

/// Attributes stored in a fractal heap, indexed by a v2 B-tree of names.
fn dense_attributes(src: &mut Source<'_>, info: &[u8]) -> Result<Vec<Attribute>, Error> {
    let mut c = Cursor::new(info, "attribute info message");
    let _version = c.u8()?;
    let flags = c.u8()?;
    if flags & 0x01 != 0 {
        c.skip(2)?;
    }
    let o = usize::from(src.offset_size);
    let heap_address = c.uint(o)?;
    let names = c.uint(o)?;
    if src.is_undefined(heap_address) || src.is_undefined(names) {
        return Ok(Vec::new());
    }
    let heap = heap::FractalHeap::open(src, heap_address)?;
    let (_, records) = btree::v2_records(src, names)?;
    let mut out = Vec::new();
    for record in records {
        // Attribute name records: heap ID (8 bytes), message flags, creation order, name hash.
        let id = record
            .get(..heap.id_len.min(8))
            .ok_or(Error::Truncated("B-tree record"))?;
        if record.get(8).is_some_and(|f| f & FLAG_SHARED != 0) {
            return Err(Error::Unsupported(
                "shared attribute in dense storage".into(),
            ));
        }
        let message = heap.get(src, id)?;
        out.push(types::parse_attribute(src, &message)?);
    }
    Ok(out)
}

/// The members of a group: `(name, object header address)` of its hard links.
fn members(
    src: &mut Source<'_>,
    messages: &[Message],
    path: &str,
    foreign: &mut Vec<ForeignLink>,
) -> Result<Vec<(String, u64)>, Error> {
    let mut out = Vec::new();
    for message in messages {
        match message.kind {
            MSG_SYMBOL_TABLE => {
                let mut c = Cursor::new(&message.data, "symbol table message");
                let o = usize::from(src.offset_size);
                let tree = c.uint(o)?;
                let heap = c.uint(o)?;
                out.extend(btree::symbol_table_members(src, tree, heap)?);
            }
            MSG_LINK => {
                if let Some(hard) = link(src, &message.data, path, foreign)? {
                    out.push(hard);
                }
            }
            MSG_LINK_INFO => {
                let mut c = Cursor::new(&message.data, "link info message");
                let _version = c.u8()?;
                let flags = c.u8()?;
                if flags & 0x01 != 0 {
                    c.skip(8)?;
                }
                let o = usize::from(src.offset_size);
                let heap_address = c.uint(o)?;
                let names = c.uint(o)?;
                if src.is_undefined(heap_address) || src.is_undefined(names) {
                    continue;
                }
                let heap = heap::FractalHeap::open(src, heap_address)?;
                let (_, records) = btree::v2_records(src, names)?;
                for record in records {
                    // Link name records: name hash (4 bytes), heap ID.
                    let id = record.get(4..).ok_or(Error::Truncated("B-tree record"))?;
                    let id = id.get(..heap.id_len.min(id.len())).unwrap_or(id);
                    let encoded = heap.get(src, id)?;
                    if let Some(hard) = link(src, &encoded, path, foreign)? {
                        out.push(hard);
                    }
                }
            }
            _ => {}
        }
        if out.len() > src.limits.max_objects {
            return Err(Error::Limit("too many group members".into()));
        }
    }
    Ok(out)
}

/// Decodes a link message: a hard link's target, or records a soft/external link.
fn link(
    src: &Source<'_>,
    data: &[u8],
    path: &str,
    foreign: &mut Vec<ForeignLink>,
) -> Result<Option<(String, u64)>, Error> {
    let mut c = Cursor::new(data, "link message");
    let version = c.u8()?;
    if version != 1 {
        return Err(Error::Unsupported(format!(
            "link message version {version}"
        )));
    }
    let flags = c.u8()?;
    let link_type = if flags & 0x08 != 0 { c.u8()? } else { 0 };
    if flags & 0x04 != 0 {
        c.skip(8)?;
    }
    if flags & 0x10 != 0 {
        c.skip(1)?;
    }
    let name_len = c.uint(1usize << (flags & 0x03))?;
    let name_len = usize::try_from(name_len).map_err(|_| Error::Truncated("link name"))?;
    let name = String::from_utf8_lossy(c.take(name_len)?).into_owned();
    let full = if path == "/" {
        format!("/{name}")
    } else {
        format!("{path}/{name}")
    };
    match link_type {
        0 => Ok(Some((name, c.uint(usize::from(src.offset_size))?))),
        1 | 64 => {
            let len = usize::from(c.u16()?);
            let raw = c.take(len)?;
            let target = if link_type == 1 {
                format!(
                    "soft:{}",
                    String::from_utf8_lossy(raw.split(|b| *b == 0).next().unwrap_or(raw))
                )
            } else {
                // version/flags byte, then file name and object path, each NUL-terminated.
                let parts: Vec<String> = raw
                    .get(1..)
                    .unwrap_or(&[])
                    .split(|b| *b == 0)
                    .take(2)
                    .map(|p| String::from_utf8_lossy(p).into_owned())
                    .collect();
                format!("external:{}", parts.join(":"))
            };
            foreign.push(ForeignLink { path: full, target });
            Ok(None)
        }
        other => {
            foreign.push(ForeignLink {
                path: full,
                target: format!("user-defined link type {other}"),
            });
            Ok(None)
        }
    }
}
