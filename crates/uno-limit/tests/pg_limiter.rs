//! `PgLimiter` against the real PostgreSQL server (`UNO_TEST_POSTGRES_URL`): slots,
//! names, wake-ups by `NOTIFY`, cancellation, killed connections, and real child
//! processes (this test binary run again as `child`) sharing one limit and crashing
//! while holding it.
//!
//! Every test uses its own limiter name and pool `application_name`, so tests running
//! at once never see each other's locks or sessions.

use std::str::FromStr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use uno_limit::postgres::{DEFAULT_POLL_INTERVAL, MAX_LIMIT, PgLimiter};
use uno_limit::{BuildError, LimitError};
use uno_testkit::{Server, server_url};

/// How long anything here may take before the test fails instead of hanging.
const PATIENCE: Duration = Duration::from_secs(60);

/// A name no other test (or earlier run) uses.
fn unique(what: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.subsec_nanos());
    format!(
        "uno_{what}_{}_{}_{nanos}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A pool whose sessions carry `application`, so a test can find them on the server.
async fn pool(url: &str, application: &str, max: u32) -> PgPool {
    let options = PgConnectOptions::from_str(url)
        .expect("a valid URL")
        .application_name(application);
    PgPoolOptions::new()
        .max_connections(max)
        .acquire_timeout(Duration::from_secs(20))
        .connect_with(options)
        .await
        .expect("PostgreSQL accepts connections")
}

/// Waits (up to `PATIENCE`) until `condition` holds, asking again every 10 ms: for
/// state that only the server knows, such as a killed session's locks being freed.
async fn eventually<F, Fut>(what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let started = tokio::time::Instant::now();
    while !condition().await {
        assert!(started.elapsed() < PATIENCE, "gave up waiting until {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Advisory locks held by the sessions of `application`.
async fn locks_of(admin: &PgPool, application: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
         WHERE l.locktype = 'advisory' AND l.granted AND a.application_name = $1",
    )
    .bind(application)
    .fetch_one(admin)
    .await
    .expect("pg_locks can be read")
}

/// Two sides of one limit of 1 on two pools, as two processes that share nothing but
/// the server: `holder`, and the pool of a waiter whose sessions carry `application`.
struct Contest {
    admin: PgPool,
    holder: PgLimiter,
    name: String,
    application: String,
    waiter_pool: PgPool,
}

impl Contest {
    /// `None` (the test is skipped, and says why) without a server.
    async fn new(what: &str) -> Option<Contest> {
        let url = server_url(Server::Postgres)?;
        let name = unique(what);
        let application = unique(&format!("{what}_waiter"));
        let holder_pool = pool(&url, &unique(&format!("{what}_holder")), 3).await;
        Some(Contest {
            admin: pool(&url, &unique("admin"), 2).await,
            holder: PgLimiter::new(holder_pool, &name, 1).expect("valid"),
            waiter_pool: pool(&url, &application, 4).await,
            name,
            application,
        })
    }

    /// The waiter's limiter, polling every `poll_interval`.
    fn waiter(&self, poll_interval: Duration) -> PgLimiter {
        PgLimiter::builder(self.waiter_pool.clone(), &self.name, 1)
            .poll_interval(poll_interval)
            .build()
            .expect("valid")
    }
}

#[tokio::test]
async fn bad_input_is_refused_at_construction() {
    // No server is needed: nothing is sent until the first call.
    let pool = PgPoolOptions::new()
        .connect_lazy("postgres://postgres@127.0.0.1:1/test")
        .expect("a lazy pool");
    let build = |limit| PgLimiter::new(pool.clone(), "bad-input", limit).map(|_| ());
    assert_eq!(build(0), Err(BuildError::ZeroLimit));
    assert_eq!(
        build(MAX_LIMIT + 1),
        Err(BuildError::LimitTooLarge {
            limit: MAX_LIMIT + 1,
            max: MAX_LIMIT
        })
    );
    assert_eq!(
        build(usize::MAX)
            .err()
            .map(|e| matches!(e, BuildError::LimitTooLarge { .. })),
        Some(true)
    );
    assert!(build(MAX_LIMIT).is_ok());
    assert!(matches!(
        PgLimiter::new(pool.clone(), "", 1),
        Err(BuildError::InvalidConfig { .. })
    ));
    assert!(matches!(
        PgLimiter::builder(pool, "zero-poll", 1)
            .poll_interval(Duration::ZERO)
            .build(),
        Err(BuildError::InvalidConfig { .. })
    ));
}

#[tokio::test]
async fn an_unreachable_server_fails_within_the_pools_timeout() {
    let pool = PgPoolOptions::new()
        .acquire_timeout(Duration::from_millis(500))
        .connect_lazy("postgres://postgres@127.0.0.1:1/test")
        .expect("a lazy pool");
    let limiter = PgLimiter::new(pool, "unreachable", 2).expect("a valid limiter");
    let acquired = tokio::time::timeout(PATIENCE, limiter.acquire())
        .await
        .expect("acquire gives up instead of hanging");
    let Err(LimitError::Backend { reason }) = acquired else {
        panic!("expected a backend error, got {acquired:?}");
    };
    assert!(!reason.is_empty());
    let tried = tokio::time::timeout(PATIENCE, limiter.try_acquire()).await;
    assert!(matches!(tried, Ok(Err(LimitError::Backend { .. }))));
    let counted = tokio::time::timeout(PATIENCE, limiter.in_flight()).await;
    assert!(matches!(counted, Ok(Err(LimitError::Backend { .. }))));
}

#[tokio::test]
async fn each_permit_holds_one_slot_and_gives_it_back() {
    let Some(url) = server_url(Server::Postgres) else {
        return;
    };
    let application = unique("slots");
    let admin = pool(&url, &unique("admin"), 2).await;
    let limiter = PgLimiter::new(pool(&url, &application, 4).await, unique("slots"), 2)
        .expect("a valid limiter");

    let first = limiter.acquire().await.expect("a free slot");
    let second = limiter.acquire().await.expect("a free slot");
    assert_ne!(first.slot(), second.slot());
    assert!(first.slot() < 2 && second.slot() < 2);
    assert_eq!(limiter.in_flight().await, Ok(2));
    // One lock per permit, never more.
    assert_eq!(locks_of(&admin, &application).await, 2);
    assert_eq!(
        limiter.try_acquire().await.map(|_| ()),
        Err(LimitError::Full { limit: 2 })
    );

    first.release().await.expect("the slot was held");
    assert_eq!(limiter.in_flight().await, Ok(1));
    let third = limiter.try_acquire().await.expect("the freed slot");
    drop(third);
    drop(second);
    // Dropped permits give their slots back in a spawned task.
    eventually("dropped permits are released", || async {
        limiter.in_flight().await == Ok(0)
    })
    .await;
    assert_eq!(locks_of(&admin, &application).await, 0);
}

#[tokio::test]
async fn the_largest_limit_works_full_or_not() {
    let Some(url) = server_url(Server::Postgres) else {
        return;
    };
    // Each try scans the slots one at a time and stops at the first free one.
    let limiter = PgLimiter::new(
        pool(&url, &unique("largest"), 4).await,
        unique("largest"),
        MAX_LIMIT,
    )
    .expect("MAX_LIMIT slots are allowed");
    let permits = [
        limiter.acquire().await.expect("a free slot"),
        limiter.acquire().await.expect("a free slot"),
        limiter.try_acquire().await.expect("a free slot"),
    ];
    assert!(permits.iter().all(|permit| permit.slot() < MAX_LIMIT));
    assert_eq!(limiter.in_flight().await, Ok(3));
    for permit in permits {
        permit.release().await.expect("held");
    }
    // A full limiter's try walks every slot and fails, in bounded time: one slot, held.
    let one = PgLimiter::new(
        pool(&url, &unique("largest"), 4).await,
        unique("largest"),
        1,
    )
    .expect("valid");
    let held = one.acquire().await.expect("a free slot");
    let refused = tokio::time::timeout(PATIENCE, one.try_acquire()).await;
    assert!(matches!(refused, Ok(Err(LimitError::Full { limit: 1 }))));
    held.release().await.expect("held");
}

#[tokio::test]
async fn different_names_never_share_slots() {
    let Some(url) = server_url(Server::Postgres) else {
        return;
    };
    let pool = pool(&url, &unique("names"), 6).await;
    let base = unique("names");
    let one = PgLimiter::new(pool.clone(), format!("{base}-a"), 1).expect("valid");
    let other = PgLimiter::new(pool.clone(), format!("{base}-b"), 1).expect("valid");
    // A name that would break SQL built from text is just another name.
    let hostile = PgLimiter::new(pool, "'); SELECT pg_sleep(100); --\"", 1).expect("valid");
    let held = [
        one.acquire().await.expect("a slot of a"),
        other.acquire().await.expect("a slot of b"),
        hostile.acquire().await.expect("a slot of the hostile name"),
    ];
    for limiter in [&one, &other, &hostile] {
        assert_eq!(limiter.in_flight().await, Ok(1));
        assert!(matches!(
            limiter.try_acquire().await,
            Err(LimitError::Full { limit: 1 })
        ));
    }
    for permit in held {
        permit.release().await.expect("held");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_release_elsewhere_wakes_a_waiter_through_notify() {
    let Some(contest) = Contest::new("notify").await else {
        return;
    };
    let (admin, holder, application) = (&contest.admin, &contest.holder, &contest.application);
    // Polling once an hour: only the announcement can wake the waiter in time.
    let waiter = contest.waiter(Duration::from_secs(3600));
    let held = holder.acquire().await.expect("a free slot");
    let mut waiting = tokio::task::JoinSet::new();
    waiting.spawn({
        let waiter = waiter.clone();
        async move { waiter.acquire().await }
    });
    // The waiter has tried, failed and listens once its LISTEN session exists.
    eventually("the waiter listens", || async {
        let listening: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity \
             WHERE application_name = $1 AND query LIKE 'LISTEN %'",
        )
        .bind(application)
        .fetch_one(admin)
        .await
        .expect("pg_stat_activity can be read");
        listening == 1
    })
    .await;
    held.release().await.expect("held");
    let permit = tokio::time::timeout(PATIENCE, waiting.join_next())
        .await
        .expect("woken by NOTIFY, long before the next poll")
        .expect("the waiter was spawned")
        .expect("the waiter does not panic")
        .expect("the freed slot");
    permit.release().await.expect("held");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_acquire_leaves_no_lock_and_no_busy_connection() {
    let Some(contest) = Contest::new("cancel").await else {
        return;
    };
    let (admin, holder, application) = (&contest.admin, &contest.holder, &contest.application);
    let limiter = contest.waiter(Duration::from_millis(5));

    // Cancelled at many points: queued, getting a connection, with the lock request
    // on the wire, and waiting.
    let held = holder.acquire().await.expect("a free slot");
    for micros in [0, 10, 50, 100, 200, 500, 1_000, 2_000, 5_000, 20_000] {
        let cancelled =
            tokio::time::timeout(Duration::from_micros(micros), limiter.acquire()).await;
        assert!(
            cancelled.is_err(),
            "the slot is held elsewhere: {cancelled:?}"
        );
    }
    held.release().await.expect("held");
    // And cancelled while the slot is free, so some requests take the lock mid-way.
    for micros in [0, 50, 200, 500, 1_000, 2_000] {
        if let Ok(permit) =
            tokio::time::timeout(Duration::from_micros(micros), limiter.acquire()).await
        {
            permit.expect("a free slot").release().await.expect("held");
        }
    }

    eventually(
        "no session of the cancelled waiter holds a lock",
        || async { locks_of(admin, application).await == 0 },
    )
    .await;
    eventually("no session of the cancelled waiter is busy", || async {
        let busy: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 \
             AND state <> 'idle' AND query NOT LIKE 'LISTEN %'",
        )
        .bind(application)
        .fetch_one(admin)
        .await
        .expect("pg_stat_activity can be read");
        busy == 0
    })
    .await;
    // No connection is left checked out but the LISTEN one.
    let pool = &contest.waiter_pool;
    eventually(
        "every connection but the LISTEN one is back in the pool",
        || async { pool.size() as usize - pool.num_idle() <= 1 },
    )
    .await;
    // The slot is usable, by both.
    let permit = limiter.acquire().await.expect("the slot is free");
    permit.release().await.expect("held");
    let permit = holder.acquire().await.expect("the slot is free");
    permit.release().await.expect("held");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_connection_frees_the_slot_and_the_holder_can_tell() {
    let Some(url) = server_url(Server::Postgres) else {
        return;
    };
    let admin = pool(&url, &unique("admin"), 2).await;
    let limiter =
        PgLimiter::new(pool(&url, &unique("killed"), 4).await, unique("killed"), 1).expect("valid");

    for checked_first in [true, false] {
        let mut permit = limiter.acquire().await.expect("a free slot");
        permit.check().await.expect("held while the session lives");
        let terminated: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1)")
            .bind(permit.backend_pid())
            .fetch_one(&admin)
            .await
            .expect("the admin can terminate a session");
        assert!(terminated);
        // The server frees the slot once the session has ended.
        eventually("the killed session's slot is free", || async {
            limiter.in_flight().await == Ok(0)
        })
        .await;
        if checked_first {
            let checked = tokio::time::timeout(PATIENCE, permit.check()).await;
            assert_eq!(checked, Ok(Err(LimitError::Lost)));
        }
        let released = tokio::time::timeout(PATIENCE, permit.release()).await;
        assert_eq!(released, Ok(Err(LimitError::Lost)));
        // Nothing hangs and nothing stays held: the slot serves the next caller.
        let next = tokio::time::timeout(PATIENCE, limiter.acquire())
            .await
            .expect("no hang")
            .expect("the freed slot");
        next.release().await.expect("held");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wait_ends_at_the_callers_deadline_and_leaves_nothing() {
    let Some(contest) = Contest::new("deadline").await else {
        return;
    };
    let (admin, holder, application) = (&contest.admin, &contest.holder, &contest.application);
    let limiter = contest.waiter(DEFAULT_POLL_INTERVAL);
    let held = holder.acquire().await.expect("a free slot");
    let outcome = uno_deadline::within(Duration::from_millis(300), limiter.acquire()).await;
    assert!(
        matches!(outcome, Ok(Err(LimitError::DeadlinePassed))),
        "{outcome:?}"
    );
    // A deadline already passed fails at once.
    let outcome = uno_deadline::within(Duration::ZERO, limiter.acquire()).await;
    assert!(
        matches!(outcome, Ok(Err(LimitError::DeadlinePassed))),
        "{outcome:?}"
    );
    held.release().await.expect("held");
    assert_eq!(locks_of(admin, application).await, 0);
    let permit = limiter.acquire().await.expect("the slot is free");
    permit.release().await.expect("held");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiters_of_one_process_are_served_in_order() {
    let Some(contest) = Contest::new("fifo").await else {
        return;
    };
    let limiter = contest.waiter(DEFAULT_POLL_INTERVAL);
    let held = contest.holder.acquire().await.expect("a free slot");
    let (order, mut served) = tokio::sync::mpsc::unbounded_channel();
    let mut waiters = tokio::task::JoinSet::new();
    for waiter in 0..4 {
        let (queued, order) = (limiter.clone(), order.clone());
        waiters.spawn(async move {
            let permit = queued.acquire().await.expect("a slot in turn");
            order.send(waiter).expect("the test listens");
            permit.release().await.expect("held");
        });
        // Queued before the next one starts.
        eventually("the waiter is queued", || async {
            limiter.waiting() == waiter + 1
        })
        .await;
    }
    held.release().await.expect("held");
    while let Some(joined) = waiters.join_next().await {
        joined.expect("no waiter panics");
    }
    drop(order);
    let mut seen = Vec::new();
    while let Some(waiter) = served.recv().await {
        seen.push(waiter);
    }
    assert_eq!(seen, [0, 1, 2, 3]);
    assert_eq!(limiter.waiting(), 0);
}

#[test]
fn a_permit_that_outlives_its_runtime_still_frees_its_slot() {
    let Some(url) = server_url(Server::Postgres) else {
        return;
    };
    let runtime = || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime")
    };
    let first = runtime();
    let (limiter, permit) = first.block_on(async {
        let limiter = PgLimiter::new(pool(&url, &unique("orphan"), 4).await, unique("orphan"), 2)
            .expect("valid");
        let permit = limiter.acquire().await.expect("a free slot");
        // A permit held by a task whose runtime shuts down under it: a bare task on
        // purpose, since the runtime's shutdown is what drops it.
        let held = limiter.acquire().await.expect("a free slot");
        #[allow(clippy::disallowed_methods)]
        tokio::spawn(async move {
            let _held = held;
            std::future::pending::<()>().await;
        });
        (limiter, permit)
    });
    drop(first);
    // Dropped outside any runtime: the connection is closed, not unlocked.
    drop(permit);
    let second = runtime();
    second.block_on(async {
        eventually("both orphaned slots are free", || async {
            limiter.in_flight().await == Ok(0)
        })
        .await;
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiter_whose_connection_is_killed_keeps_waiting_on_a_new_one() {
    let Some(contest) = Contest::new("waiter_killed").await else {
        return;
    };
    let (admin, holder, application) = (&contest.admin, &contest.holder, &contest.application);
    // Polling never ends the wait by itself: only NOTIFY (or a failure) does.
    let waiter = contest.waiter(Duration::MAX);
    let held = holder.acquire().await.expect("a free slot");
    let mut waiting = tokio::task::JoinSet::new();
    waiting.spawn({
        let waiter = waiter.clone();
        async move { waiter.acquire().await }
    });
    // Kill the waiter's own connection (not the LISTEN one) while it waits.
    eventually("the waiter's connection is killed", || async {
        let killed: i64 = sqlx::query_scalar(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE application_name = $1 AND state = 'idle' \
             AND query LIKE '%pg_try_advisory_lock%'",
        )
        .bind(application)
        .fetch_one(admin)
        .await
        .expect("pg_stat_activity can be read");
        killed > 0
    })
    .await;
    eventually("the killed session is gone", || async {
        locks_of(admin, application).await == 0
    })
    .await;
    held.release().await.expect("held");
    let permit = tokio::time::timeout(PATIENCE, waiting.join_next())
        .await
        .expect("the waiter is woken")
        .expect("the waiter was spawned")
        .expect("the waiter does not panic")
        .expect("a lost idle connection is not the caller's failure");
    permit.release().await.expect("held");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_operation_and_cancelled_releases_free_their_slots() {
    let Some(url) = server_url(Server::Postgres) else {
        return;
    };
    let limiter =
        PgLimiter::new(pool(&url, &unique("panics"), 6).await, unique("panics"), 3).expect("valid");
    // The operation panics inside `run`: the permit is dropped while unwinding.
    let mut tasks = tokio::task::JoinSet::new();
    tasks.spawn({
        let limiter = limiter.clone();
        async move { limiter.run(async { panic!("the operation panics") }).await }
    });
    let joined = tasks.join_next().await.expect("spawned");
    assert!(joined.expect_err("the task panicked").is_panic());
    // `check` and `release` cancelled at their first await.
    let mut checked = limiter.acquire().await.expect("a free slot");
    let cancelled = tokio::time::timeout(Duration::ZERO, checked.check()).await;
    if cancelled.is_err() {
        // Cancelled mid-statement: the connection was closed, and the permit knows.
        assert_eq!(checked.check().await, Err(LimitError::Lost));
    }
    drop(checked);
    let released = limiter.acquire().await.expect("a free slot");
    let _ = tokio::time::timeout(Duration::ZERO, released.release()).await;
    eventually("every slot is free again", || async {
        limiter.in_flight().await == Ok(0)
    })
    .await;
    assert_eq!(limiter.run(async { 7 }).await, Ok(7));
}

/// The parent side of a child process: this test binary, running only `child`, in
/// `role`, killed if it outlives the test.
fn spawn_child(role: &str, url: &str, name: &str, extra: &[(&str, &str)]) -> Child {
    let mut command = Command::new(std::env::current_exe().expect("the test binary"));
    command
        .args([
            "child",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("UNO_PG_LIMIT_CHILD", role)
        .env("UNO_PG_LIMIT_URL", url)
        .env("UNO_PG_LIMIT_NAME", name)
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true);
    for (key, value) in extra {
        command.env(key, value);
    }
    command.spawn().expect("the child process starts")
}

/// Waits (up to `PATIENCE`) for `child` to exit successfully.
async fn exits_cleanly(mut child: Child) {
    let status = tokio::time::timeout(PATIENCE, child.wait())
        .await
        .expect("the child finishes in time")
        .expect("the child can be waited for");
    assert!(status.success(), "the child failed: {status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_processes_never_exceed_the_shared_limit() {
    let Some(url) = server_url(Server::Postgres) else {
        return;
    };
    let admin = pool(&url, &unique("admin"), 2).await;
    let table = unique("holders");
    // The table name is made here, from digits and a fixed prefix.
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "CREATE TABLE {table} (current int NOT NULL, peak int NOT NULL, done int NOT NULL); \
         INSERT INTO {table} VALUES (0, 0, 0)"
    )))
    .execute(&admin)
    .await
    .expect("the shared table is created");

    let name = unique("fleet");
    let children: Vec<Child> = (0..4)
        .map(|_| spawn_child("work", &url, &name, &[("UNO_PG_LIMIT_TABLE", &table)]))
        .collect();
    for child in children {
        exits_cleanly(child).await;
    }
    let (current, peak, done): (i32, i32, i32) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT current, peak, done FROM {table}"
    )))
    .fetch_one(&admin)
    .await
    .expect("the shared table is read");
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP TABLE {table}")))
        .execute(&admin)
        .await
        .expect("the shared table is dropped");
    assert_eq!(
        done,
        4 * CHILD_TASKS as i32,
        "every task of every process ran"
    );
    assert_eq!(current, 0);
    assert!(peak <= 3, "{peak} held the limit of 3 at once");
    assert_eq!(peak, 3, "the limit is used in full");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_killed_while_holding_frees_its_slots_within_a_second() {
    let Some(url) = server_url(Server::Postgres) else {
        return;
    };
    let name = unique("crash");
    let limiter =
        PgLimiter::new(pool(&url, &unique("crash_survivor"), 5).await, &name, 2).expect("valid");
    let mut child = spawn_child("hold", &url, &name, &[]);
    let stdout = child.stdout.take().expect("piped stdout");
    let mut lines = BufReader::new(stdout).lines();
    let holding = tokio::time::timeout(PATIENCE, async {
        while let Some(line) = lines.next_line().await.expect("the child's output") {
            if line.contains("holding ") {
                return true;
            }
        }
        false
    })
    .await
    .expect("the child takes its slots in time");
    assert!(holding, "the child exited before holding its slots");
    assert_eq!(limiter.in_flight().await, Ok(2));
    assert!(matches!(
        limiter.try_acquire().await,
        Err(LimitError::Full { limit: 2 })
    ));

    // SIGKILL: no destructor runs, no unlock is sent, no release is announced.
    child.start_kill().expect("the child can be killed");
    let _ = child.wait().await;
    let both = tokio::time::timeout(Duration::from_secs(1), async {
        (limiter.acquire().await, limiter.acquire().await)
    })
    .await
    .expect("the dead process's slots are taken within 1 s");
    both.0.expect("a freed slot").release().await.expect("held");
    both.1.expect("a freed slot").release().await.expect("held");
}

/// Tasks per child process in `four_processes_never_exceed_the_shared_limit`.
const CHILD_TASKS: usize = 50;

/// Not a test of its own: the body of the child processes the tests above start
/// (`UNO_PG_LIMIT_CHILD` names the role). Run directly, it does nothing.
#[test]
#[ignore = "run by the PostgreSQL tests of this file as their child process"]
fn child() {
    let Ok(role) = std::env::var("UNO_PG_LIMIT_CHILD") else {
        return;
    };
    let var = |key: &str| std::env::var(key).unwrap_or_else(|_| panic!("{key} is set"));
    let (url, name) = (var("UNO_PG_LIMIT_URL"), var("UNO_PG_LIMIT_NAME"));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async move {
        match role.as_str() {
            "work" => work(&url, &name, &var("UNO_PG_LIMIT_TABLE")).await,
            "hold" => hold(&url, &name).await,
            other => panic!("unknown child role {other}"),
        }
    });
}

/// `CHILD_TASKS` tasks, each counting itself in the shared table while it holds one
/// of 3 slots.
async fn work(url: &str, name: &str, table: &str) {
    let limiter =
        PgLimiter::new(pool(url, &unique("fleet_child"), 5).await, name, 3).expect("valid");
    let counts = pool(url, &unique("fleet_counts"), 8).await;
    let enter =
        format!("UPDATE {table} SET current = current + 1, peak = greatest(peak, current + 1)");
    let leave = format!("UPDATE {table} SET current = current - 1, done = done + 1");
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..CHILD_TASKS {
        let (limiter, counts) = (limiter.clone(), counts.clone());
        let (enter, leave) = (enter.clone(), leave.clone());
        tasks.spawn(async move {
            let permit = limiter.acquire().await.expect("a slot");
            sqlx::query(sqlx::AssertSqlSafe(enter))
                .execute(&counts)
                .await
                .expect("counted in");
            // Hold the slot a moment, so holders of other processes overlap.
            tokio::time::sleep(Duration::from_millis(2)).await;
            sqlx::query(sqlx::AssertSqlSafe(leave))
                .execute(&counts)
                .await
                .expect("counted out");
            permit
                .release()
                .await
                .expect("the slot was held throughout");
        });
    }
    while let Some(joined) = tasks.join_next().await {
        joined.expect("no task panics");
    }
}

/// Holds both slots of a limit of 2 until killed; says so on stdout.
#[allow(clippy::print_stdout)]
async fn hold(url: &str, name: &str) {
    let limiter =
        PgLimiter::new(pool(url, &unique("crash_child"), 4).await, name, 2).expect("valid");
    let first = limiter.acquire().await.expect("a free slot");
    let second = limiter.acquire().await.expect("a free slot");
    println!("holding {} {}", first.backend_pid(), second.backend_pid());
    std::future::pending::<()>().await;
}
