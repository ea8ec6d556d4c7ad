//! The embedded store's state-file decoder on any bytes: it never panics, and what it
//! reports agrees with an independent reading of the documented format (two 4 KiB slots,
//! each a 32-byte record: magic `MSEQ`, version 1, generation, index, 4 reserved bytes,
//! CRC-32 of the first 28).
#![no_main]

use libfuzzer_sys::fuzz_target;
use mathapi_sequence::decode_state_file;

fuzz_target!(|bytes: &[u8]| {
    let decoded = decode_state_file(bytes);
    let records: Vec<Option<(u64, u64)>> = (0..2).map(|slot| record(bytes, slot)).collect();
    let newest = records
        .iter()
        .flatten()
        .copied()
        .max_by_key(|(generation, _)| *generation);
    assert_eq!(
        decoded.newest.map(|(generation, _)| generation),
        newest.map(|(g, _)| g)
    );
    if let Some((generation, index)) = decoded.newest {
        assert_eq!(records[decoded.slot as usize], Some((generation, index)));
    }
    if let Some(damaged) = decoded.damaged_slot {
        assert!(
            records[damaged as usize].is_none(),
            "a valid slot reported damaged"
        );
    }
    // Every slot that is neither valid nor all zeros is reported (only the last one is kept).
    let damaged: Vec<u64> = (0..2u64)
        .filter(|&slot| records[slot as usize].is_none() && !never_written(bytes, slot))
        .collect();
    assert_eq!(decoded.damaged_slot, damaged.last().copied());
});

fn slot_bytes(bytes: &[u8], slot: u64) -> &[u8] {
    let start = (slot * 4096) as usize;
    let raw = bytes.get(start..).unwrap_or_default();
    &raw[..raw.len().min(32)]
}

fn never_written(bytes: &[u8], slot: u64) -> bool {
    let raw = slot_bytes(bytes, slot);
    raw.len() == 32 && raw.iter().all(|&b| b == 0)
}

fn record(bytes: &[u8], slot: u64) -> Option<(u64, u64)> {
    let raw = slot_bytes(bytes, slot);
    if raw.len() < 32 || &raw[0..4] != b"MSEQ" || raw[4..8] != 1u32.to_le_bytes() {
        return None;
    }
    let crc = u32::from_le_bytes(raw[28..32].try_into().ok()?);
    (crc == crc32fast::hash(&raw[..28])).then(|| {
        (
            u64::from_le_bytes(raw[8..16].try_into().unwrap()),
            u64::from_le_bytes(raw[16..24].try_into().unwrap()),
        )
    })
}
