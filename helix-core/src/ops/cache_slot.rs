//! One cached value with a time to live, for configuration read on every call. Clearing
//! starts a new generation; a read that began before a clear cannot put back what it
//! read (it may predate the change that caused the clear).

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The slot.
#[derive(Debug)]
pub(crate) struct CacheSlot<T> {
    state: Mutex<(u64, Option<(Instant, T)>)>,
}

impl<T> Default for CacheSlot<T> {
    fn default() -> Self {
        CacheSlot {
            state: Mutex::new((0, None)),
        }
    }
}

impl<T: Clone> CacheSlot<T> {
    /// The value if younger than `ttl`; otherwise the generation to [`put`](Self::put) a
    /// fresh read in.
    pub(crate) fn get(&self, ttl: Duration) -> Result<T, u64> {
        let st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        match &st.1 {
            Some((at, v)) if at.elapsed() < ttl => Ok(v.clone()),
            _ => Err(st.0),
        }
    }

    /// Stores a value read in `generation` (dropped if the slot was cleared since).
    pub(crate) fn put(&self, generation: u64, value: T) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if st.0 == generation {
            st.1 = Some((Instant::now(), value));
        }
    }

    /// Forgets the value.
    pub(crate) fn clear(&self) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        st.0 += 1;
        st.1 = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_from_before_a_clear_is_not_put_back() {
        let slot = CacheSlot::<u32>::default();
        let ttl = Duration::from_secs(60);
        let generation = slot.get(ttl).unwrap_err();
        slot.clear();
        slot.put(generation, 1);
        let generation = slot.get(ttl).unwrap_err();
        slot.put(generation, 2);
        assert_eq!(slot.get(ttl), Ok(2));
        assert!(slot.get(Duration::ZERO).is_err());
    }
}
