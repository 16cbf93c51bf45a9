//! Plots the adaptive limit converging on the simulated backend of the convergence
//! tests, as an SVG.
//!
//! ```text
//! cargo run -p uno-limit --example adaptive_plot -- docs/limit-adaptive.svg
//! ```
//!
//! The simulation is the one `tests/adaptive_convergence.rs` checks (the file is
//! shared), run on virtual time, so the plot is deterministic and takes a second.

#[path = "../tests/support/sim.rs"]
mod sim;

use std::fmt::Write as _;

use uno_limit::{AdaptiveLimiter, Aimd, Gradient2};

const WIDTH: f64 = 800.0;
const HEIGHT: f64 = 420.0;
const LEFT: f64 = 60.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 50.0;
const BOTTOM: f64 = 50.0;

fn main() {
    let path = std::env::args().nth(1);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("a current-thread runtime builds");
    let simulation = sim::Simulation::default();
    let (aimd, gradient) = runtime.block_on(async {
        let aimd = Aimd::builder()
            .initial_limit(5)
            .latency_threshold(simulation.base_latency.mul_f64(1.2))
            .build()
            .expect("valid AIMD settings");
        let gradient = Gradient2::builder()
            .initial_limit(5)
            .rtt_tolerance(1.0)
            .queue_size(1)
            .build()
            .expect("valid Gradient2 settings");
        (
            sim::run(AdaptiveLimiter::new(aimd), simulation).await,
            sim::run(AdaptiveLimiter::new(gradient), simulation).await,
        )
    });
    let series = [
        Series {
            name: "AIMD",
            colour: "#1f77b4",
            history: &aimd,
        },
        Series {
            name: "Gradient2",
            colour: "#ff7f0e",
            history: &gradient,
        },
    ];
    let svg = plot(&simulation, &series);
    match path {
        Some(path) => std::fs::write(&path, svg).expect("the SVG file can be written"),
        None => print!("{svg}"),
    }
}

/// One line of the plot: its name, its colour and the limit over time.
struct Series<'a> {
    name: &'a str,
    colour: &'a str,
    history: &'a [(f64, usize)],
}

fn plot(simulation: &sim::Simulation, series: &[Series<'_>]) -> String {
    let duration = simulation.duration.as_secs_f64();
    let top_limit = series
        .iter()
        .flat_map(|series| series.history.iter().map(|&(_, limit)| limit))
        .max()
        .unwrap_or(1)
        .max(simulation.knee * 2);
    let y_max = (top_limit as f64 / 10.0).ceil() * 10.0;
    let x = |seconds: f64| LEFT + seconds / duration * (WIDTH - LEFT - RIGHT);
    let y = |limit: f64| HEIGHT - BOTTOM - limit / y_max * (HEIGHT - TOP - BOTTOM);

    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        svg,
        r#"<text x="{}" y="22" text-anchor="middle" font-size="15">Adaptive limit on a backend whose latency rises past {} concurrent calls</text>"#,
        WIDTH / 2.0,
        simulation.knee
    );
    // Grid and axes.
    for step in 0..=((y_max / 10.0) as usize) {
        let limit = step as f64 * 10.0;
        let _ = writeln!(
            svg,
            r##"<line x1="{LEFT}" x2="{}" y1="{y:.1}" y2="{y:.1}" stroke="#e5e5e5"/><text x="{}" y="{:.1}" text-anchor="end">{limit}</text>"##,
            WIDTH - RIGHT,
            LEFT - 6.0,
            y(limit) + 4.0,
            y = y(limit),
        );
    }
    for second in (0..=(duration as usize)).step_by(2) {
        let sx = x(second as f64);
        let _ = writeln!(
            svg,
            r##"<line x1="{sx:.1}" x2="{sx:.1}" y1="{TOP}" y2="{}" stroke="#f0f0f0"/><text x="{sx:.1}" y="{}" text-anchor="middle">{second}</text>"##,
            HEIGHT - BOTTOM,
            HEIGHT - BOTTOM + 16.0,
        );
    }
    let _ = writeln!(
        svg,
        r#"<text x="{}" y="{}" text-anchor="middle">virtual time (s), {} closed-loop clients, {} ms base latency</text>"#,
        (LEFT + WIDTH - RIGHT) / 2.0,
        HEIGHT - 12.0,
        simulation.clients,
        simulation.base_latency.as_millis(),
    );
    let _ = writeln!(
        svg,
        r#"<text x="16" y="{}" text-anchor="middle" transform="rotate(-90 16 {})">concurrency limit</text>"#,
        HEIGHT / 2.0,
        HEIGHT / 2.0,
    );
    let knee = y(simulation.knee as f64);
    let _ = writeln!(
        svg,
        r##"<line x1="{LEFT}" x2="{}" y1="{knee:.1}" y2="{knee:.1}" stroke="#444" stroke-dasharray="6 4"/><text x="{}" y="{:.1}" text-anchor="end" fill="#444" stroke="white" stroke-width="3" paint-order="stroke">knee ({})</text>"##,
        WIDTH - RIGHT,
        WIDTH - RIGHT - 4.0,
        knee + 16.0,
        simulation.knee,
    );
    // The series and their legend.
    for (
        index,
        Series {
            name,
            colour,
            history,
        },
    ) in series.iter().enumerate()
    {
        let points: Vec<String> = history
            .iter()
            .map(|&(seconds, limit)| format!("{:.1},{:.1}", x(seconds), y(limit as f64)))
            .collect();
        let _ = writeln!(
            svg,
            r#"<polyline fill="none" stroke="{colour}" stroke-width="1.6" points="{}"/>"#,
            points.join(" ")
        );
        let legend_y = TOP + 8.0 + index as f64 * 18.0;
        let _ = writeln!(
            svg,
            r#"<line x1="{}" x2="{}" y1="{legend_y}" y2="{legend_y}" stroke="{colour}" stroke-width="3"/><text x="{}" y="{}">{name}</text>"#,
            LEFT + 14.0,
            LEFT + 40.0,
            LEFT + 46.0,
            legend_y + 4.0,
        );
    }
    svg.push_str("</svg>\n");
    svg
}
