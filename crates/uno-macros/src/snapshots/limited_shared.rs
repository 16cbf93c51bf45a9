async fn query(&self, id: u32) -> Result<Row, Error> {
    let __uno_limiter: &::uno::limit::Limiter = &(self.limiter);
    match __uno_limiter
        .run(async move {
            let __uno_output: Result<Row, Error> = { self.db.get(id).await };
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
                "{}: {}", "#[uno::limited]: the limiter refused the call", error
            )
        }
    }
}
