use uno::signal::Shutdown;

#[uno::main(flavor = "current_thread")]
async fn main(shutdown: &Shutdown) -> Result<(), uno::signal::SignalError> {
    shutdown.spawn("work", async {})?;
    Ok(())
}
