#[uno::retry(max_attempt = 3)]
async fn fetch() -> Result<(), String> {
    Ok(())
}

fn main() {}
