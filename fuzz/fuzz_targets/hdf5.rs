#![no_main]
//! The HDF5 structure reader on arbitrary input (crate: mlvet-hdf5), as a bare file and behind
//! a signature so that the superblock and everything after it are reached.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = mlvet_hdf5::Limits {
        max_total_read: 16 * 1024 * 1024,
        ..mlvet_hdf5::Limits::default()
    };
    let _ = mlvet_hdf5::read(&mut std::io::Cursor::new(data), data.len() as u64, &limits);
    let mut bytes = mlvet_hdf5::SIGNATURE.to_vec();
    bytes.extend_from_slice(data);
    let _ = mlvet_hdf5::read(&mut std::io::Cursor::new(&bytes), bytes.len() as u64, &limits);
});
