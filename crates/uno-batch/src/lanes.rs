//! The worker's queues, called lanes: one per key with [`Builder::key_fn`], a single one
//! without. Each lane is batched as a batcher of its own would be (its own batches, its
//! own `max_concurrent_batches`, its own wait), while `max_pending`, the live count and
//! flushes stay the worker's.
//!
//! What this file owns and keeps true:
//!
//! - `queued` is the number of entries in all lanes together, cancelled ones included
//!   until they are skipped or swept out.
//! - A keyed lane exists only while it holds entries or runs a batch: [`Lanes::release`]
//!   frees it once it is idle, so a key seen once costs nothing afterwards. The single
//!   lane of an unkeyed batcher is never freed.
//! - The worker checks only the lanes that something happened to: each lane is checked
//!   on the turn after an entry arrived in it, one of its batches finished or its wait
//!   ran out, and every lane after a flush or close. An unkeyed batcher checks its lane
//!   on every turn, as it always did.
//! - A lane's wait is in `timers` once per change of its deadline; stale entries (an old
//!   deadline, a freed lane) are dropped when met.
//! - The key's own code (`Hash`, `Eq`, `Drop`) is user code running in the worker: a
//!   panic in it never leaves the index and the slots disagreeing. [`Lanes::slot_for`]
//!   hands the panic back for the item's caller; [`Lanes::release`] swallows it and
//!   keeps the lane.
//!
//! [`Builder::key_fn`]: crate::Builder::key_fn

use std::any::Any;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;

use tokio::time::Instant;

/// A key from [`Builder::key_fn`](crate::Builder::key_fn), its type erased so that the
/// batcher's types do not name it.
pub(crate) trait Key: Any + Send + Sync {
    fn eq_key(&self, other: &dyn Key) -> bool;
    fn hash_key(&self, state: &mut dyn Hasher);
    fn as_any(&self) -> &dyn Any;
}

impl<K: Hash + Eq + Send + Sync + 'static> Key for K {
    fn eq_key(&self, other: &dyn Key) -> bool {
        other.as_any().downcast_ref::<K>() == Some(self)
    }

    fn hash_key(&self, mut state: &mut dyn Hasher) {
        self.hash(&mut state);
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

impl PartialEq for dyn Key {
    fn eq(&self, other: &Self) -> bool {
        self.eq_key(other)
    }
}

impl Eq for dyn Key {}

impl Hash for dyn Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.hash_key(state);
    }
}

/// A lane's key, shared by the index and the lane (which needs it to free itself).
#[derive(Clone)]
struct LaneKey(Arc<dyn Key>);

impl PartialEq for LaneKey {
    fn eq(&self, other: &Self) -> bool {
        *self.0 == *other.0
    }
}

impl Eq for LaneKey {}

impl Hash for LaneKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
}

impl std::borrow::Borrow<dyn Key> for LaneKey {
    fn borrow(&self) -> &dyn Key {
        &*self.0
    }
}

/// One lane: its entries in the order they were accepted, and what decides when it
/// sends.
pub(crate) struct Lane<Q> {
    pub(crate) queue: VecDeque<Q>,
    /// The weights of `queue`'s entries added up, cancelled ones included until they
    /// are skipped or swept out, so it can run ahead of the live weight, never behind
    /// it. A `u128`, so that no number of `usize::MAX` weights can overflow it.
    pub(crate) weight: u128,
    /// How many of the lane's batches run.
    pub(crate) running: usize,
    /// When the lane's oldest entry has waited long enough, as last registered.
    deadline: Option<Instant>,
    /// Whether the lane is in `touched` already.
    touched: bool,
    /// `None` for the single lane of an unkeyed batcher.
    key: Option<LaneKey>,
}

impl<Q> Lane<Q> {
    fn new(key: Option<LaneKey>) -> Self {
        Self {
            queue: VecDeque::new(),
            weight: 0,
            running: 0,
            deadline: None,
            touched: false,
            key,
        }
    }
}

/// Every lane of one worker, and which of them to check next.
pub(crate) struct Lanes<Q> {
    /// Lanes by slot; a freed slot is `None` until reused.
    slots: Vec<Option<Lane<Q>>>,
    free: Vec<usize>,
    /// Keyed lanes by key; empty for an unkeyed batcher.
    index: HashMap<LaneKey, usize>,
    keyed: bool,
    /// Lanes to check on the next turn.
    touched: Vec<usize>,
    /// Each lane's wait, by when it runs out (earliest first).
    timers: BinaryHeap<Reverse<(Instant, usize)>>,
    /// Entries in all lanes together, cancelled ones included.
    pub(crate) queued: usize,
}

impl<Q> Lanes<Q> {
    /// One lane per key when `keyed`, else a single lane for everything.
    pub(crate) fn new(keyed: bool) -> Self {
        Self {
            slots: if keyed {
                Vec::new()
            } else {
                vec![Some(Lane::new(None))]
            },
            free: Vec::new(),
            index: HashMap::new(),
            keyed,
            touched: Vec::new(),
            timers: BinaryHeap::new(),
            queued: 0,
        }
    }

    /// The lane `key` goes to, made if it does not exist. An unkeyed batcher's items
    /// carry no key and all go to its single lane.
    ///
    /// # Errors
    ///
    /// The panic payload when the key's `Hash`, `Eq` or `Drop` panicked; no lane was
    /// made or changed.
    pub(crate) fn slot_for(
        &mut self,
        key: Option<Box<dyn Key>>,
    ) -> Result<usize, Box<dyn Any + Send>> {
        let Some(key) = key.filter(|_| self.keyed) else {
            return Ok(0);
        };
        panic::catch_unwind(AssertUnwindSafe(|| self.find_or_make(key)))
    }

    fn find_or_make(&mut self, key: Box<dyn Key>) -> usize {
        if let Some(&slot) = self.index.get(&*key) {
            return slot;
        }
        let key = LaneKey(Arc::from(key));
        let slot = self.free.last().copied().unwrap_or(self.slots.len());
        // Indexed first: a key whose `Hash` panics here leaves nothing behind.
        self.index.insert(key.clone(), slot);
        let lane = Some(Lane::new(Some(key)));
        if slot == self.slots.len() {
            self.slots.push(lane);
        } else {
            self.free.pop();
            self.slots[slot] = lane;
        }
        slot
    }

    /// The lane in `slot`, which the caller knows exists.
    pub(crate) fn lane(&mut self, slot: usize) -> &mut Lane<Q> {
        self.slots[slot]
            .as_mut()
            .expect("a lane in use is never freed")
    }

    /// Queues `entry` at the back of the lane in `slot`, and checks it next turn.
    pub(crate) fn push(&mut self, slot: usize, entry: Q, weight: usize) {
        let lane = self.lane(slot);
        lane.queue.push_back(entry);
        lane.weight += weight as u128;
        self.queued += 1;
        self.touch(slot);
    }

    /// Takes the entry at the front of the lane in `slot` out of the count; the caller
    /// has popped it and passes its weight.
    pub(crate) fn popped(&mut self, slot: usize, weight: usize) {
        let lane = self.lane(slot);
        debug_assert!(weight as u128 <= lane.weight, "only queued weight leaves");
        lane.weight = lane.weight.saturating_sub(weight as u128);
        debug_assert!(self.queued > 0, "only queued entries leave");
        self.queued = self.queued.saturating_sub(1);
    }

    /// Checks the lane in `slot` on the next turn.
    pub(crate) fn touch(&mut self, slot: usize) {
        if let Some(lane) = self.slots[slot].as_mut()
            && !lane.touched
        {
            lane.touched = true;
            self.touched.push(slot);
        }
    }

    /// Checks every lane on the next turn (after a flush or close).
    pub(crate) fn touch_all(&mut self) {
        for slot in 0..self.slots.len() {
            self.touch(slot);
        }
    }

    /// The lanes to check this turn, into `into`: the unkeyed batcher's single lane
    /// always; keyed lanes that were touched, or whose wait has run out.
    pub(crate) fn due(&mut self, into: &mut Vec<usize>) {
        if !self.keyed {
            into.push(0);
            if let Some(lane) = self.slots[0].as_mut() {
                lane.touched = false;
            }
            self.touched.clear();
            return;
        }
        // The clock is read only when some lane waits.
        let now = (!self.timers.is_empty()).then(Instant::now);
        while let Some(now) = now
            && let Some(&Reverse((at, slot))) = self.timers.peek()
            && at <= now
        {
            self.timers.pop();
            if self.slots[slot]
                .as_ref()
                .is_some_and(|lane| lane.deadline == Some(at))
            {
                self.touch(slot);
            }
        }
        for slot in self.touched.drain(..) {
            if let Some(lane) = self.slots[slot].as_mut() {
                lane.touched = false;
                into.push(slot);
            }
        }
    }

    /// Records when the lane in `slot` must be checked again by itself, if ever.
    pub(crate) fn set_deadline(&mut self, slot: usize, deadline: Option<Instant>) {
        let lane = self.lane(slot);
        if lane.deadline == deadline {
            return;
        }
        lane.deadline = deadline;
        if let Some(at) = deadline {
            self.timers.push(Reverse((at, slot)));
        }
    }

    /// When the worker must wake up by itself: the earliest live wait.
    pub(crate) fn next_deadline(&mut self) -> Option<Instant> {
        while let Some(&Reverse((at, slot))) = self.timers.peek() {
            let live = self.slots[slot]
                .as_ref()
                .is_some_and(|lane| lane.deadline == Some(at));
            if live {
                return Some(at);
            }
            self.timers.pop();
        }
        None
    }

    /// Frees the keyed lane in `slot` if it holds nothing and runs nothing.
    ///
    /// A key whose `Hash` or `Eq` panics as it leaves the index keeps its (empty)
    /// lane, still indexed; one whose `Drop` panics is freed all the same. Either way
    /// the panic stops here.
    pub(crate) fn release(&mut self, slot: usize) {
        let Some(key) = self.slots[slot].as_ref().and_then(|lane| {
            let idle = lane.queue.is_empty() && lane.running == 0;
            lane.key.as_ref().filter(|_| idle).cloned()
        }) else {
            return;
        };
        let freed = panic::catch_unwind(AssertUnwindSafe(|| {
            // Unindexed first, so that a panic in the key's `Hash` or `Eq` changes
            // nothing; then the lane goes, and with it (last) the key.
            self.index.remove(&key);
            let lane = self.slots[slot].take();
            self.free.push(slot);
            drop(key);
            drop(lane);
        }));
        if let Err(_payload) = freed {
            event!(warn, "a batch key panicked as its queue was freed");
        }
    }

    /// Removes every entry `cancelled` says is cancelled from every lane, with its
    /// weight (`weight_of`), frees lanes left idle, and returns how many it looked at.
    pub(crate) fn sweep(
        &mut self,
        cancelled: impl Fn(&Q) -> bool,
        weight_of: impl Fn(&Q) -> usize,
    ) -> usize {
        let mut looked = 0;
        for slot in 0..self.slots.len() {
            let Some(lane) = self.slots[slot].as_mut() else {
                continue;
            };
            looked += lane.queue.len();
            let before = lane.queue.len();
            let mut removed_weight = 0_u128;
            lane.queue.retain(|entry| {
                let gone = cancelled(entry);
                if gone {
                    removed_weight += weight_of(entry) as u128;
                }
                !gone
            });
            lane.weight = lane.weight.saturating_sub(removed_weight);
            self.queued = self.queued.saturating_sub(before - lane.queue.len());
            self.release(slot);
        }
        looked
    }

    /// The lanes' front entries, for flushes to see how far sending has got.
    pub(crate) fn fronts(&self) -> impl Iterator<Item = &Q> {
        self.slots
            .iter()
            .flatten()
            .filter_map(|lane| lane.queue.front())
    }

    /// How many lanes exist (for tests: idle keyed lanes are freed).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.slots.iter().flatten().count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key<K: Hash + Eq + Send + Sync + 'static>(key: K) -> Option<Box<dyn Key>> {
        Some(Box::new(key))
    }

    #[test]
    fn equal_keys_share_a_lane_and_idle_lanes_are_freed_and_reused() {
        let mut lanes = Lanes::<u32>::new(true);
        let a = lanes.slot_for(key("a".to_owned())).unwrap();
        let b = lanes.slot_for(key("b".to_owned())).unwrap();
        assert_ne!(a, b);
        assert_eq!(lanes.slot_for(key("a".to_owned())).unwrap(), a);
        // Keys of different types never match, even with equal bits.
        let one_u8 = lanes.slot_for(key(1_u8)).unwrap();
        let one_i8 = lanes.slot_for(key(1_i8)).unwrap();
        assert_ne!(one_u8, one_i8);
        assert_eq!(lanes.len(), 4);

        lanes.push(a, 7, 3);
        lanes.release(a);
        lanes.release(b);
        assert_eq!(lanes.len(), 3, "a holds an entry; b was idle");
        assert_eq!(lanes.queued, 1);
        let popped = lanes.lane(a).queue.pop_front();
        assert_eq!(popped, Some(7));
        lanes.popped(a, 3);
        assert_eq!((lanes.queued, lanes.lane(a).weight), (0, 0));
        lanes.release(a);
        assert_eq!(lanes.len(), 2);
        // A freed slot is reused by the next new key.
        let c = lanes.slot_for(key("c".to_owned())).unwrap();
        assert!(c == a || c == b);
    }

    #[test]
    fn an_unkeyed_batcher_has_one_lane_that_is_never_freed() {
        let mut lanes = Lanes::<u32>::new(false);
        assert_eq!(lanes.slot_for(None).unwrap(), 0);
        lanes.release(0);
        assert_eq!(lanes.len(), 1);
        let mut due = Vec::new();
        lanes.due(&mut due);
        assert_eq!(due, [0], "checked every turn");
    }

    #[test]
    fn a_stale_wait_is_dropped_and_only_the_latest_wakes_the_worker() {
        let mut lanes = Lanes::<u32>::new(true);
        let a = lanes.slot_for(key(1_u32)).unwrap();
        let now = Instant::now();
        lanes.set_deadline(a, Some(now + std::time::Duration::from_secs(5)));
        lanes.set_deadline(a, Some(now + std::time::Duration::from_secs(9)));
        assert_eq!(
            lanes.next_deadline(),
            Some(now + std::time::Duration::from_secs(9))
        );
        lanes.release(a);
        assert_eq!(lanes.next_deadline(), None, "a freed lane's wait is gone");
    }
}
