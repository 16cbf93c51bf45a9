//! The worker's unit tests: they drive a worker by hand (`accept`, `turn`) and count
//! its looks at queued entries, which only code inside the module can see.

use super::*;
use crate::ticket::Ticket;

/// The operation of the unit tests' workers: hands every item back.
type HandBack = fn(Vec<usize>) -> std::future::Ready<Result<Vec<usize>, ()>>;

/// A worker whose operation hands every item back, driven by the test through
/// `accept` and `turn` (nothing is ever sent on its channel), and its room.
fn test_worker(config: Config) -> (Worker<usize, usize, (), HandBack>, Arc<Room>) {
    let (_sender, receiver) = mpsc::unbounded_channel();
    let room = Arc::new(Room::new(config.max_pending));
    let (finished, finished_receiver) = watch::channel(false);
    let drain = Arc::new(DrainEntry::new("test".into(), finished_receiver));
    let worker = Worker::new(
        (|items| std::future::ready(Ok(items))) as HandBack,
        config,
        None,
        Channels {
            receiver,
            room: Arc::clone(&room),
            finished,
            drain,
        },
    );
    (worker, room)
}

/// Cancelling must cost the worker O(1) per item, never a scan of the queue. This
/// counts the worker's looks at queued entries instead of timing anything: with a
/// scan per cancellation, 10,000 cancellations would take 5 × 10^7 looks.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn each_cancelled_item_costs_the_worker_a_bounded_number_of_looks() {
    cancelling_costs_a_bounded_number_of_looks(None);
}

/// The same with the items spread over 100 keys' queues.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn each_cancelled_keyed_item_costs_the_worker_a_bounded_number_of_looks() {
    cancelling_costs_a_bounded_number_of_looks(Some(100));
}

fn cancelling_costs_a_bounded_number_of_looks(keys: Option<usize>) {
    const ITEMS: usize = 10_000;
    let (mut worker, room) = test_worker(Config {
        max_batch_size: usize::MAX,
        max_wait_time: Duration::MAX,
        max_pending: Some(ITEMS),
        max_concurrent_batches: 1,
        policy: BatchPolicy::Window,
        max_batch_weight: None,
        keyed: keys.is_some(),
    });
    let permits = room.permits().unwrap();
    let mut incoming = Vec::new();
    let mut tickets = Vec::new();
    for item in 0..ITEMS {
        permits.try_acquire().unwrap().forget();
        let (reply, receiver) = oneshot::channel();
        let claim = Claim::new();
        incoming.push(Message::Item(Entry {
            item,
            reply,
            claim: claim.clone(),
            deadline: None,
            weight: 0,
            key: keys.map(|keys| Box::new(item % keys) as Box<dyn Key>),
        }));
        tickets.push(Ticket::new(receiver, claim, Arc::clone(&room)));
    }
    worker.accept(&mut incoming);
    assert_eq!(worker.turn(), None, "no batch is due");
    let before = worker.visits;

    // Newest first, the worst order for a scan from the front, with a worker turn
    // after every single cancellation.
    let kept = tickets.remove(0);
    while let Some(ticket) = tickets.pop() {
        drop(ticket);
        worker.turn();
    }

    let visits = worker.visits - before;
    assert!(
        visits <= 4 * ITEMS,
        "{visits} looks at queued entries for {} cancellations",
        ITEMS - 1
    );
    assert_eq!(worker.live, 1);
    assert!(
        worker.lanes.queued < 2 * SWEEP_AT_LEAST,
        "cancelled entries are swept out: {} left",
        worker.lanes.queued
    );
    assert_eq!(permits.available_permits(), ITEMS - 1, "room came back");
    drop(kept);
    assert_eq!(permits.available_permits(), ITEMS);
}

/// A key seen once must not cost the worker anything after its batch: 10,000
/// distinct keys leave no lane behind.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn keys_seen_once_leave_no_lane_behind() {
    const KEYS: usize = 10_000;
    let (mut worker, _room) = test_worker(Config {
        max_batch_size: 100,
        max_wait_time: Duration::from_millis(5),
        max_pending: None,
        max_concurrent_batches: 1,
        policy: BatchPolicy::Window,
        max_batch_weight: None,
        keyed: true,
    });
    let mut incoming = Vec::new();
    let mut outputs = Vec::new();
    for item in 0..KEYS {
        let (reply, output) = oneshot::channel();
        incoming.push(Message::Item(Entry {
            item,
            reply,
            claim: Claim::new(),
            deadline: None,
            weight: 0,
            key: Some(Box::new(item)),
        }));
        outputs.push(output);
    }
    worker.accept(&mut incoming);
    let deadline = worker.turn().expect("every key waits its window");
    assert_eq!(worker.lanes.len(), KEYS);
    tokio::time::advance(Duration::from_millis(5)).await;
    assert_eq!(Instant::now(), deadline);
    assert_eq!(worker.turn(), None, "every key's window ran out together");
    assert_eq!(worker.lanes.len(), 0, "each key's lane went with its batch");
    assert_eq!(worker.lanes.queued, 0);
    for (item, mut output) in outputs.into_iter().enumerate() {
        assert_eq!(output.try_recv().unwrap(), Ok(item));
    }
}
