//! Criterion micro-benchmarks of the bridge's hot steps (see
//! `psa_bridge_bench::micro`): `cargo bench -p psa-bridge-bench`.

use criterion::{criterion_group, criterion_main, Criterion};
use psa_bridge_bench::micro::{Fixture, VENDORS};

fn micro(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().expect("a Tokio runtime");
    let fixture = runtime
        .block_on(Fixture::start())
        .expect("start the simulators and connectors");
    c.bench_function("diff_map_one_ticket", |b| {
        b.iter(|| std::hint::black_box(fixture.diff_map()))
    });
    for (index, vendor) in VENDORS.iter().enumerate() {
        c.bench_function(&format!("verify_webhook_{vendor}"), |b| {
            b.iter(|| runtime.block_on(fixture.verify(index)).expect("verified"))
        });
    }
    c.bench_function("outbox_transaction_flushed", |b| {
        b.iter(|| {
            runtime
                .block_on(fixture.outbox_transaction())
                .expect("stored")
        })
    });
}

criterion_group!(benches, micro);
criterion_main!(benches);
