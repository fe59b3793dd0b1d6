//! The pickle opcodes (protocols 0–5), as listed in CPython's `Lib/pickletools.py`.

/// How an opcode's argument is encoded in the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Arg {
    None,
    /// `\n`-terminated line(s): the count of lines.
    Lines(u8),
    /// Fixed number of bytes.
    Fixed(u8),
    /// Length prefix of `n` bytes (little-endian) followed by that many bytes.
    Counted(u8),
}

macro_rules! opcodes {
    ($( $name:ident = $byte:expr, $arg:expr; )*) => {
        $( pub(crate) const $name: u8 = $byte; )*

        /// The opcode's name and argument encoding, or `None` for a byte that is no opcode.
        pub(crate) fn describe(op: u8) -> Option<(&'static str, Arg)> {
            match op {
                $( $byte => Some((stringify!($name), $arg)), )*
                _ => None,
            }
        }
    };
}

opcodes! {
    MARK = b'(', Arg::None;
    STOP = b'.', Arg::None;
    POP = b'0', Arg::None;
    POP_MARK = b'1', Arg::None;
    DUP = b'2', Arg::None;
    FLOAT = b'F', Arg::Lines(1);
    INT = b'I', Arg::Lines(1);
    BININT = b'J', Arg::Fixed(4);
    BININT1 = b'K', Arg::Fixed(1);
    LONG = b'L', Arg::Lines(1);
    BININT2 = b'M', Arg::Fixed(2);
    NONE = b'N', Arg::None;
    PERSID = b'P', Arg::Lines(1);
    BINPERSID = b'Q', Arg::None;
    REDUCE = b'R', Arg::None;
    STRING = b'S', Arg::Lines(1);
    BINSTRING = b'T', Arg::Counted(4);
    SHORT_BINSTRING = b'U', Arg::Counted(1);
    UNICODE = b'V', Arg::Lines(1);
    BINUNICODE = b'X', Arg::Counted(4);
    APPEND = b'a', Arg::None;
    BUILD = b'b', Arg::None;
    GLOBAL = b'c', Arg::Lines(2);
    DICT = b'd', Arg::None;
    EMPTY_DICT = b'}', Arg::None;
    APPENDS = b'e', Arg::None;
    GET = b'g', Arg::Lines(1);
    BINGET = b'h', Arg::Fixed(1);
    INST = b'i', Arg::Lines(2);
    LONG_BINGET = b'j', Arg::Fixed(4);
    LIST = b'l', Arg::None;
    EMPTY_LIST = b']', Arg::None;
    OBJ = b'o', Arg::None;
    PUT = b'p', Arg::Lines(1);
    BINPUT = b'q', Arg::Fixed(1);
    LONG_BINPUT = b'r', Arg::Fixed(4);
    SETITEM = b's', Arg::None;
    TUPLE = b't', Arg::None;
    EMPTY_TUPLE = b')', Arg::None;
    SETITEMS = b'u', Arg::None;
    BINFLOAT = b'G', Arg::Fixed(8);
    PROTO = 0x80, Arg::Fixed(1);
    NEWOBJ = 0x81, Arg::None;
    EXT1 = 0x82, Arg::Fixed(1);
    EXT2 = 0x83, Arg::Fixed(2);
    EXT4 = 0x84, Arg::Fixed(4);
    TUPLE1 = 0x85, Arg::None;
    TUPLE2 = 0x86, Arg::None;
    TUPLE3 = 0x87, Arg::None;
    NEWTRUE = 0x88, Arg::None;
    NEWFALSE = 0x89, Arg::None;
    LONG1 = 0x8a, Arg::Counted(1);
    LONG4 = 0x8b, Arg::Counted(4);
    BINBYTES = b'B', Arg::Counted(4);
    SHORT_BINBYTES = b'C', Arg::Counted(1);
    SHORT_BINUNICODE = 0x8c, Arg::Counted(1);
    BINUNICODE8 = 0x8d, Arg::Counted(8);
    BINBYTES8 = 0x8e, Arg::Counted(8);
    EMPTY_SET = 0x8f, Arg::None;
    ADDITEMS = 0x90, Arg::None;
    FROZENSET = 0x91, Arg::None;
    NEWOBJ_EX = 0x92, Arg::None;
    STACK_GLOBAL = 0x93, Arg::None;
    MEMOIZE = 0x94, Arg::None;
    FRAME = 0x95, Arg::Fixed(8);
    BYTEARRAY8 = 0x96, Arg::Counted(8);
    NEXT_BUFFER = 0x97, Arg::None;
    READONLY_BUFFER = 0x98, Arg::None;
}

/// The highest protocol CPython's unpickler accepts in `PROTO`.
pub(crate) const HIGHEST_PROTOCOL: u8 = 5;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn there_are_68_opcodes() {
        assert_eq!((0u8..=255).filter(|&b| describe(b).is_some()).count(), 68);
        assert_eq!(describe(STACK_GLOBAL).map(|d| d.0), Some("STACK_GLOBAL"));
        assert_eq!(describe(b'x'), None);
    }
}
