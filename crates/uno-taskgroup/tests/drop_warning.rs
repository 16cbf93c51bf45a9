//! A group dropped without `join` while tasks still run says so (feature `tracing`).

#![cfg(feature = "tracing")]

use uno_taskgroup::TaskGroup;
use uno_testkit::warnings_during;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn a_group_dropped_with_live_tasks_warns_once_naming_how_many() {
    let ((), warnings) = warnings_during(|| {
        runtime().block_on(async {
            let group = TaskGroup::<(), std::io::Error>::new();
            for _ in 0..3 {
                group.spawn(std::future::pending()).unwrap();
            }
            drop(group);
        });
    });
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].starts_with(
            "uno_taskgroup: a TaskGroup was dropped without join while 3 of its tasks"
        ),
        "{warnings:?}"
    );
}

#[test]
fn a_joined_group_and_an_empty_group_do_not_warn() {
    let ((), warnings) = warnings_during(|| {
        runtime().block_on(async {
            let group = TaskGroup::<u8, std::io::Error>::new();
            group.spawn(async { Ok(1) }).unwrap();
            assert_eq!(group.join().await.unwrap(), [1]);
            drop(TaskGroup::<u8, std::io::Error>::new());
            // A join cancelled on purpose (here by a timeout) aborts without a warning.
            let group = TaskGroup::<(), std::io::Error>::new();
            group.spawn(std::future::pending()).unwrap();
            let joined = tokio::time::timeout(std::time::Duration::from_millis(1), group.join());
            assert!(joined.await.is_err());
        });
    });
    assert_eq!(warnings, Vec::<String>::new());
}
