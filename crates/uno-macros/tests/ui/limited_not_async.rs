#[uno::concurrent_limited(5)]
fn render() -> u32 {
    1
}

fn main() {}
