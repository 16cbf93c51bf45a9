pub async fn fetch(url: String, client: &Client) -> Result<String, Error> {
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
    static __UNO_POLICY: ::std::sync::LazyLock<
        ::uno::retry::RetryPolicy<<Result<String, Error> as __UnoRetryResult>::Error>,
    > = ::std::sync::LazyLock::new(|| {
        ::uno::retry::RetryPolicy::exponential(
                ::core::time::Duration::from_nanos(100000000u64),
            )
            .max_attempts(3)
            .retry_if(is_transient)
            .max_delay(::core::time::Duration::from_nanos(10000000000u64))
            .build()
            .expect(
                "#[uno::retry]: the inline keys describe no valid policy; see RetryPolicyBuilder::build for the rule it breaks",
            )
    });
    let __uno_policy = &*__UNO_POLICY;
    __uno_policy
        .run(move || {
            let url = ::core::clone::Clone::clone(&url);
            let client = client;
            async move {
                let __uno_output: Result<String, Error> = { client.get(&url).await };
                __uno_output
            }
        })
        .await
}
