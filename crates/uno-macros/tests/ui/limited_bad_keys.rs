#[uno::limited(max = 5)]
async fn unknown() {}

#[uno::limited(5, max_concurrent = 6)]
async fn twice() {}

#[uno::limited]
async fn missing() {}

fn main() {}
