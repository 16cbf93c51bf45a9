//! The `metrics` feature: each batch's size and its oldest item's wait are recorded
//! under the batcher's name.
#![cfg(feature = "metrics")]

use std::time::Duration;

use uno_batch::AsyncBatcher;
use uno_testkit::metrics::recorded_paused;

#[test]
fn batch_sizes_and_queue_waits_are_recorded_per_batch() {
    let (metrics, (), _runtime) = recorded_paused(async {
        let batcher = AsyncBatcher::builder(|items: Vec<u32>| async move {
            Ok::<_, std::io::Error>(items.into_iter().map(|n| n * 2).collect())
        })
        .name("audit")
        .max_batch_size(3)
        .max_wait_time(Duration::from_millis(10))
        .build()
        .unwrap();
        // Five at once: a full batch of 3 at once, then 2 when their wait ends.
        let (a, b, c, d, e) = tokio::join!(
            batcher.add(1),
            batcher.add(2),
            batcher.add(3),
            batcher.add(4),
            batcher.add(5)
        );
        let doubled = [a, b, c, d, e].map(Result::unwrap);
        assert_eq!(doubled, [2, 4, 6, 8, 10]);
    });
    assert_eq!(
        metrics.histograms["uno_batch_size{batcher=audit}"],
        [3.0, 2.0]
    );
    assert_eq!(
        metrics.histograms["uno_batch_wait_seconds{batcher=audit}"],
        [0.0, 0.01]
    );
}
