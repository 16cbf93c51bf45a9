//! The policy and its futures have the traits callers and other crates rely on.
#![allow(
    clippy::disallowed_methods,
    reason = "tests spawn bare tasks to stand for independent callers and to watch cancellation from outside"
)]

use std::fmt::Debug;
use std::io;
use std::time::Duration;

use uno_retry::{Retry, RetryBudget, RetryExt, RetryPolicy, RetryPolicyBuilder};

fn assert_send_sync_clone_debug<T: Send + Sync + Clone + Debug + 'static>() {}
fn assert_send<T: Send>(_: &T) {}

#[test]
fn policy_builder_and_budget_are_send_sync_clone_and_debug() {
    assert_send_sync_clone_debug::<RetryPolicy<io::Error>>();
    assert_send_sync_clone_debug::<RetryPolicyBuilder<io::Error>>();
    assert_send_sync_clone_debug::<RetryBudget>();
    // Also for error types that are neither Send nor Sync.
    assert_send_sync_clone_debug::<RetryPolicy<std::rc::Rc<()>>>();
}

#[test]
fn debug_output_names_the_settings() {
    let policy: RetryPolicy<io::Error> = RetryPolicy::exponential(Duration::from_millis(100))
        .max_attempts(4)
        .retry_if(|_| true)
        .build()
        .unwrap();
    let text = format!("{policy:?}");
    assert!(text.contains("Exponential"), "{text}");
    assert!(text.contains("max_attempts: Some(4)"), "{text}");
    assert!(text.contains("retry_if: Some(\"<fn>\")"), "{text}");
    let run = policy.run(|| async { Ok::<_, io::Error>(()) });
    assert!(format!("{run:?}").contains("Retry"));
}

struct Client {
    name: String,
}

impl Client {
    async fn get(&self, path: &str) -> Result<String, io::Error> {
        tokio::task::yield_now().await;
        Ok(format!("{}{path}", self.name))
    }
}

#[tokio::test]
async fn an_operation_may_borrow_from_its_environment_and_stays_send() {
    let policy = RetryPolicy::constant(Duration::from_millis(1))
        .build()
        .unwrap();
    let client = Client {
        name: "db".to_owned(),
    };
    let path = String::from("/users");
    let run = policy.run(|| client.get(&path));
    assert_send(&run);
    assert_eq!(run.await.unwrap(), "db/users");

    let extension: Retry<'_, _, _, io::Error> = (|| client.get("/x")).retry(&policy);
    assert_eq!(extension.await.unwrap(), "db/x");
}

#[tokio::test]
async fn a_cloned_policy_runs_in_a_spawned_task() {
    let policy: RetryPolicy<io::Error> = RetryPolicy::constant(Duration::from_millis(1))
        .build()
        .unwrap();
    let owned = policy.clone();
    let handle = tokio::spawn(async move { owned.run(|| async { Ok(5) }).await });
    assert_eq!(handle.await.unwrap().unwrap(), 5);
}

struct Connection {
    queries: u32,
}

impl Connection {
    async fn query(&mut self) -> Result<u32, io::Error> {
        self.queries += 1;
        tokio::task::yield_now().await;
        match self.queries {
            1 => Err(io::Error::from(io::ErrorKind::ConnectionReset)),
            n => Ok(n),
        }
    }
}

#[tokio::test(start_paused = true)]
async fn attempts_needing_mutable_state_share_it_through_a_tokio_mutex() {
    // A future returned by an `FnMut` cannot borrow the closure's own state mutably,
    // so `&mut` access per attempt goes through a mutex the closure borrows.
    let policy = RetryPolicy::constant(Duration::from_millis(10))
        .build()
        .unwrap();
    let connection = tokio::sync::Mutex::new(Connection { queries: 0 });
    let run = policy.run(|| async {
        let mut connection = connection.lock().await;
        connection.query().await
    });
    assert_send(&run);
    assert_eq!(run.await.unwrap(), 2);
}
