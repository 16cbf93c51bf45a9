struct Client;

impl Client {
    #[uno::retry(max_attempts = 3)]
    async fn reset(&mut self) -> Result<(), String> {
        Ok(())
    }
}

#[uno::retry(max_attempts = 3)]
async fn fill(buffer: &mut Vec<u8>) -> Result<(), String> {
    buffer.push(1);
    Ok(())
}

fn main() {}
