fn main() {
    async fn __uno_main(shutdown: &Shutdown) -> Result<(), Error> {
        serve(shutdown).await
    }
    let __uno_runtime = ::tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("#[uno::main]: the tokio runtime could not start");
    let __uno_code: i32 = __uno_runtime
        .block_on(async {
            let __uno_shutdown = match ::uno::signal::Shutdown::install([
                ::uno::signal::Signal::Interrupt,
                ::uno::signal::Signal::Terminate,
            ]) {
                ::core::result::Result::Ok(shutdown) => shutdown,
                ::core::result::Result::Err(error) => {
                    ::std::eprintln!(
                        "error: could not install the shutdown signal handlers: {error}"
                    );
                    return 1;
                }
            };
            let __uno_failed = match ::uno::signal::Outcome::into_result(
                __uno_main(&__uno_shutdown).await,
            ) {
                ::core::result::Result::Ok(()) => false,
                ::core::result::Result::Err(error) => {
                    ::std::eprintln!("error: {error}");
                    __uno_shutdown.trigger();
                    true
                }
            };
            let report = __uno_shutdown.run().await;
            if !report.is_clean() {
                ::std::eprintln!("{report}");
            }
            match (__uno_failed, report.exit_code()) {
                (true, 0) => 1,
                (_, code) => code,
            }
        });
    ::core::mem::drop(__uno_runtime);
    ::std::process::exit(__uno_code);
}
