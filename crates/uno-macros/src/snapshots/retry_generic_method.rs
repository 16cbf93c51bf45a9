async fn load<T: Clone>(&self, key: T) -> Result<T, Error> {
    #[diagnostic::on_unimplemented(
        message = "#[uno::retry] needs a function that returns a `Result`, not `{Self}`",
        label = "the error of a failed attempt decides whether to retry",
        note = "return `Result<T, E>` (or an alias of it)"
    )]
    trait __UnoRetryResult {
        type Error;
    }
    impl<T, E> __UnoRetryResult for ::core::result::Result<T, E> {
        type Error = E;
    }
    let __uno_policy: ::uno::retry::RetryPolicy<
        <Result<T, Error> as __UnoRetryResult>::Error,
    > = shared_policy();
    let __uno_policy = &__uno_policy;
    __uno_policy
        .run(move || {
            let mut key = ::core::clone::Clone::clone(&key);
            async move {
                let __uno_output: Result<T, Error> = { self.find(key).await };
                __uno_output
            }
        })
        .await
}
