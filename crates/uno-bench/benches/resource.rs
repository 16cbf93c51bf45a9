//! uno-resource against calling initialize/cleanup by hand and against deadpool used
//! directly.

use std::convert::Infallible;
use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use deadpool::managed::{self, Metrics, RecycleResult};
use uno_resource::{AsyncResource, Managed, ResourcePool};

/// A resource whose lifecycle costs nothing, so the benchmark measures the wrapper.
struct Trivial {
    open: bool,
}

impl AsyncResource for Trivial {
    type Error = Infallible;

    async fn initialize(&mut self) -> Result<(), Infallible> {
        self.open = true;
        Ok(())
    }

    async fn cleanup(&mut self) -> Result<(), Infallible> {
        self.open = false;
        Ok(())
    }
}

/// The same resource, pooled by deadpool directly.
struct TrivialManager;

impl managed::Manager for TrivialManager {
    type Type = Trivial;
    type Error = Infallible;

    async fn create(&self) -> Result<Trivial, Infallible> {
        let mut resource = Trivial { open: false };
        resource.initialize().await?;
        Ok(resource)
    }

    async fn recycle(&self, _: &mut Trivial, _: &Metrics) -> RecycleResult<Infallible> {
        Ok(())
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a benchmark runtime")
}

fn managed_open_close(c: &mut Criterion) {
    let runtime = runtime();
    let mut group = c.benchmark_group("resource/managed_open_close");
    group.bench_function("uno", |b| {
        b.to_async(&runtime).iter(|| async {
            let managed = Managed::open(Trivial { open: false }).await.unwrap();
            black_box(managed.open);
            managed.close().await.unwrap();
        });
    });
    group.bench_function("by_hand", |b| {
        b.to_async(&runtime).iter(|| async {
            let mut resource = Trivial { open: false };
            resource.initialize().await.unwrap();
            black_box(resource.open);
            resource.cleanup().await.unwrap();
        });
    });
    group.finish();
}

fn pool_get_put(c: &mut Criterion) {
    let runtime = runtime();
    let mut group = c.benchmark_group("resource/pool_get_put");
    let pool = runtime.block_on(async {
        ResourcePool::builder(|| Trivial { open: false })
            .max_size(8)
            .build()
            .unwrap()
    });
    group.bench_function("uno", |b| {
        b.to_async(&runtime).iter(|| async {
            let resource = pool.acquire().await.unwrap();
            black_box(resource.open);
        });
    });
    let deadpool = managed::Pool::<TrivialManager>::builder(TrivialManager)
        .max_size(8)
        .build()
        .unwrap();
    group.bench_function("deadpool", |b| {
        b.to_async(&runtime).iter(|| async {
            let resource = deadpool.get().await.unwrap();
            black_box(resource.open);
        });
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2));
    targets = managed_open_close, pool_get_put
}
criterion_main!(benches);
