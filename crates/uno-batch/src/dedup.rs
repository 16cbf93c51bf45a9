//! Keyed mode: identical items of one batch are sent to the operation once, and the
//! output is shared with every caller of that item.

use std::collections::HashMap;
use std::hash::Hash;

/// The distinct items, and where each original item's output comes from.
type Split<I> = (Vec<I>, Option<Vec<usize>>);

/// How to remove duplicates from a batch and give the outputs back to every caller.
///
/// Plain function pointers, made where `I: Hash + Eq` and `O: Clone` are known, so that
/// the worker needs neither bound for batchers that do not deduplicate.
pub(crate) struct Dedup<I, O> {
    split: fn(Vec<I>) -> Split<I>,
    expand: fn(&[O], &[usize]) -> Vec<O>,
}

impl<I, O> Dedup<I, O>
where
    I: Hash + Eq,
    O: Clone,
{
    pub(crate) fn new() -> Self {
        Self {
            split: split::<I>,
            expand: expand::<O>,
        }
    }
}

impl<I, O> Dedup<I, O> {
    /// The distinct items in first-seen order, and for each original item the index of
    /// its distinct item (`None` when all items were distinct already).
    pub(crate) fn split(&self, items: Vec<I>) -> Split<I> {
        (self.split)(items)
    }

    /// One output per original item, from one output per distinct item.
    pub(crate) fn expand(&self, outputs: &[O], positions: &[usize]) -> Vec<O> {
        (self.expand)(outputs, positions)
    }
}

impl<I, O> Clone for Dedup<I, O> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<I, O> Copy for Dedup<I, O> {}

fn split<I: Hash + Eq>(items: Vec<I>) -> Split<I> {
    let mut positions = Vec::with_capacity(items.len());
    let mut first_seen = Vec::with_capacity(items.len());
    {
        let mut seen: HashMap<&I, usize> = HashMap::with_capacity(items.len());
        for item in &items {
            let next = seen.len();
            let position = *seen.entry(item).or_insert(next);
            first_seen.push(position == next);
            positions.push(position);
        }
        if seen.len() == items.len() {
            return (items, None);
        }
    }
    let distinct = items
        .into_iter()
        .zip(first_seen)
        .filter_map(|(item, first)| first.then_some(item))
        .collect();
    (distinct, Some(positions))
}

fn expand<O: Clone>(outputs: &[O], positions: &[usize]) -> Vec<O> {
    positions
        .iter()
        .map(|&position| outputs[position].clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_are_sent_once_in_first_seen_order_and_outputs_fan_back_out() {
        let dedup = Dedup::<&str, String>::new();
        let (distinct, positions) = dedup.split(vec!["b", "a", "b", "c", "a"]);
        assert_eq!(distinct, vec!["b", "a", "c"]);
        let positions = positions.unwrap();
        assert_eq!(positions, vec![0, 1, 0, 2, 1]);

        let outputs: Vec<String> = distinct.iter().map(|item| item.to_uppercase()).collect();
        assert_eq!(
            dedup.expand(&outputs, &positions),
            ["B", "A", "B", "C", "A"]
        );
    }

    #[test]
    fn a_batch_without_duplicates_is_left_as_it_is() {
        let dedup = Dedup::<u8, u8>::new();
        assert_eq!(dedup.split(vec![3, 1, 2]), (vec![3, 1, 2], None));
    }
}
