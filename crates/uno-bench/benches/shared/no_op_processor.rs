//! batch-aint-one's side of the batching benchmarks: a processor that hands every
//! item straight back, as uno's and the hand loop's no-op operations do.

/// Hands every item straight back; it needs no resources and has no keys.
#[derive(Debug, Clone)]
pub(crate) struct NoOpProcessor;

impl batch_aint_one::Processor for NoOpProcessor {
    type Key = ();
    type Input = u64;
    type Output = u64;
    type Error = String;
    type Resources = ();

    async fn acquire_resources(&self, _key: ()) -> Result<(), String> {
        Ok(())
    }

    async fn process(
        &self,
        _key: (),
        inputs: impl Iterator<Item = u64> + Send,
        _resources: (),
    ) -> Result<Vec<u64>, String> {
        Ok(inputs.collect())
    }
}
