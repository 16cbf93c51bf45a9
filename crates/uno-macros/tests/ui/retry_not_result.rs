#[uno::retry(max_attempts = 3)]
async fn nothing() {}

#[uno::retry(max_attempts = 3)]
async fn maybe() -> Option<u32> {
    None
}

fn main() {}
