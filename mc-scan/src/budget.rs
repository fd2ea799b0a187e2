//! One memory budget for the member contents every job holds at once.
//!
//! YARA-X matches a whole slice, so a member is read into memory before it is scanned. With a
//! limit per job, `-j 8` on packages of 1000 MiB members held 8 GB; the jobs now share one
//! budget of `--max-member-size` bytes, and a job whose member does not fit waits for the others
//! to hand theirs back. No member is larger than the budget (larger ones are not read), so a
//! waiting job always gets its turn.

use std::sync::{Condvar, Mutex, PoisonError};

/// Bytes the jobs may hold together.
#[derive(Debug)]
pub struct Budget {
    capacity: u64,
    used: Mutex<u64>,
    returned: Condvar,
}

/// Bytes taken from a [`Budget`], handed back when dropped.
#[derive(Debug)]
pub struct Lease<'b> {
    budget: &'b Budget,
    bytes: u64,
}

impl Budget {
    /// A budget of `capacity` bytes.
    pub fn new(capacity: u64) -> Self {
        Self {
            capacity,
            used: Mutex::new(0),
            returned: Condvar::new(),
        }
    }

    /// The most one lease may take.
    pub fn capacity(&self) -> u64 {
        self.capacity
    }

    /// Takes `bytes` (at most [`Budget::capacity`]), waiting until they are free.
    pub fn take(&self, bytes: u64) -> Lease<'_> {
        let bytes = bytes.min(self.capacity);
        let mut used = self.used.lock().unwrap_or_else(PoisonError::into_inner);
        while *used + bytes > self.capacity {
            used = self
                .returned
                .wait(used)
                .unwrap_or_else(PoisonError::into_inner);
        }
        *used += bytes;
        Lease {
            budget: self,
            bytes,
        }
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        let mut used = self
            .budget
            .used
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        *used -= self.bytes;
        self.budget.returned.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use std::{
        sync::atomic::{AtomicU64, Ordering},
        thread,
    };

    use super::*;

    #[test]
    fn leases_together_never_exceed_the_capacity() {
        let budget = Budget::new(100);
        let held = AtomicU64::new(0);
        let peak = AtomicU64::new(0);
        thread::scope(|scope| {
            for _ in 0..8 {
                scope.spawn(|| {
                    for _ in 0..50 {
                        let _lease = budget.take(60);
                        let now = held.fetch_add(60, Ordering::SeqCst) + 60;
                        peak.fetch_max(now, Ordering::SeqCst);
                        thread::yield_now();
                        held.fetch_sub(60, Ordering::SeqCst);
                    }
                });
            }
        });
        assert_eq!(
            peak.load(Ordering::SeqCst),
            60,
            "one 60-byte lease at a time"
        );
        assert_eq!(budget.take(100).bytes, 100, "all returned");
    }
}
