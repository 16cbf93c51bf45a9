//! `spawn` is `#[track_caller]` down to `tokio::spawn`: spawning outside a runtime
//! panics naming the caller's line, not one inside uno-taskgroup (and tokio records the
//! caller as the task's spawn location).

use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Mutex};

use uno_taskgroup::TaskGroup;

#[test]
fn spawning_outside_a_runtime_panics_at_the_callers_line() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let hook_seen = Arc::clone(&seen);
    panic::set_hook(Box::new(move |info| {
        let location = info.location().map(|l| (l.file().to_owned(), l.line()));
        hook_seen.lock().unwrap().push(location);
    }));
    let plain = TaskGroup::<(), std::io::Error>::new();
    let capped = TaskGroup::<(), std::io::Error>::builder()
        .max_concurrency(2)
        .build()
        .unwrap();
    let plain_line = line!() + 1;
    let from_plain = panic::catch_unwind(AssertUnwindSafe(|| plain.spawn(async { Ok(()) })));
    let capped_line = line!() + 1;
    let from_capped = panic::catch_unwind(AssertUnwindSafe(|| capped.spawn(async { Ok(()) })));
    let third = TaskGroup::<(), std::io::Error>::new();
    let spawner = third.spawner();
    let spawner_line = line!() + 1;
    let from_spawner = panic::catch_unwind(AssertUnwindSafe(|| spawner.spawn(async { Ok(()) })));
    let _ = panic::take_hook();
    assert!(from_plain.is_err() && from_capped.is_err() && from_spawner.is_err());
    let here = file!().to_owned();
    assert_eq!(
        *seen.lock().unwrap(),
        [
            Some((here.clone(), plain_line)),
            Some((here.clone(), capped_line)),
            Some((here, spawner_line)),
        ]
    );
}
