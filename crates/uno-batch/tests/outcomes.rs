//! What each caller gets back: its own output, or its batch's error, panic or length
//! mismatch; and routing when batches finish out of order.

mod common;

use std::sync::Arc;

use common::{FOREVER, Gated, OpError, expected};
use futures_util::FutureExt as _;
use futures_util::future::BoxFuture;
use uno_batch::{AsyncBatcher, BatchError};

/// Items at or above this value make the operation misbehave in the tests below.
const BAD: u64 = 1_000;

async fn wrong_length_gives_every_caller_of_the_batch_an_error_naming_both_lengths() {
    let batcher = AsyncBatcher::builder(|items: Vec<u64>| async move {
        let mut outputs: Vec<u64> = items.iter().copied().map(expected).collect();
        if items.contains(&BAD) {
            outputs.pop();
        }
        Ok::<_, OpError>(outputs)
    })
    .max_batch_size(3)
    .max_wait_time(FOREVER)
    .build()
    .unwrap();

    let (a, b, c) = tokio::join!(batcher.add(1), batcher.add(BAD), batcher.add(3));
    for result in [a, b, c] {
        let error = result.unwrap_err();
        assert_eq!(
            error,
            BatchError::WrongLength {
                expected: 3,
                actual: 2
            }
        );
        assert!(
            error
                .to_string()
                .contains("returned 2 outputs for a batch of 3 items")
        );
    }

    // The batcher keeps working for the next batch.
    let (d, e, f) = tokio::join!(batcher.add(4), batcher.add(5), batcher.add(6));
    assert_eq!(
        (d, e, f),
        (Ok(expected(4)), Ok(expected(5)), Ok(expected(6)))
    );
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn wrong_length_gives_every_caller_an_error_current_thread() {
    wrong_length_gives_every_caller_of_the_batch_an_error_naming_both_lengths().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_length_gives_every_caller_an_error_multi_thread() {
    wrong_length_gives_every_caller_of_the_batch_an_error_naming_both_lengths().await;
}

#[tokio::test(start_paused = true)]
async fn too_many_outputs_is_a_wrong_length_too() {
    let batcher = AsyncBatcher::builder(|items: Vec<u64>| async move {
        let mut outputs = items.clone();
        outputs.push(0);
        Ok::<_, OpError>(outputs)
    })
    .max_batch_size(2)
    .max_wait_time(FOREVER)
    .build()
    .unwrap();

    let (a, b) = tokio::join!(batcher.add(1), batcher.add(2));
    let wrong = BatchError::WrongLength {
        expected: 2,
        actual: 3,
    };
    assert_eq!((a, b), (Err(wrong.clone()), Err(wrong)));
}

async fn an_op_error_reaches_every_caller_of_that_batch_and_only_them() {
    // `OpError` is not `Clone`: the one error is shared in an `Arc`.
    let batcher = AsyncBatcher::builder(|items: Vec<u64>| async move {
        if items.contains(&BAD) {
            return Err(OpError(format!("cannot process {items:?}")));
        }
        Ok(items.into_iter().map(expected).collect::<Vec<_>>())
    })
    .max_batch_size(2)
    .max_wait_time(FOREVER)
    .build()
    .unwrap();

    let (a, b) = tokio::join!(batcher.add(BAD), batcher.add(2));
    let (a, b) = (a.unwrap_err(), b.unwrap_err());
    let (BatchError::Failed(a), BatchError::Failed(b)) = (&a, &b) else {
        panic!("expected Failed, got {a:?} and {b:?}");
    };
    assert!(Arc::ptr_eq(a, b), "every caller shares the one error");
    assert_eq!(**a, OpError("cannot process [1000, 2]".to_owned()));
    let as_error: &dyn std::error::Error = &BatchError::Failed(Arc::clone(a));
    assert_eq!(
        as_error.source().unwrap().to_string(),
        "op error: cannot process [1000, 2]"
    );

    let (c, d) = tokio::join!(batcher.add(3), batcher.add(4));
    assert_eq!(
        (c, d),
        (Ok(expected(3)), Ok(expected(4))),
        "the next batch is fine"
    );
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn an_op_error_reaches_every_caller_current_thread() {
    an_op_error_reaches_every_caller_of_that_batch_and_only_them().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_op_error_reaches_every_caller_multi_thread() {
    an_op_error_reaches_every_caller_of_that_batch_and_only_them().await;
}

async fn a_panicking_op_fails_only_its_batch_and_the_batcher_keeps_working() {
    let batcher = AsyncBatcher::builder(|items: Vec<u64>| -> BoxFuture<'static, _> {
        // A panic while making the future, before any await.
        assert!(!items.contains(&(BAD + 1)), "refusing {items:?} eagerly");
        Box::pin(async move {
            tokio::task::yield_now().await;
            // A panic while the future runs.
            assert!(!items.contains(&BAD), "refusing {items:?}");
            Ok::<_, OpError>(items.into_iter().map(expected).collect())
        })
    })
    .max_batch_size(2)
    .max_wait_time(FOREVER)
    .build()
    .unwrap();

    let (a, b) = tokio::join!(batcher.add(BAD), batcher.add(2));
    for result in [a, b] {
        let error = result.unwrap_err();
        let BatchError::Panicked { message } = &error else {
            panic!("expected Panicked, got {error:?}");
        };
        assert_eq!(message, "refusing [1000, 2]");
        assert!(error.to_string().contains("panicked"));
    }

    let (c, d) = tokio::join!(batcher.add(BAD + 1), batcher.add(4));
    for result in [c, d] {
        let error = result.unwrap_err();
        assert_eq!(
            error,
            BatchError::Panicked {
                message: "refusing [1001, 4] eagerly".to_owned()
            }
        );
    }

    let (e, f) = tokio::join!(batcher.add(5), batcher.add(6));
    assert_eq!(
        (e, f),
        (Ok(expected(5)), Ok(expected(6))),
        "the worker survived"
    );
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_panicking_op_fails_only_its_batch_current_thread() {
    a_panicking_op_fails_only_its_batch_and_the_batcher_keeps_working().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_op_fails_only_its_batch_multi_thread() {
    a_panicking_op_fails_only_its_batch_and_the_batcher_keeps_working().await;
}

#[tokio::test(start_paused = true)]
async fn a_non_string_panic_payload_is_reported_too() {
    let batcher = AsyncBatcher::builder(|_items: Vec<u64>| async move {
        std::panic::panic_any(17_u32);
        #[allow(unreachable_code, reason = "gives the future its output type")]
        Ok::<Vec<u64>, OpError>(Vec::new())
    })
    .build()
    .unwrap();

    let error = batcher.add(1).await.unwrap_err();
    assert!(matches!(error, BatchError::Panicked { .. }), "{error:?}");
}

async fn outputs_route_correctly_when_batches_finish_out_of_order() {
    let gated = Gated::by_first_item(3, 2);
    let batcher = AsyncBatcher::builder(gated.op())
        .max_batch_size(2)
        .max_wait_time(FOREVER)
        .max_concurrent_batches(3)
        .build()
        .unwrap();

    let mut tickets: Vec<_> = (0..6).map(|item| batcher.try_add(item).unwrap()).collect();
    gated.wait_started(3).await;
    let mut batches = gated.recorder.batches();
    batches.sort_unstable();
    assert_eq!(batches, vec![vec![0, 1], vec![2, 3], vec![4, 5]]);

    // Finish the last batch first, then the middle one, then the first.
    for (gate, finished) in [(2, [4, 5]), (1, [2, 3]), (0, [0, 1])] {
        gated.open(gate);
        for item in finished {
            let ticket = &mut tickets[usize::try_from(item).unwrap()];
            assert_eq!(ticket.await, Ok(expected(item)));
        }
        let still_waiting = usize::try_from(finished[0]).unwrap();
        for ticket in &mut tickets[..still_waiting] {
            assert!(ticket.now_or_never().is_none(), "its batch is still held");
        }
    }
    assert_eq!(gated.peak_running(), 3);
}

#[tokio::test(flavor = "current_thread")]
async fn outputs_route_correctly_out_of_order_current_thread() {
    outputs_route_correctly_when_batches_finish_out_of_order().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outputs_route_correctly_out_of_order_multi_thread() {
    outputs_route_correctly_when_batches_finish_out_of_order().await;
}

/// An item whose `Hash` panics: under `deduplicate` the worker hashes the batch's items
/// outside the operation, so this is user code panicking in the batcher's own path.
#[derive(Debug, Clone, PartialEq, Eq)]
struct PanicsWhenHashed(u64);

impl std::hash::Hash for PanicsWhenHashed {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        assert!(self.0 != BAD, "hashing a bad item");
        self.0.hash(state);
    }
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_panic_outside_the_operation_stops_only_its_batch() {
    let batcher = AsyncBatcher::builder(|items: Vec<PanicsWhenHashed>| async move {
        Ok::<_, OpError>(items.iter().map(|item| expected(item.0)).collect())
    })
    .max_batch_size(2)
    .max_wait_time(FOREVER)
    .deduplicate()
    .build()
    .unwrap();

    let (a, b) = tokio::join!(
        batcher.add(PanicsWhenHashed(1)),
        batcher.add(PanicsWhenHashed(BAD))
    );
    assert_eq!((a, b), (Err(BatchError::Stopped), Err(BatchError::Stopped)));

    // The worker, and the batches after, go on.
    let (c, d) = tokio::join!(
        batcher.add(PanicsWhenHashed(3)),
        batcher.add(PanicsWhenHashed(3))
    );
    assert_eq!((c, d), (Ok(expected(3)), Ok(expected(3))));
    batcher.close().await;
}

/// An output whose `Drop` panics, dropped by the batcher because its caller went away.
#[derive(Debug, PartialEq)]
struct PanicsWhenDropped(u64);

impl Drop for PanicsWhenDropped {
    fn drop(&mut self) {
        if self.0 == BAD && !std::thread::panicking() {
            panic!("dropping a bad output");
        }
    }
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn an_output_panicking_in_drop_fails_only_the_callers_not_yet_answered() {
    let gated = Gated::new(1);
    let recorder = gated.recorder.clone();
    let gate_op = gated.op();
    let batcher = AsyncBatcher::builder(move |items: Vec<u64>| {
        let run = gate_op(items);
        async move {
            let outputs = run.await?;
            // The gated op returns `expected(item)`; make the middle one the bad one.
            Ok::<_, OpError>(
                outputs
                    .into_iter()
                    .enumerate()
                    .map(|(index, output)| PanicsWhenDropped(if index == 1 { BAD } else { output }))
                    .collect::<Vec<_>>(),
            )
        }
    })
    .max_batch_size(3)
    .max_wait_time(FOREVER)
    .build()
    .unwrap();

    let first = batcher.try_add(1).unwrap();
    let second = batcher.try_add(2).unwrap();
    let third = batcher.try_add(3).unwrap();
    gated.wait_started(1).await;
    // Too late to cancel: the item is in the running batch, and its output will be
    // dropped by the batcher when it finds nobody to send it to.
    drop(second);
    gated.open(0);
    let first = first.await.unwrap();
    assert_eq!(first.0, expected(1), "answered before the panic");
    assert_eq!(third.await.unwrap_err(), BatchError::Stopped);
    assert_eq!(recorder.batches(), vec![vec![1, 2, 3]]);

    // The worker goes on (batches after the first are not gated).
    assert_eq!(batcher.add(4).await.unwrap().0, expected(4));
    batcher.close().await;
}
