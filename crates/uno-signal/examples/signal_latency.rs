//! Measures how long a signal takes to cancel a `Shutdown`'s token.
//!
//! ```text
//! cargo run -p uno-signal --release --example signal_latency
//! ```
//!
//! By default the program sends `SIGINT` to itself 20 times (signal-hook's `raise`,
//! which runs the signal handler before it returns), each time to a fresh
//! `Shutdown`, and measures from the `raise` to the moment the token is seen
//! cancelled. It prints each sample as `sample_us N` and then `median_us N`.
//!
//! With `--external N`, it instead waits for `N` signals sent by another process:
//! before each it prints `ready <i>`, after each `cancelled <i>`, so the sender can
//! time the round trip.

#[cfg(unix)]
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    use uno_signal::{ForceExit, Shutdown, Signal};

    let install = || {
        Shutdown::builder()
            .signals([Signal::Interrupt])
            .force_exit(ForceExit::Never)
            .install()
    };

    let mut arguments = std::env::args().skip(1);
    if arguments.next().as_deref() == Some("--external") {
        let rounds: usize = arguments
            .next()
            .ok_or("--external needs a count")?
            .parse()?;
        for round in 0..rounds {
            let shutdown = install()?;
            println!("ready {round}");
            shutdown.wait().await;
            println!("cancelled {round}");
        }
        return Ok(());
    }

    let mut samples = Vec::with_capacity(20);
    for _ in 0..20 {
        let shutdown = install()?;
        let token = shutdown.token();
        let sent = std::time::Instant::now();
        signal_hook::low_level::raise(signal_hook::consts::SIGINT)?;
        token.cancelled().await;
        samples.push(sent.elapsed());
    }
    for sample in &samples {
        println!("sample_us {}", sample.as_micros());
    }
    samples.sort_unstable();
    let median = (samples[9] + samples[10]) / 2;
    println!("median_us {}", median.as_micros());
    Ok(())
}

#[cfg(not(unix))]
fn main() {
    eprintln!("signal_latency needs Unix signals");
}
