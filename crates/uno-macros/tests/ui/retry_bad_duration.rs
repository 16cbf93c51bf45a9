#[uno::retry(initial = 100)]
async fn no_unit() -> Result<(), String> {
    Ok(())
}

#[uno::retry(max_delay = 10parsecs)]
async fn unknown_unit() -> Result<(), String> {
    Ok(())
}

fn main() {}
