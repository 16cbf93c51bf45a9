//! The ids of kept results, as runs of consecutive ids.
//!
//! Invariant: no run is empty, and ids come out in the order they went in.

use std::collections::VecDeque;

use crate::task::TaskId;

/// Task ids in completion order, stored as runs of consecutive ids: tasks that finish
/// in spawn order take one run between them, whatever their number.
#[derive(Default)]
pub(super) struct IdRuns {
    /// `(first id, length)` of each run, in completion order; no run is empty.
    runs: VecDeque<(u64, u64)>,
}

impl IdRuns {
    /// How many runs hold the ids.
    #[cfg(test)]
    pub(super) fn run_count(&self) -> usize {
        self.runs.len()
    }

    pub(super) fn push_back(&mut self, id: TaskId) {
        let id = id.as_u64();
        if let Some((first, length)) = self.runs.back_mut()
            && first.checked_add(*length) == Some(id)
        {
            *length += 1;
            return;
        }
        self.runs.push_back((id, 1));
    }

    pub(super) fn pop_front(&mut self) -> Option<TaskId> {
        let (first, length) = self.runs.front_mut()?;
        let id = *first;
        *first += 1;
        *length -= 1;
        if *length == 0 {
            self.runs.pop_front();
        }
        Some(TaskId::new(id))
    }

    pub(super) fn into_ids(self) -> VecDeque<TaskId> {
        self.runs
            .into_iter()
            .flat_map(|(first, length)| (first..first + length).map(TaskId::new))
            .collect()
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> u64 {
        self.runs.iter().map(|(_, length)| length).sum()
    }
}
