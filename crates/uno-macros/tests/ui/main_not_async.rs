#[uno::main]
fn main() {}
