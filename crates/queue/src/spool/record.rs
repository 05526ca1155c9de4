//! The on-disk record frame, `len u32 | crc32 u32 | id u64 | body` (the CRC covers id and body),
//! and how a reader finds its way past a damaged record.
//!
//! Damage costs only the damaged bytes: after a record that fails its length or CRC check, the
//! reader resynchronises at the next offset where a whole, CRC-valid record with a plausible id
//! starts. Only damage with nothing valid after it is a torn tail (a write cut by a crash).

/// Bytes before a record's body.
pub(super) const HEADER: usize = 16;
/// Largest record body accepted when reading (events are capped far below at ingest).
pub(super) const MAX_RECORD: usize = 64 << 20;

/// Appends the frame of record `id` to `out`.
pub(super) fn frame(id: u64, body: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(&checksum(id, body).to_le_bytes());
    out.extend_from_slice(&id.to_le_bytes());
    out.extend_from_slice(body);
}

fn checksum(id: u64, body: &[u8]) -> u32 {
    let mut crc = crc32fast::Hasher::new();
    crc.update(&id.to_le_bytes());
    crc.update(body);
    crc.finalize()
}

/// The fields of a record header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Header {
    pub len: usize,
    pub crc: u32,
    pub id: u64,
}

impl Header {
    pub(super) fn parse(bytes: &[u8; HEADER]) -> Header {
        let word = |at: usize| {
            u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
        };
        let mut id = [0u8; 8];
        id.copy_from_slice(&bytes[8..16]);
        Header {
            len: word(0) as usize,
            crc: word(4),
            id: u64::from_le_bytes(id),
        }
    }

    /// Bytes the whole record occupies.
    pub(super) fn size(&self) -> usize {
        HEADER + self.len
    }

    /// Whether `body` is the body this header announces.
    pub(super) fn matches(&self, body: &[u8]) -> bool {
        body.len() == self.len && checksum(self.id, body) == self.crc
    }
}

/// One step of a walk over a segment's bytes.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Parsed<'a> {
    /// A valid record.
    Record { id: u64, body: &'a [u8] },
    /// No bytes left.
    End,
    /// The bytes here are not a valid record (short, out of range or failing the CRC).
    Damaged,
}

/// Parses the record at the start of `bytes`.
pub(super) fn parse(bytes: &[u8]) -> Parsed<'_> {
    if bytes.is_empty() {
        return Parsed::End;
    }
    let Some(header) = bytes.first_chunk::<HEADER>().map(Header::parse) else {
        return Parsed::Damaged;
    };
    if header.len > MAX_RECORD {
        return Parsed::Damaged;
    }
    match bytes.get(HEADER..header.size()) {
        Some(body) if header.matches(body) => Parsed::Record {
            id: header.id,
            body,
        },
        _ => Parsed::Damaged,
    }
}

/// The offset (at least 1) of the first valid record in `bytes` whose id follows `last_id`, the
/// id of the last good record before the damage at the start of `bytes`; `None` when nothing
/// valid follows (a torn tail, or damage up to the end of what may be read).
///
/// A candidate must have an id after `last_id` and no further than the bytes left could hold
/// (every record takes more than a header), a length in range, and a matching CRC; the id bound
/// rejects almost every offset before the CRC is computed.
pub(super) fn resync(bytes: &[u8], last_id: u64) -> Option<usize> {
    (1..bytes.len()).find(|&start| {
        let rest = &bytes[start..];
        let Some(header) = rest.first_chunk::<HEADER>().map(Header::parse) else {
            return false;
        };
        let most_ids = (rest.len() / HEADER) as u64;
        header.id > last_id
            && header.id <= last_id.saturating_add(1 + most_ids)
            && header.size() <= rest.len()
            && matches!(parse(rest), Parsed::Record { .. })
    })
}

/// What a walk over a whole segment found.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Walk {
    /// Id of the last valid record (0 when there is none).
    pub last_id: u64,
    /// Where the last valid record ends: everything after it is damaged (or absent).
    pub valid_end: u64,
    /// Damaged stretches followed by valid records: skipped, not cut.
    pub damaged: Vec<u64>,
}

/// Walks every record of a segment whose ids follow `before_id`, skipping damaged stretches.
pub(super) fn walk(bytes: &[u8], before_id: u64) -> Walk {
    let mut walk = Walk {
        last_id: 0,
        valid_end: 0,
        damaged: Vec::new(),
    };
    let mut last_id = before_id;
    let mut offset = 0usize;
    loop {
        match parse(&bytes[offset..]) {
            Parsed::Record { id, body } => {
                offset += HEADER + body.len();
                last_id = id;
                walk.last_id = id;
                walk.valid_end = offset as u64;
            }
            Parsed::End => break,
            Parsed::Damaged => match resync(&bytes[offset..], last_id) {
                Some(skip) => {
                    walk.damaged.push(offset as u64);
                    offset += skip;
                }
                None => break,
            },
        }
    }
    walk
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(ids: std::ops::RangeInclusive<u64>) -> (Vec<u8>, Vec<usize>) {
        let mut bytes = Vec::new();
        let mut starts = Vec::new();
        for id in ids {
            starts.push(bytes.len());
            frame(id, format!("body of record {id}").as_bytes(), &mut bytes);
        }
        (bytes, starts)
    }

    #[test]
    fn a_clean_segment_walks_to_its_end() {
        let (bytes, _) = records(1..=5);
        let walk = walk(&bytes, 0);
        assert_eq!(walk.last_id, 5);
        assert_eq!(walk.valid_end, bytes.len() as u64);
        assert!(walk.damaged.is_empty());
    }

    #[test]
    fn a_damaged_middle_record_is_skipped_and_the_rest_is_found() {
        for damage in [0, 3, 9, HEADER + 2] {
            let (mut bytes, starts) = records(1..=5);
            bytes[starts[2] + damage] ^= 0x5a;
            let walk = walk(&bytes, 0);
            assert_eq!(
                walk.damaged,
                vec![starts[2] as u64],
                "damage at byte {damage}"
            );
            assert_eq!(walk.last_id, 5);
            assert_eq!(walk.valid_end, bytes.len() as u64);
        }
    }

    #[test]
    fn resync_lands_on_the_next_record() {
        let (mut bytes, starts) = records(1..=4);
        bytes[starts[1] + HEADER] ^= 1;
        assert_eq!(parse(&bytes[starts[1]..]), Parsed::Damaged);
        assert_eq!(resync(&bytes[starts[1]..], 1), Some(starts[2] - starts[1]));
        // An old id (already passed) is not a place to resume.
        assert_eq!(resync(&bytes[starts[1]..], 3), Some(starts[3] - starts[1]));
        assert_eq!(resync(&bytes[starts[1]..], 4), None);
    }

    #[test]
    fn only_damage_with_nothing_valid_after_it_is_a_torn_tail() {
        let (mut bytes, starts) = records(1..=3);
        bytes.truncate(bytes.len() - 4);
        let walk = walk(&bytes, 0);
        assert_eq!(walk.last_id, 2);
        assert_eq!(walk.valid_end, starts[2] as u64);
        assert!(walk.damaged.is_empty());
    }

    #[test]
    fn garbage_never_panics() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for len in [0, 1, 15, 16, 17, 100, 4096] {
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    state as u8
                })
                .collect();
            let walk = walk(&bytes, 0);
            assert!(walk.valid_end <= len as u64);
        }
        // A length field pointing far beyond the end.
        let mut bytes = vec![0xff; HEADER];
        bytes[8..].fill(0);
        assert_eq!(parse(&bytes), Parsed::Damaged);
    }
}
