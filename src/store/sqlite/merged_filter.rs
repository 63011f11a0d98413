//! Which keys `access_token_ids` may hold, in the store thread's memory, so that a new
//! token's duplicate check reads that table only when it might find something.
//!
//! Every token's insert asks whether its hash is taken (`writes::insert_access_token`).
//! The keys of `access_token_ids` are random, so once the table outgrows the page cache
//! that check read one of its leaf pages from the file for almost every token: the check
//! took 22.5 % of the store thread's samples in a profile of an exchange on a 438 MB
//! database, most of it in that lookup (docs/performance.md). A Bloom filter over the
//! table's keys answers "absent" for nearly all of them without a read.
//!
//! It never answers "absent" for a key the table holds: it is filled from the table when
//! the store opens (`RecentIds::load`) and with every key merged after (`Merger`), the only
//! writer of that table while the store runs. Swept tokens leave their keys behind; those
//! only cost a read, as does a key of another hash with the same bits. A key that is not
//! 12 ASCII characters (the table's key is SQLite's `substr(token_hash, 1, 12)`, counted
//! in characters) is never judged: such a lookup always reads the table.

use std::hint::black_box;

/// Bits in the filter: 4 MiB. With `PROBES` probes a key, a new key finds all its bits set
/// by chance about 0.2 % of the time with 2 million keys in the filter and 14 % with 8
/// million, after which the filter saves less and less, and nothing more goes wrong.
const BITS: usize = 1 << 25;
const PROBES: u64 = 4;
/// The table's key length, in characters (`migrations/sqlite/0003_access_token_ids.sql`).
const KEY_CHARS: usize = 12;

#[derive(Debug)]
pub(super) struct MergedFilter {
    words: Vec<u64>,
}

impl MergedFilter {
    /// An empty filter whose memory is all resident from the start, so that filling it
    /// later does not show as the process growing.
    pub(super) fn new() -> Self {
        let mut words = vec![0u64; BITS / 64];
        // A zeroed allocation arrives as pages the kernel has not yet mapped; one write
        // each maps them. `black_box` keeps the compiler from dropping writes of zero.
        for page in words.chunks_mut(4096 / 8) {
            page[0] = black_box(0);
        }
        MergedFilter { words }
    }

    /// Records `key`, a key of `access_token_ids` (its `hash_prefix`). A key that is not 12
    /// ASCII characters is left out: such keys are never judged (`may_hold`).
    pub(super) fn insert(&mut self, key: &[u8]) {
        if let Some(hash) = key_hash(key) {
            for bit in probes(hash) {
                self.words[bit / 64] |= 1 << (bit % 64);
            }
        }
    }

    /// Whether `access_token_ids` may hold the key of `token_hash`; `false` means it does not.
    pub(super) fn may_hold(&self, token_hash: &str) -> bool {
        let Some(hash) = token_hash.as_bytes().get(..KEY_CHARS).and_then(key_hash) else {
            return true;
        };
        probes(hash).all(|bit| self.words[bit / 64] & (1 << (bit % 64)) != 0)
    }
}

/// A well-mixed 64-bit hash of a 12-character ASCII key, or `None` for any other key.
fn key_hash(key: &[u8]) -> Option<u64> {
    if key.len() != KEY_CHARS || !key.is_ascii() {
        return None;
    }
    let (high, low) = key.split_at(8);
    let mut folded = u64::from_le_bytes(high.try_into().expect("8 bytes"));
    folded ^= u64::from(u32::from_le_bytes(low.try_into().expect("4 bytes"))).rotate_left(29);
    // The finaliser of SplitMix64: hex digits carry 4 random bits a byte, spread here over
    // all 64.
    folded = (folded ^ (folded >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    folded = (folded ^ (folded >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    Some(folded ^ (folded >> 31))
}

/// The key's bits: `h1 + i * h2` for i in 0..PROBES (Kirsch and Mitzenmacher, "Less
/// Hashing, Same Performance", 2006), from the two halves of its hash.
fn probes(hash: u64) -> impl Iterator<Item = usize> {
    let (h1, h2) = (hash >> 32, (hash & 0xffff_ffff) | 1);
    (0..PROBES).map(move |i| (h1.wrapping_add(i.wrapping_mul(h2)) as usize) % BITS)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The 12 hex characters of key `n`, spread over the key space as token hashes are.
    fn key(n: u64) -> String {
        format!("{:012x}", n.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 16)
    }

    #[test]
    fn every_recorded_key_is_held_and_few_others_seem_so() {
        let mut filter = MergedFilter::new();
        let recorded = 1_000_000;
        for n in 0..recorded {
            filter.insert(key(n).as_bytes());
        }
        // A token's whole hash is looked up; its first 12 characters are the key.
        assert!((0..recorded).all(|n| filter.may_hold(&format!("{}{:052}", key(n), 7))));
        let others = 100_000;
        let seeming = (recorded..recorded + others)
            .filter(|&n| filter.may_hold(&key(n)))
            .count();
        // About 0.03 % are expected with a million keys; 1 % would be a broken hash.
        assert!(seeming < others as usize / 100, "{seeming} of {others}");
    }

    #[test]
    fn an_empty_filter_holds_nothing_of_the_right_shape() {
        let filter = MergedFilter::new();
        assert!((0..1000).all(|n| !filter.may_hold(&key(n))));
    }

    #[test]
    fn keys_it_cannot_judge_are_always_looked_up() {
        let mut filter = MergedFilter::new();
        // SQLite counts `substr` in characters: the key of a hash starting "é" is 13 bytes.
        filter.insert("é12345678901".as_bytes());
        assert!(filter.may_hold("é123456789012345"));
        assert!(filter.may_hold("short"));
        assert!(!filter.may_hold("0123456789ab-and-the-rest"));
    }
}
