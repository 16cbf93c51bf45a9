fn policy() -> uno::retry::RetryPolicy<String> {
    uno::retry::RetryPolicy::constant(std::time::Duration::from_secs(1))
        .build()
        .unwrap()
}

#[uno::retry(policy = policy(), max_attempts = 3)]
async fn fetch() -> Result<(), String> {
    Ok(())
}

fn main() {}
