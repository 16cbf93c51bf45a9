#[uno::retry(backoff = quadratic)]
async fn fetch() -> Result<(), String> {
    Ok(())
}

fn main() {}
