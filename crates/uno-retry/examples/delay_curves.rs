//! Plots the delay curves of every backoff strategy as an SVG, from the real strategy
//! code, for the patterns guide.
//!
//! ```text
//! cargo run -p uno-retry --example delay_curves > docs/retry-delays.svg
//! cargo run -p uno-retry --example delay_curves -- docs/retry-delays.svg
//! ```
//!
//! Every curve starts at 100 ms and is capped at 5 s; the jittered curves use a fixed
//! seed, so the output is the same on every run.

use std::fmt::Write as _;
use std::time::Duration;

use uno_retry::{BackoffStrategy, Jitter, RetryPolicy};

const RETRIES: u32 = 12;
const INITIAL: Duration = Duration::from_millis(100);
const CAP: Duration = Duration::from_secs(5);
const SEED: u64 = 2026;

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 420.0;
const LEFT: f64 = 60.0;
const RIGHT: f64 = 230.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 50.0;

struct Curve {
    label: &'static str,
    colour: &'static str,
    dashed: bool,
    delays: Vec<Duration>,
}

fn curve(
    label: &'static str,
    colour: &'static str,
    strategy: BackoffStrategy,
    jitter: Jitter,
) -> Result<Curve, uno_retry::Error> {
    let policy: RetryPolicy<()> = RetryPolicy::builder(strategy, INITIAL)
        .max_attempts(RETRIES + 1)
        .max_delay(CAP)
        .jitter(jitter)
        .seed(SEED)
        .build()?;
    Ok(Curve {
        label,
        colour,
        dashed: jitter != Jitter::None || strategy == BackoffStrategy::DecorrelatedJitter,
        delays: policy.delays().collect(),
    })
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let curves = [
        curve(
            "constant",
            "#7f7f7f",
            BackoffStrategy::Constant,
            Jitter::None,
        )?,
        curve("linear", "#1f77b4", BackoffStrategy::Linear, Jitter::None)?,
        curve(
            "fibonacci",
            "#2ca02c",
            BackoffStrategy::Fibonacci,
            Jitter::None,
        )?,
        curve(
            "exponential",
            "#d62728",
            BackoffStrategy::Exponential,
            Jitter::None,
        )?,
        curve(
            "exponential, full jitter",
            "#ff9896",
            BackoffStrategy::Exponential,
            Jitter::Full,
        )?,
        curve(
            "exponential, equal jitter",
            "#9467bd",
            BackoffStrategy::Exponential,
            Jitter::Equal,
        )?,
        curve(
            "decorrelated jitter",
            "#ff7f0e",
            BackoffStrategy::DecorrelatedJitter,
            Jitter::None,
        )?,
    ];
    let svg = render(&curves)?;
    match std::env::args().nth(1) {
        Some(path) => std::fs::write(path, svg)?,
        None => print!("{svg}"),
    }
    Ok(())
}

fn x(retry: f64) -> f64 {
    LEFT + (retry - 1.0) / f64::from(RETRIES - 1) * (WIDTH - LEFT - RIGHT)
}

fn y(delay: Duration) -> f64 {
    HEIGHT - BOTTOM - delay.as_secs_f64() / CAP.as_secs_f64() * (HEIGHT - TOP - BOTTOM)
}

fn render(curves: &[Curve]) -> Result<String, std::fmt::Error> {
    let mut svg = String::new();
    writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">"#
    )?;
    writeln!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#)?;
    writeln!(
        svg,
        r#"<text x="{LEFT}" y="22" font-size="14" font-weight="bold">uno-retry: delay before retry n (initial 100 ms, max_delay 5 s, seed {SEED})</text>"#
    )?;
    // Horizontal grid lines and the delay axis, every second.
    for secs in 0..=CAP.as_secs() {
        let line_y = y(Duration::from_secs(secs));
        writeln!(
            svg,
            r##"<line x1="{LEFT}" y1="{line_y:.1}" x2="{:.1}" y2="{line_y:.1}" stroke="#e0e0e0"/>"##,
            WIDTH - RIGHT
        )?;
        writeln!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{secs} s</text>"#,
            LEFT - 8.0,
            line_y + 4.0
        )?;
    }
    // The retry axis.
    for retry in 1..=RETRIES {
        let tick_x = x(f64::from(retry));
        writeln!(
            svg,
            r#"<text x="{tick_x:.1}" y="{:.1}" text-anchor="middle">{retry}</text>"#,
            HEIGHT - BOTTOM + 18.0
        )?;
    }
    writeln!(
        svg,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">retry n</text>"#,
        (LEFT + WIDTH - RIGHT) / 2.0,
        HEIGHT - 10.0
    )?;
    for (index, curve) in curves.iter().enumerate() {
        let points: Vec<String> = curve
            .delays
            .iter()
            .zip(1..)
            .map(|(delay, retry)| format!("{:.1},{:.1}", x(f64::from(retry)), y(*delay)))
            .collect();
        let dash = if curve.dashed {
            r#" stroke-dasharray="5 3""#
        } else {
            ""
        };
        writeln!(
            svg,
            r#"<polyline fill="none" stroke="{}" stroke-width="2"{dash} points="{}"/>"#,
            curve.colour,
            points.join(" ")
        )?;
        for point in &points {
            let (px, py) = point.split_once(',').unwrap_or_default();
            writeln!(
                svg,
                r#"<circle cx="{px}" cy="{py}" r="2.5" fill="{}"/>"#,
                curve.colour
            )?;
        }
        // The legend, to the right of the plot.
        let legend_y = TOP + 10.0 + 22.0 * f64::from(u32::try_from(index).unwrap_or(0));
        let legend_x = WIDTH - RIGHT + 20.0;
        writeln!(
            svg,
            r#"<line x1="{legend_x}" y1="{legend_y}" x2="{:.1}" y2="{legend_y}" stroke="{}" stroke-width="2"{dash}/>"#,
            legend_x + 24.0,
            curve.colour
        )?;
        writeln!(
            svg,
            r#"<text x="{:.1}" y="{:.1}">{}</text>"#,
            legend_x + 30.0,
            legend_y + 4.0,
            curve.label
        )?;
    }
    writeln!(svg, "</svg>")?;
    Ok(svg)
}
