//! `#[uno::main]` exiting through its report, for `tests/main_exit.rs`: run with
//! `ok`, `fail` (main returns an error) or `failing-work` (spawned work fails).

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[uno::main(flavor = "current_thread")]
async fn main(shutdown: &uno::signal::Shutdown) -> Result<(), BoxError> {
    match std::env::args().nth(1).as_deref() {
        Some("fail") => Err("the configuration file is missing".into()),
        Some("failing-work") => {
            shutdown.spawn("worker", async {
                Err::<(), BoxError>("the worker broke".into())
            })?;
            Ok(())
        }
        _ => Ok(()),
    }
}
