//! A batcher whose last handle is dropped registers its drain, so an exit path can
//! wait for its last items and report what is left.

use std::convert::Infallible;
use std::time::Duration;

use uno_batch::{AsyncBatcher, Draining};

/// Writes 5 items per second, one batch at a time.
fn slow_writer(name: &str) -> AsyncBatcher<u32, u32, Infallible> {
    slow_writer_of(name, 5)
}

/// Writes `batch_size` items per second, one batch at a time.
fn slow_writer_of(name: &str, batch_size: usize) -> AsyncBatcher<u32, u32, Infallible> {
    AsyncBatcher::builder(|items: Vec<u32>| async move {
        tokio::time::sleep(Duration::from_secs(1)).await;
        Ok::<_, Infallible>(items)
    })
    .name(name)
    .max_batch_size(batch_size)
    .max_wait_time(Duration::from_secs(3600))
    .build()
    .unwrap()
}

#[tokio::test(start_paused = true)]
async fn a_dropped_batcher_is_listed_until_its_last_item_is_written() {
    let batcher = slow_writer("orders");
    let tickets: Vec<_> = (0..12).map(|item| batcher.try_add(item).unwrap()).collect();
    drop(batcher);

    // The registry is process-wide: look only at this test's batcher, so that the test
    // also holds under `cargo test`, which runs tests as threads of one process.
    let mine = |name: &str| {
        Draining::global()
            .pending()
            .into_iter()
            .filter(|(batcher, _)| batcher == name)
            .count()
    };
    assert_eq!(mine("orders"), 1);

    let started = tokio::time::Instant::now();
    Draining::global().wait().await;
    // Three batches of at most 5, one at a time, a second each.
    assert!(started.elapsed() >= Duration::from_secs(3));
    assert_eq!(mine("orders"), 0);
    for (item, ticket) in (0..).zip(tickets) {
        assert_eq!(ticket.await.unwrap(), item);
    }
}

#[tokio::test(start_paused = true)]
async fn a_batcher_with_live_handles_is_not_a_drain() {
    let batcher = slow_writer("still in use");
    let _ticket = batcher.try_add(1).unwrap();
    let listed = Draining::global().pending();
    assert!(
        listed.iter().all(|(name, _)| name != "still in use"),
        "{listed:?}"
    );
    // Waiting does not wait for batchers someone still holds.
    Draining::global().wait().await;
    drop(batcher);
}

#[tokio::test(start_paused = true)]
async fn an_idle_batcher_dropped_is_not_listed() {
    drop(slow_writer("idle"));
    tokio::task::yield_now().await;
    let listed = Draining::global().pending();
    assert!(listed.iter().all(|(name, _)| name != "idle"), "{listed:?}");
}

#[cfg(feature = "tracing")]
#[test]
fn dropping_a_batcher_with_queued_items_warns_once_with_the_count() {
    let ((), warnings) = uno_testkit::warnings_during(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .unwrap()
            .block_on(async {
                // Batches of 50: all 35 items are still queued when the handle goes.
                let batcher = slow_writer_of("orders", 50);
                let tickets: Vec<_> = (0..35).map(|item| batcher.try_add(item).unwrap()).collect();
                drop(batcher);
                Draining::global().wait().await;
                drop(tickets);
            });
    });
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].starts_with("uno_batch: a batcher was dropped with 35 items queued"),
        "{warnings:?}"
    );
    assert!(warnings[0].contains("batcher=\"orders\""), "{warnings:?}");
}
