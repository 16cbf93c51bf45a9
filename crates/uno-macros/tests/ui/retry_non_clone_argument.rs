struct Connection;

#[uno::retry(max_attempts = 3)]
async fn send(connection: Connection) -> Result<(), String> {
    let _ = connection;
    Ok(())
}

fn main() {}
