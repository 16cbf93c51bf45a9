//! `deduplicate`: identical items in one batch are sent once and every
//! caller of that item gets the output.

mod common;

use std::sync::Arc;

use common::{FOREVER, OpError, Recorder, expected};
use uno_batch::{AsyncBatcher, BatchError};

async fn identical_items_in_a_batch_are_sent_once_and_every_caller_gets_the_output() {
    let recorder = Recorder::default();
    let batcher = AsyncBatcher::builder(recorder.op())
        .max_batch_size(5)
        .max_wait_time(FOREVER)
        .deduplicate()
        .build()
        .unwrap();

    let items = [2, 1, 2, 3, 1];
    let callers: Vec<_> = items
        .iter()
        .map(|&item| batcher.try_add(item).unwrap())
        .collect();
    for (item, caller) in items.into_iter().zip(callers) {
        assert_eq!(caller.await, Ok(expected(item)));
    }
    assert_eq!(
        recorder.batches(),
        vec![vec![2, 1, 3]],
        "sent once, first-seen order"
    );

    // Duplicates are merged within a batch only.
    let (a, b) = tokio::join!(batcher.add(2), batcher.flush());
    assert_eq!((a, b), (Ok(expected(2)), ()));
    assert_eq!(recorder.batches(), vec![vec![2, 1, 3], vec![2]]);
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn identical_items_are_sent_once_current_thread() {
    identical_items_in_a_batch_are_sent_once_and_every_caller_gets_the_output().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identical_items_are_sent_once_multi_thread() {
    identical_items_in_a_batch_are_sent_once_and_every_caller_gets_the_output().await;
}

#[tokio::test(start_paused = true)]
async fn wrong_length_counts_distinct_items_in_keyed_mode() {
    let batcher = AsyncBatcher::builder(|items: Vec<u64>| async move {
        // Wrongly answers once per item it would have had without deduplication.
        Ok::<_, OpError>(vec![0; items.len() + 1])
    })
    .max_batch_size(3)
    .max_wait_time(FOREVER)
    .deduplicate()
    .build()
    .unwrap();

    let (a, b, c) = tokio::join!(batcher.add(1), batcher.add(1), batcher.add(2));
    let wrong = BatchError::WrongLength {
        expected: 2,
        actual: 3,
    };
    assert_eq!(
        (a, b, c),
        (Err(wrong.clone()), Err(wrong.clone()), Err(wrong))
    );
}

#[tokio::test(start_paused = true)]
async fn an_op_error_reaches_every_caller_of_a_duplicated_item() {
    let batcher = AsyncBatcher::builder(|_items: Vec<u64>| async move {
        Err::<Vec<u64>, _>(OpError("down".to_owned()))
    })
    .max_batch_size(2)
    .max_wait_time(FOREVER)
    .deduplicate()
    .build()
    .unwrap();

    let (a, b) = tokio::join!(batcher.add(9), batcher.add(9));
    let (BatchError::Failed(a), BatchError::Failed(b)) = (a.unwrap_err(), b.unwrap_err()) else {
        panic!("expected Failed for both callers");
    };
    assert!(Arc::ptr_eq(&a, &b));
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_duplicate_does_not_take_the_output_from_the_other_caller() {
    let recorder = Recorder::default();
    let batcher = AsyncBatcher::builder(recorder.op())
        .max_batch_size(2)
        .max_wait_time(FOREVER)
        .deduplicate()
        .build()
        .unwrap();

    let kept = batcher.try_add(5).unwrap();
    drop(batcher.try_add(5).unwrap());
    let other = batcher.try_add(6).unwrap();

    assert_eq!(
        (kept.await, other.await),
        (Ok(expected(5)), Ok(expected(6)))
    );
    assert_eq!(recorder.batches(), vec![vec![5, 6]]);
}
