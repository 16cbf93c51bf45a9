#[uno::concurrent_limited(0)]
async fn never() {}

#[uno::limited(max_concurrent = 0)]
async fn never_either() {}

fn main() {}
