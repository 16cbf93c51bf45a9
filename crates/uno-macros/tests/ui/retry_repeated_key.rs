#[uno::retry(max_attempts = 3, max_attempts = 4)]
async fn fetch() -> Result<(), String> {
    Ok(())
}

fn main() {}
