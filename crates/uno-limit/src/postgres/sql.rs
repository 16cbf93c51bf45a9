//! Every statement a [`PgLimiter`](super::PgLimiter) sends, and how a name becomes a
//! key. Statements are fixed text; the key, slots and channel are bound parameters,
//! except the channel's `LISTEN`, which sqlx quotes and which is made of hex digits.
//!
//! Locks use PostgreSQL's two-key form, `pg_try_advisory_lock(key int4, slot int4)`,
//! which `pg_locks` shows as `classid = key, objid = slot, objsubid = 2`.

use std::sync::atomic::{AtomicU32, Ordering};

use sqlx::PgConnection;
use sqlx::PgPool;

use crate::LimitError;

/// The advisory-lock key of `name`: 64-bit FNV-1a, folded to 32 bits. Fixed forever:
/// every process (and every version of uno) must derive the same key from a name.
pub(super) fn key(name: &str) -> i32 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let hash = name.bytes().fold(OFFSET, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(PRIME)
    });
    // Both halves count, so names that differ anywhere differ in the key.
    ((hash >> 32) ^ hash) as u32 as i32
}

/// The `NOTIFY` channel of `key`: a fixed prefix and eight hex digits.
pub(super) fn channel(key: i32) -> String {
    format!("uno_limit_{:08x}", key as u32)
}

/// Where the next search for a free slot starts: spread over the slots, so that
/// processes asking at once try different ones first.
pub(super) fn start_slot(limit: i32) -> i32 {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    // A per-process offset (the pid) and a per-call step (a large odd constant).
    let step = NEXT.fetch_add(0x9e37_79b9, Ordering::Relaxed);
    let mixed = step.wrapping_add(std::process::id().wrapping_mul(0x85eb_ca6b));
    (mixed % limit as u32) as i32
}

/// Tries every slot once from `start`; locks the first free one. Returns the slot and
/// the connection's backend pid, or `None` when all are held.
///
/// `LIMIT 1` stops the scan at the first lock taken, so at most one lock is taken. The
/// series is in the select list (a `ProjectSet`, one row at a time), not in `FROM`,
/// where PostgreSQL would build all `limit` rows before the first is looked at.
pub(super) async fn try_lock(
    connection: &mut PgConnection,
    key: i32,
    limit: i32,
    start: i32,
) -> Result<Option<(i32, i32)>, LimitError> {
    sqlx::query_as::<_, (i32, i32)>(
        "SELECT slot, pg_backend_pid() \
         FROM (SELECT ((generate_series(0, $2 - 1)::int8 + $3) % $2)::int4 AS slot) AS slots \
         WHERE pg_try_advisory_lock($1, slot) \
         LIMIT 1",
    )
    .bind(key)
    .bind(limit)
    .bind(start)
    .fetch_optional(connection)
    .await
    .map_err(|error| backend(&error))
}

/// Unlocks `(key, slot)` and announces it on `channel`, in one round trip. Returns
/// whether the lock was held by this session.
pub(super) async fn unlock(
    connection: &mut PgConnection,
    key: i32,
    slot: i32,
    channel: &str,
) -> Result<bool, sqlx::Error> {
    let (unlocked,): (bool,) =
        sqlx::query_as("SELECT pg_advisory_unlock($1, $2) FROM pg_notify($3, '')")
            .bind(key)
            .bind(slot)
            .bind(channel)
            .fetch_one(connection)
            .await?;
    Ok(unlocked)
}

/// Whether this session still holds `(key, slot)`.
pub(super) async fn holds(
    connection: &mut PgConnection,
    key: i32,
    slot: i32,
) -> Result<bool, sqlx::Error> {
    let (held,): (bool,) = sqlx::query_as(
        "SELECT EXISTS (SELECT 1 FROM pg_locks \
         WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted \
         AND classid::int8 = $1 AND objid::int8 = $2 AND objsubid = 2 \
         AND database = (SELECT oid FROM pg_database WHERE datname = current_database()))",
    )
    .bind(i64::from(key as u32))
    .bind(i64::from(slot))
    .fetch_one(connection)
    .await?;
    Ok(held)
}

/// How many slots of `key` are held now, in this database.
pub(super) async fn in_flight(pool: &PgPool, key: i32) -> Result<usize, LimitError> {
    let (held,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM pg_locks \
         WHERE locktype = 'advisory' AND granted AND classid::int8 = $1 AND objsubid = 2 \
         AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
    )
    .bind(i64::from(key as u32))
    .fetch_one(pool)
    .await
    .map_err(|error| backend(&error))?;
    Ok(usize::try_from(held).unwrap_or(0))
}

/// A failure of the server or the pool, as the crate's error.
pub(super) fn backend(error: &sqlx::Error) -> LimitError {
    LimitError::Backend {
        reason: error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_fixed_forever() {
        // Pinned values: changing the hash would split a fleet in the middle of an
        // upgrade, old and new replicas each admitting `limit`.
        assert_eq!(key(""), 0xcbf2_9ce4_u32 as i32 ^ 0x8422_2325_u32 as i32);
        assert_eq!(channel(key("payments-api")), "uno_limit_30c6da15");
        assert_ne!(key("payments-api"), key("payments-apj"));
        assert_ne!(key("a"), key("b"));
    }

    #[test]
    fn channels_are_hex_only() {
        for name in ["payments-api", "\"; DROP TABLE x; --", "ünïcödé", ""] {
            let channel = channel(key(name));
            assert_eq!(channel.len(), "uno_limit_".len() + 8);
            assert!(
                channel["uno_limit_".len()..]
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit())
            );
        }
    }

    #[test]
    fn start_slots_stay_in_range_and_move() {
        for limit in [1, 2, 3, 7, i32::MAX] {
            let starts: Vec<i32> = (0..64).map(|_| start_slot(limit)).collect();
            assert!(starts.iter().all(|&s| (0..limit).contains(&s)));
            if limit > 1 {
                assert!(
                    starts.iter().any(|&s| s != starts[0]),
                    "{limit}: {starts:?}"
                );
            }
        }
    }
}
