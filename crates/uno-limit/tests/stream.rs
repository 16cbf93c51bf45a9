//! Behaviour of the stream helpers: the bound, ordering, zero refused, progress while
//! the consumer is busy, panics and dropping.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use uno_limit::{BuildError, LimitStreamExt};

#[tokio::test]
async fn zero_in_flight_is_refused() {
    let items = futures_util::stream::iter(0..3);
    assert_eq!(
        items.map_limited(0, |n| async move { n }).unwrap_err(),
        BuildError::ZeroLimit
    );
    let items = futures_util::stream::iter(0..3);
    assert_eq!(
        items
            .map_limited_unordered(0, |n| async move { n })
            .unwrap_err(),
        BuildError::ZeroLimit
    );
}

fn tracked(
    running: &Arc<AtomicUsize>,
    most: &Arc<AtomicUsize>,
) -> impl FnMut(u64) -> std::pin::Pin<Box<dyn Future<Output = u64> + Send>> + use<> {
    let (running, most) = (running.clone(), most.clone());
    move |n| {
        let (running, most) = (running.clone(), most.clone());
        Box::pin(async move {
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            most.fetch_max(now, Ordering::SeqCst);
            // Later items finish sooner, so completion order differs from input order.
            tokio::time::sleep(Duration::from_millis(100 - n)).await;
            running.fetch_sub(1, Ordering::SeqCst);
            n
        })
    }
}

async fn ordered_keeps_input_order_within_the_bound() {
    let (running, most) = (Arc::default(), Arc::default());
    let outputs: Vec<u64> = futures_util::stream::iter(0..50)
        .map_limited(4, tracked(&running, &most))
        .unwrap()
        .collect()
        .await;
    assert_eq!(outputs, (0..50).collect::<Vec<_>>());
    assert_eq!(most.load(Ordering::SeqCst), 4);
}

async fn unordered_yields_everything_within_the_bound() {
    let (running, most) = (Arc::default(), Arc::default());
    let mut outputs: Vec<u64> = futures_util::stream::iter(0..50)
        .map_limited_unordered(4, tracked(&running, &most))
        .unwrap()
        .collect()
        .await;
    assert_ne!(
        outputs,
        (0..50).collect::<Vec<_>>(),
        "completion order, not input order"
    );
    outputs.sort_unstable();
    assert_eq!(outputs, (0..50).collect::<Vec<_>>());
    assert_eq!(most.load(Ordering::SeqCst), 4);
}

#[tokio::test(start_paused = true)]
async fn ordered_keeps_input_order_within_the_bound_current_thread() {
    ordered_keeps_input_order_within_the_bound().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ordered_keeps_input_order_within_the_bound_multi_thread() {
    ordered_keeps_input_order_within_the_bound().await;
}

#[tokio::test(start_paused = true)]
async fn unordered_yields_everything_within_the_bound_current_thread() {
    unordered_yields_everything_within_the_bound().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn unordered_yields_everything_within_the_bound_multi_thread() {
    unordered_yields_everything_within_the_bound().await;
}

#[tokio::test(start_paused = true)]
async fn work_progresses_while_the_consumer_is_busy() {
    let finished = Arc::new(AtomicUsize::new(0));
    let work = {
        let finished = finished.clone();
        move |n: u32| {
            let finished = finished.clone();
            async move {
                tokio::time::sleep(Duration::from_millis(10)).await;
                finished.fetch_add(1, Ordering::SeqCst);
                n
            }
        }
    };
    let mut stream = futures_util::stream::iter(0..4)
        .map_limited_unordered(4, work)
        .unwrap();
    assert!(stream.next().await.is_some());
    // The consumer is busy elsewhere; with buffer_unordered the other three would stall.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(finished.load(Ordering::SeqCst), 4);
    assert_eq!(stream.count().await, 3);
}

#[tokio::test]
#[should_panic(expected = "item 2 failed")]
async fn a_panicking_item_panics_the_consumer() {
    let outputs = futures_util::stream::iter(0..5)
        .map_limited(2, |n| async move {
            assert!(n != 2, "item {n} failed");
            n
        })
        .unwrap();
    let _: Vec<_> = outputs.collect().await;
}

#[tokio::test(start_paused = true)]
async fn dropping_the_stream_aborts_work_in_flight() {
    struct CountDrop(Arc<AtomicUsize>);
    impl Drop for CountDrop {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    for ordered in [true, false] {
        let dropped = Arc::new(AtomicUsize::new(0));
        let work = {
            let dropped = dropped.clone();
            move |_: u32| {
                let guard = CountDrop(dropped.clone());
                async move {
                    let _guard = guard;
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                }
            }
        };
        let items = futures_util::stream::iter(0..10);
        if ordered {
            let mut stream = items.map_limited(3, work).unwrap();
            assert!(
                tokio::time::timeout(Duration::from_secs(1), stream.next())
                    .await
                    .is_err()
            );
        } else {
            let mut stream = items.map_limited_unordered(3, work).unwrap();
            assert!(
                tokio::time::timeout(Duration::from_secs(1), stream.next())
                    .await
                    .is_err()
            );
        }
        // Aborted tasks are dropped by the runtime soon after; let it run.
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        assert_eq!(
            dropped.load(Ordering::SeqCst),
            3,
            "three tasks were in flight"
        );
    }
}

#[tokio::test]
async fn an_empty_stream_ends_at_once() {
    let outputs: Vec<u8> = futures_util::stream::iter(Vec::<u8>::new())
        .map_limited_unordered(3, |n| async move { n })
        .unwrap()
        .collect()
        .await;
    assert!(outputs.is_empty());
}
