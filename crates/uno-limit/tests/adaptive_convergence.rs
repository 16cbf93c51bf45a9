//! The adaptive limit settles near a simulated backend's concurrency knee.

#[path = "support/sim.rs"]
mod sim;

use std::time::Duration;

use uno_limit::{AdaptiveLimiter, Aimd, Gradient2};

fn assert_near_knee(name: &str, history: &[(f64, usize)], knee: usize) {
    let settled = sim::settled_limit(history);
    let knee = knee as f64;
    assert!(
        (0.75 * knee..=1.5 * knee).contains(&settled),
        "{name} settled at {settled:.1}, the knee is {knee}: {history:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn aimd_settles_near_the_knee() {
    let simulation = sim::Simulation::default();
    let aimd = Aimd::builder()
        .initial_limit(5)
        .latency_threshold(simulation.base_latency.mul_f64(1.2))
        .build()
        .unwrap();
    let history = sim::run(AdaptiveLimiter::new(aimd), simulation).await;
    assert_near_knee("aimd", &history, simulation.knee);
}

#[tokio::test(start_paused = true)]
async fn gradient2_settles_near_the_knee() {
    let simulation = sim::Simulation::default();
    // Netflix's defaults (tolerance 1.5, queue size 4) oscillate between about 1x and
    // 5x the knee in this noise-free model; see docs/limit.md.
    let gradient = Gradient2::builder()
        .initial_limit(5)
        .rtt_tolerance(1.0)
        .queue_size(1)
        .build()
        .unwrap();
    let history = sim::run(AdaptiveLimiter::new(gradient), simulation).await;
    assert_near_knee("gradient2", &history, simulation.knee);
}

#[tokio::test(start_paused = true)]
async fn the_limit_follows_a_knee_that_moves() {
    for knee in [8, 40] {
        let simulation = sim::Simulation {
            knee,
            ..Default::default()
        };
        let aimd = Aimd::builder()
            .initial_limit(20)
            .latency_threshold(simulation.base_latency.mul_f64(1.2))
            .build()
            .unwrap();
        let history = sim::run(AdaptiveLimiter::new(aimd), simulation).await;
        assert_near_knee("aimd", &history, knee);
    }
}

#[tokio::test(start_paused = true)]
async fn the_simulation_is_deterministic() {
    let simulation = sim::Simulation {
        duration: Duration::from_secs(3),
        ..Default::default()
    };
    let first = sim::run(AdaptiveLimiter::new(Gradient2::default()), simulation).await;
    let second = sim::run(AdaptiveLimiter::new(Gradient2::default()), simulation).await;
    assert_eq!(first, second);
}
