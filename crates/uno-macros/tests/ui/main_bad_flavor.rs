#[uno::main(flavor = "single")]
async fn main() {}
