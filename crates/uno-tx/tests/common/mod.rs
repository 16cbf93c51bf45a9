//! Helpers shared by the database tests.

#![allow(dead_code, unreachable_pub)]

use std::future::Future;
use std::path::PathBuf;
use std::pin::pin;
use std::task::Poll;

/// A unique name for this test's tables and files: tests run in parallel processes.
pub fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// An SQLite database file that is deleted (with its journal files) on drop.
pub struct TempDb {
    pub path: PathBuf,
}

impl TempDb {
    pub fn new(name: &str) -> Self {
        let path = std::env::temp_dir().join(format!("{}.sqlite", unique(name)));
        TempDb { path }
    }

    pub fn url(&self) -> String {
        format!("sqlite://{}?mode=rwc", self.path.display())
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let mut path = self.path.clone().into_os_string();
            path.push(suffix);
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Polls `future` exactly `polls` times (or until it finishes) and then drops it: a
/// cancellation at a chosen point, without timers.
pub async fn poll_then_drop<F: Future>(future: F, polls: usize) -> Option<F::Output> {
    let mut future = pin!(future);
    for _ in 0..polls {
        let step = std::future::poll_fn(|cx| Poll::Ready(future.as_mut().poll(cx))).await;
        if let Poll::Ready(output) = step {
            return Some(output);
        }
        tokio::task::yield_now().await;
    }
    None
}

/// A small deterministic generator (xorshift64), so that "random" cancellation points
/// are the same on every run and a failure can be replayed.
pub struct Xorshift(pub u64);

impl Xorshift {
    pub fn below(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % bound
    }
}

/// Checks a transaction whose savepoint was abandoned within one poll: it commits
/// both rows, or, where the savepoint's begin finished in that poll and its `RELEASE`
/// was the step abandoned (server backends, `lost_after_release`), it is refused with
/// `Error::Lost` and commits neither. Never `Ok` with a row missing.
pub fn whole_or_lost<E: std::fmt::Debug>(
    outcome: Result<(), uno_tx::Error<E>>,
    names: &[String],
    lost_after_release: bool,
) {
    match outcome {
        Ok(()) => assert_eq!(names, ["after", "before"]),
        Err(uno_tx::Error::Lost { .. }) if lost_after_release => {
            assert!(names.is_empty(), "{names:?}");
        }
        Err(error) => panic!("expected both rows committed, got {error:?}"),
    }
}

/// The methods every server fixture shares, inside `impl Fixture` for a `Fixture` with
/// `pool` and `table` fields: `$conn` is the backend's connection type and
/// `$placeholder` its first bind parameter (`"$1"` or `"?"`). Each backend's test file
/// keeps only what differs: how the pool is made and the table created.
#[macro_export]
macro_rules! table_fixture_methods {
    ($conn:ty, $placeholder:literal) => {
        /// `template` with `{table}` replaced by this test's own table.
        fn sql(&self, template: &str) -> sqlx::AssertSqlSafe<String> {
            sqlx::AssertSqlSafe(template.replace("{table}", &self.table))
        }

        async fn insert(&self, conn: &mut $conn, name: &str) -> Result<(), sqlx::Error> {
            sqlx::query(self.sql(concat!(
                "INSERT INTO {table} (name) VALUES (",
                $placeholder,
                ")"
            )))
            .bind(name)
            .execute(conn)
            .await
            .map(drop)
        }

        async fn count(&self) -> i64 {
            sqlx::query_scalar(self.sql("SELECT COUNT(*) FROM {table}"))
                .fetch_one(&self.pool)
                .await
                .unwrap()
        }

        async fn names(&self) -> Vec<String> {
            sqlx::query_scalar(self.sql("SELECT name FROM {table} ORDER BY name"))
                .fetch_all(&self.pool)
                .await
                .unwrap()
        }

        async fn drop_table(self) {
            sqlx::raw_sql(self.sql("DROP TABLE IF EXISTS {table}"))
                .execute(&self.pool)
                .await
                .unwrap();
            self.pool.close().await;
        }
    };
}

/// The attacks on savepoints abandoned part-way, for a backend's test file. `$fixture`
/// is an expression giving `Option<Fixture>` (`None`: the server is absent), where
/// `Fixture` has `pool`, `insert(conn, name)`, `names()` (sorted) and `drop_table()`.
/// `lost_after_release` says whether the backend reports [`uno_tx::Error::Lost`] for an
/// outer transaction whose savepoint was abandoned while its `RELEASE` was in flight
/// (the server backends, where no rollback can be queued safely behind it).
#[macro_export]
macro_rules! savepoint_abandonment_tests {
    ($fixture:expr, lost_after_release = $lost_after_release:expr) => {
        /// The reliability issue's data loss: a savepoint whose `SAVEPOINT` statement
        /// was in flight when it was abandoned rolled back the whole outer transaction,
        /// the rest autocommitted, and the outer call returned `Ok`.
        #[tokio::test]
        async fn a_savepoint_abandoned_while_it_begins_leaves_the_outer_transaction_whole() {
            use futures_util::FutureExt;

            let Some(fx) = $fixture else {
                return;
            };
            let outcome = uno_tx::transaction(&fx.pool, async |conn| {
                fx.insert(conn, "before").await?;
                let inner = uno_tx::transaction(&mut *conn, async |_| Ok::<_, sqlx::Error>(()));
                let _ = inner.now_or_never();
                fx.insert(conn, "after").await?;
                Ok::<_, sqlx::Error>(())
            })
            .await;
            $crate::common::whole_or_lost(outcome, &fx.names().await, $lost_after_release);
            fx.drop_table().await;
        }

        #[tokio::test]
        async fn a_savepoint_abandoned_while_it_begins_leaves_a_tx_guard_whole() {
            use futures_util::FutureExt;

            let Some(fx) = $fixture else {
                return;
            };
            let manager = uno_tx::TransactionManager::write(fx.pool.clone());
            let mut tx = manager.begin().await.unwrap();
            fx.insert(&mut tx, "before").await.unwrap();
            let inner = uno_tx::transaction(&mut tx, async |_| Ok::<_, sqlx::Error>(()));
            let _ = inner.now_or_never();
            fx.insert(&mut tx, "after").await.unwrap();
            let outcome = tx.commit().await;
            $crate::common::whole_or_lost(outcome, &fx.names().await, $lost_after_release);
            fx.drop_table().await;
        }

        /// Savepoints two and three deep, abandoned after a varying number of polls: the
        /// outer work always commits, a savepoint that finished commits exactly when it
        /// returned `Ok`, and an abandoned one commits all of its work or none of it
        /// (all only when its `RELEASE` was already on its way).
        #[tokio::test]
        async fn savepoints_abandoned_at_random_points_never_lose_or_leak_writes() {
            type BoxError = Box<dyn std::error::Error + Send + Sync>;

            let Some(fx) = $fixture else {
                return;
            };
            let mut random = $crate::common::Xorshift(0x0bad_5eed_2026_1128);
            let mut outcomes = Vec::new();
            for round in 0..48_u64 {
                let polls = random.below(10) as usize + 1;
                let deep = round % 2 == 0;
                let fx = &fx;
                // Boxed: three nested transactions make a future too big for a test
                // thread's stack in a debug build.
                let outcome = Box::pin(uno_tx::transaction(&fx.pool, async move |conn| {
                    fx.insert(conn, &format!("{round:02}-a")).await?;
                    let inner = Box::pin(uno_tx::transaction(&mut *conn, async move |conn| {
                        fx.insert(conn, &format!("{round:02}-inner")).await?;
                        if deep {
                            Box::pin(uno_tx::transaction(&mut *conn, async |conn| {
                                fx.insert(conn, &format!("{round:02}-deep")).await
                            }))
                            .await?;
                        }
                        Ok::<_, BoxError>(())
                    }));
                    let finished = $crate::common::poll_then_drop(inner, polls).await;
                    fx.insert(conn, &format!("{round:02}-b")).await?;
                    Ok::<_, BoxError>(finished.map(|outcome| outcome.is_ok()))
                }))
                .await;
                outcomes.push((round, polls, deep, outcome));
            }
            let names = fx.names().await;
            let has = |round: u64, part: &str| names.contains(&format!("{round:02}-{part}"));
            let mut lost_rounds = 0;
            let mut abandoned_rounds = 0;
            for (round, polls, deep, outcome) in outcomes {
                let context = format!("round {round} ({polls} polls)");
                let inner_finished = match outcome {
                    Ok(inner_finished) => inner_finished,
                    // A savepoint abandoned while its RELEASE was in flight leaves the
                    // outer transaction unable to commit on the server backends, and it
                    // fails: with `Lost` at commit, or (MySQL) with the server's error
                    // for a savepoint that no longer exists on its next statement. Then
                    // nothing of the round is in the table: never `Ok` with lost writes.
                    Err(error) if $lost_after_release => {
                        assert!(
                            matches!(error, uno_tx::Error::Lost { .. })
                                || error.to_string().contains("does not exist"),
                            "{context}: {error}"
                        );
                        lost_rounds += 1;
                        for part in ["a", "b", "inner", "deep"] {
                            assert!(!has(round, part), "{context}: {part} of a lost round");
                        }
                        continue;
                    }
                    Err(error) => panic!("{context}: {error}"),
                };
                assert!(has(round, "a") && has(round, "b"), "{context}: outer work");
                match inner_finished {
                    Some(true) => assert!(has(round, "inner"), "{context}: inner missing"),
                    Some(false) => assert!(!has(round, "inner"), "{context}: inner leaked"),
                    None => abandoned_rounds += 1,
                }
                // The deep savepoint's work commits with its enclosing savepoint or not
                // at all, and the enclosing savepoint is all or nothing.
                assert_eq!(
                    has(round, "deep"),
                    deep && has(round, "inner"),
                    "{context}: deep"
                );
            }
            println!(
                "of 48 rounds, {abandoned_rounds} abandoned a savepoint, {lost_rounds} were lost"
            );
            assert!(
                abandoned_rounds > 0,
                "no savepoint was abandoned: the test tests nothing"
            );
            assert!(lost_rounds < 24, "{lost_rounds} of 48 rounds were lost");
            fx.drop_table().await;
        }

        /// sqlx's own savepoint, abandoned the same way inside a uno transaction, still
        /// ends the outer transaction (sqlx 0.9); uno-tx then refuses to report a commit.
        #[tokio::test]
        async fn a_raw_sqlx_savepoint_abandoned_inside_is_reported_never_committed() {
            use futures_util::FutureExt;

            let Some(fx) = $fixture else {
                return;
            };
            let outcome = uno_tx::transaction(&fx.pool, async |conn| {
                fx.insert(conn, "before").await?;
                let _ = Box::pin(sqlx::Connection::begin(&mut *conn)).now_or_never();
                fx.insert(conn, "after").await?;
                Ok::<_, sqlx::Error>(())
            })
            .await;
            match outcome {
                Err(uno_tx::Error::Lost {
                    expected_depth: 1,
                    found_depth: 0,
                }) => assert!(!fx.names().await.contains(&"before".to_owned())),
                // The begin finished within its first poll: nothing was abandoned.
                Ok(()) => assert_eq!(fx.names().await, ["after", "before"]),
                other => panic!("expected Error::Lost, got {other:?}"),
            }
            fx.drop_table().await;
        }
    };
}

/// A stand-in for `anyhow::Error` with the same standard-library surface: it converts
/// from any error with `?`, dereferences to `dyn Error + Send + Sync`, can add context
/// (a layer whose `source` is the error below), and does not implement `Error` itself.
/// anyhow is not in the workspace's lock file, so uno-tx's tests cannot use it; the
/// impl uno-tx relies on (`Deref` to `dyn Error + Send + Sync`) is exactly anyhow's.
pub struct AnyhowLike(Box<dyn std::error::Error + Send + Sync + 'static>);

impl AnyhowLike {
    /// Wraps the error in a layer of context, as `anyhow::Context::context` does.
    pub fn context(self, message: &'static str) -> Self {
        AnyhowLike(Box::new(Context {
            message,
            source: self.0,
        }))
    }
}

impl<E: std::error::Error + Send + Sync + 'static> From<E> for AnyhowLike {
    fn from(error: E) -> Self {
        AnyhowLike(Box::new(error))
    }
}

impl std::ops::Deref for AnyhowLike {
    type Target = dyn std::error::Error + Send + Sync + 'static;

    fn deref(&self) -> &Self::Target {
        &*self.0
    }
}

impl std::fmt::Debug for AnyhowLike {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&self.0, f)
    }
}

impl std::fmt::Display for AnyhowLike {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(&self.0, f)
    }
}

#[derive(Debug)]
struct Context {
    message: &'static str,
    source: Box<dyn std::error::Error + Send + Sync + 'static>,
}

impl std::fmt::Display for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.message)
    }
}

impl std::error::Error for Context {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.source)
    }
}
