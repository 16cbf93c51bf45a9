async fn render(page: u32) -> String {
    static __UNO_LIMITER: ::std::sync::LazyLock<::uno::limit::Limiter> = ::std::sync::LazyLock::new(||
    {
        ::uno::limit::Limiter::new(5)
            .expect("the limit of #[uno::concurrent_limited] must be at least 1")
    });
    let __uno_limiter: &::uno::limit::Limiter = &__UNO_LIMITER;
    match __uno_limiter
        .run(async move {
            let __uno_output: String = { format!("{page}") };
            __uno_output
        })
        .await
    {
        ::core::result::Result::Ok(output) => output,
        ::core::result::Result::Err(::uno::limit::LimitError::DeadlinePassed) => {
            ::core::future::pending().await
        }
        ::core::result::Result::Err(error) => {
            ::core::panic!(
                "{}: {}", "#[uno::concurrent_limited]: the limiter refused the call",
                error
            )
        }
    }
}
