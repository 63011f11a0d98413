//! The OS CSPRNG, read a block at a time per thread (SPEC §6: codes and tokens come from
//! the OS CSPRNG).
//!
//! An exchange needs 16 random bytes and a minted code 32, and one `getrandom` system
//! call for each was about 1.4 % of the server's CPU under load (docs/performance.md). So
//! each thread reads `BLOCK` bytes at once and hands them out in order, each byte once;
//! the bytes handed out are overwritten with zeros at once, so the block never holds a
//! credential already issued. The bytes are the kernel's own, unchanged: no generator of
//! ours stands between it and a token. The service never forks, so no two processes can
//! share a block.

use std::cell::RefCell;

/// Bytes read from the kernel at once: 64 access tokens or 32 authorization codes.
const BLOCK: usize = 1024;

/// One thread's block of kernel randomness, and how much of it is handed out.
struct Pool {
    block: [u8; BLOCK],
    used: usize,
}

impl Pool {
    const fn new() -> Self {
        // Starts empty: the first request reads a block.
        Pool {
            block: [0; BLOCK],
            used: BLOCK,
        }
    }

    /// Fills `out` from the block, reading a new one first when too little is left. A
    /// request larger than a block goes straight to the kernel.
    fn fill(&mut self, out: &mut [u8], read: impl FnOnce(&mut [u8])) {
        if out.len() > BLOCK {
            read(out);
            return;
        }
        if BLOCK - self.used < out.len() {
            read(&mut self.block);
            self.used = 0;
        }
        let taken = &mut self.block[self.used..self.used + out.len()];
        out.copy_from_slice(taken);
        taken.fill(0);
        self.used += out.len();
    }
}

thread_local! {
    static POOL: RefCell<Pool> = const { RefCell::new(Pool::new()) };
}

fn from_kernel(out: &mut [u8]) {
    getrandom::fill(out).expect("the OS random number generator is available");
}

/// `N` bytes from the kernel's CSPRNG, never handed out before.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    POOL.with_borrow_mut(|pool| pool.fill(&mut bytes, from_kernel));
    bytes
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    /// A pool over a stand-in for the kernel that counts its reads and fills each block
    /// with the read's number.
    struct Counted {
        pool: Pool,
        reads: u8,
    }

    impl Counted {
        fn new() -> Self {
            Counted {
                pool: Pool::new(),
                reads: 0,
            }
        }

        fn take(&mut self, n: usize) -> Vec<u8> {
            let mut out = vec![0u8; n];
            let reads = &mut self.reads;
            self.pool.fill(&mut out, |block| {
                *reads += 1;
                block.fill(*reads);
            });
            out
        }
    }

    #[test]
    fn one_read_serves_a_block_and_the_next_read_starts_a_new_one() {
        let mut counted = Counted::new();
        for _ in 0..BLOCK / 16 {
            assert_eq!(counted.take(16), [1; 16]);
        }
        assert_eq!(counted.reads, 1);
        assert_eq!(counted.take(32), [2; 32]);
        assert_eq!(counted.reads, 2);
    }

    #[test]
    fn a_request_that_does_not_fit_what_is_left_reads_a_new_block() {
        let mut counted = Counted::new();
        counted.take(BLOCK - 8);
        assert_eq!(counted.take(16), [2; 16]);
        assert_eq!(counted.reads, 2);
    }

    #[test]
    fn bytes_handed_out_are_wiped_from_the_block() {
        let mut counted = Counted::new();
        counted.take(16);
        assert_eq!(&counted.pool.block[..16], &[0; 16]);
        assert_eq!(&counted.pool.block[16..], &[1; BLOCK - 16][..]);
    }

    #[test]
    fn a_request_larger_than_a_block_goes_to_the_kernel_alone() {
        let mut counted = Counted::new();
        assert!(counted.take(BLOCK + 1).iter().all(|&b| b == 1));
        assert_eq!(counted.reads, 1);
        assert_eq!(counted.pool.used, BLOCK, "the block was not read");
    }

    #[test]
    fn kernel_bytes_are_never_handed_out_twice() {
        let draws: HashSet<[u8; 16]> = (0..10 * BLOCK / 16).map(|_| random_bytes()).collect();
        assert_eq!(draws.len(), 10 * BLOCK / 16);
    }
}
