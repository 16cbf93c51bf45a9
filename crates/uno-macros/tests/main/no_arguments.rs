#[uno::main(worker_threads = 2)]
async fn main() {
    tokio::task::yield_now().await;
}
