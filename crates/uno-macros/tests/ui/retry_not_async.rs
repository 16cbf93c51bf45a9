#[uno::retry(max_attempts = 3)]
fn fetch() -> Result<(), String> {
    Ok(())
}

fn main() {}
