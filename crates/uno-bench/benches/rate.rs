//! uno's rate limits against `governor` (the peer a user would pick): one uncontended
//! `try_acquire`, direct and per key.
//!
//! Each comparison runs twice. The `*_tsc` groups put uno's `RateClock::Quanta` beside
//! governor's default clock (both read the time-stamp counter through `quanta`); the
//! `*_std_clock` groups put uno's default clock (tokio's, which follows paused time)
//! beside governor on `MonotonicClock` (`std::time::Instant`). The clock read is most
//! of the cost, so only same-clock pairs say how the limiters themselves compare.

use std::hint::black_box;
use std::num::NonZeroU32;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use governor::clock::MonotonicClock;
use governor::{Quota, RateLimiter as Governor};
use uno_limit::{KeyedRateLimiter, RateClock, RateLimiter};

/// A billion calls a second: far above what one thread can ask for, so every check
/// in the loop is admitted and the numbers are the admitted path's cost.
const PER_SECOND: u32 = 1_000_000_000;

fn quota() -> Quota {
    Quota::per_second(NonZeroU32::new(PER_SECOND).expect("a nonzero rate"))
}

fn uno(clock: RateClock) -> RateLimiter {
    RateLimiter::builder()
        .rate(PER_SECOND, Duration::from_secs(1))
        .clock(clock)
        .build()
        .expect("a valid rate")
}

fn uno_keyed(clock: RateClock) -> KeyedRateLimiter<u64> {
    RateLimiter::builder()
        .rate(PER_SECOND, Duration::from_secs(1))
        .clock(clock)
        .build_keyed()
        .expect("a valid rate")
}

fn direct(c: &mut Criterion) {
    let mut group = c.benchmark_group("limit/rate_try_acquire_tsc");
    let limiter = uno(RateClock::Quanta);
    group.bench_function("uno", |b| {
        b.iter(|| black_box(limiter.try_acquire().is_ok()));
    });
    let governor = Governor::direct(quota());
    group.bench_function("governor", |b| {
        b.iter(|| black_box(governor.check().is_ok()));
    });
    group.finish();

    let mut group = c.benchmark_group("limit/rate_try_acquire_std_clock");
    let limiter = uno(RateClock::Tokio);
    group.bench_function("uno", |b| {
        b.iter(|| black_box(limiter.try_acquire().is_ok()));
    });
    let governor = Governor::direct_with_clock(quota(), MonotonicClock);
    group.bench_function("governor", |b| {
        b.iter(|| black_box(governor.check().is_ok()));
    });
    group.finish();
}

fn keyed(c: &mut Criterion) {
    let key = 42_u64;
    let mut group = c.benchmark_group("limit/keyed_rate_try_acquire_tsc");
    let limiter = uno_keyed(RateClock::Quanta);
    group.bench_function("uno", |b| {
        b.iter(|| black_box(limiter.try_acquire(key).is_ok()));
    });
    let governor = Governor::keyed(quota());
    group.bench_function("governor", |b| {
        b.iter(|| black_box(governor.check_key(&key).is_ok()));
    });
    group.finish();

    let mut group = c.benchmark_group("limit/keyed_rate_try_acquire_std_clock");
    let limiter = uno_keyed(RateClock::Tokio);
    group.bench_function("uno", |b| {
        b.iter(|| black_box(limiter.try_acquire(key).is_ok()));
    });
    let governor = Governor::dashmap_with_clock(quota(), MonotonicClock);
    group.bench_function("governor", |b| {
        b.iter(|| black_box(governor.check_key(&key).is_ok()));
    });
    group.finish();
}

criterion_group!(benches, direct, keyed);
criterion_main!(benches);
