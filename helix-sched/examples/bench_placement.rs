//! Placement decisions per second on a large cluster, against a naive first-fit
//! baseline over the same snapshot.
//!
//! ```sh
//! cargo run --release -p helix-sched --example bench_placement
//! ```
//!
//! The cluster: 100 runners x 8 GPUs of 80 GiB, 50 models from 4 to 300 GiB (the big
//! ones tensor parallel up to 2, 4 or 8 GPUs), each runner offering 30 of them, and
//! about two thirds of the GPU memory already booked by instances that are ready
//! (mostly busy, some idle) or loading; 10 models have no instance. Each decision is
//! one `place` call for a random model on that fixed snapshot; a second scenario asks
//! only for the models without an instance (a new placement every time).

use std::hint::black_box;
use std::time::{Duration, Instant};

use helix_sched::scheduler::{place, Cluster, PlaceMode, PlaceOptions, Placement};
use helix_sched::{
    GpuInfo, InstanceId, InstanceState, InstanceStatus, ModelOffer, RunnerId, RuntimeKind,
};

const RUNNERS: usize = 100;
const GPUS: u32 = 8;
const MODELS: usize = 50;
/// Models with no instance placed.
const COLD: usize = 10;
const OFFERS_PER_RUNNER: usize = 30;
const DECISIONS: usize = 100_000;
const GIB: u64 = 1 << 30;

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn models(rng: &mut Rng) -> Vec<ModelOffer> {
    (0..MODELS)
        .map(|i| {
            let (gib, max_gpus) = match i % 10 {
                0 => (140 + rng.below(160) as u64, 8),
                1 => (90 + rng.below(60) as u64, 2),
                2 => (100 + rng.below(100) as u64, 4),
                _ => (4 + rng.below(60) as u64, 1),
            };
            ModelOffer {
                name: format!("model-{i:02}"),
                runtime: RuntimeKind::LlamaCpp,
                memory_bytes: gib * GIB,
                context_len: 8192,
                parallel: 1 + rng.below(4) as u32,
                embeddings: false,
                max_gpus,
            }
        })
        .collect()
}

fn cluster(rng: &mut Rng, now: Instant, offers: &[ModelOffer]) -> Cluster {
    let mut c = Cluster::new();
    for r in 0..RUNNERS {
        let gpus = (0..GPUS)
            .map(|index| GpuInfo {
                index,
                name: "H100".into(),
                total_bytes: 80 * GIB,
                free_bytes: 80 * GIB,
            })
            .collect();
        let mut mine: Vec<ModelOffer> = offers.to_vec();
        while mine.len() > OFFERS_PER_RUNNER {
            mine.swap_remove(rng.below(mine.len()));
        }
        c.upsert_runner(
            now,
            RunnerId(format!("r{r:03}")),
            format!("box-{r}"),
            gpus,
            mine,
        );
    }
    // Fill to about two thirds of the memory with a mix of instance states.
    let total = RUNNERS as u64 * u64::from(GPUS) * 80 * GIB;
    let prewarm = PlaceOptions {
        max_instances_per_model: u32::MAX,
        mode: PlaceMode::Prewarm,
    };
    let mut booked = 0u64;
    let mut n = 0u64;
    let mut misses = 0;
    while booked < total / 3 * 2 && misses < 1000 {
        // The last COLD models get no instance: requests for them must place one.
        let offer = &offers[rng.below(offers.len() - COLD)];
        let Placement::Start { runner, gpus, .. } = place(&c, &offer.name, &prewarm) else {
            misses += 1;
            continue;
        };
        n += 1;
        let id = InstanceId(format!("ins_{n}"));
        let state = if rng.below(10) == 0 {
            InstanceState::Loading
        } else {
            InstanceState::Ready
        };
        let age = Duration::from_secs(rng.below(3600) as u64);
        let status = InstanceStatus {
            instance: id.clone(),
            model: offer.name.clone(),
            gpus,
            state,
            message: None,
        };
        c.add_instance(now - age, &runner, &status);
        if state == InstanceState::Ready {
            // Most are fully busy (requests wait or scale out); the rest partly.
            let active = if rng.below(10) < 7 {
                offer.parallel as usize
            } else {
                rng.below(offer.parallel as usize + 1)
            };
            for _ in 0..active {
                c.take_slot(now - age, &id);
            }
        }
        booked += offer.memory_bytes;
    }
    c
}

/// The naive baseline: the first GPU of the first connected runner offering the
/// model with enough unbooked memory; no instance reuse, no eviction, no tensor
/// parallel.
fn first_fit(c: &Cluster, model: &str) -> Option<(String, u32)> {
    for runner in c.runners() {
        let Some(offer) = runner.offers().get(model) else {
            continue;
        };
        for gpu in runner.gpus() {
            if gpu.unbooked() >= offer.memory_bytes {
                return Some((runner.id().to_string(), gpu.info.index));
            }
        }
    }
    None
}

struct Row {
    name: &'static str,
    decisions: usize,
    elapsed: Duration,
    p50: Duration,
    p99: Duration,
}

fn measure(name: &'static str, picks: &[usize], mut decide: impl FnMut(usize)) -> Row {
    let mut times = Vec::with_capacity(picks.len());
    let start = Instant::now();
    for &m in picks {
        let t = Instant::now();
        decide(m);
        times.push(t.elapsed());
    }
    let elapsed = start.elapsed();
    times.sort_unstable();
    Row {
        name,
        decisions: picks.len(),
        elapsed,
        p50: times[times.len() / 2],
        p99: times[times.len() * 99 / 100],
    }
}

fn main() {
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let now = Instant::now() + Duration::from_secs(7200);
    let offers = models(&mut rng);
    let c = cluster(&mut rng, now, &offers);
    let names: Vec<String> = offers.iter().map(|o| o.name.clone()).collect();
    let picks: Vec<usize> = (0..DECISIONS).map(|_| rng.below(names.len())).collect();
    let opts = PlaceOptions::default();

    let mut outcomes = [0usize; 4];
    for &m in &picks[..20_000] {
        let slot = match place(&c, &names[m], &opts) {
            Placement::Use { .. } => 0,
            Placement::Start { evict, .. } if evict.is_empty() => 1,
            Placement::Start { .. } => 2,
            _ => 3,
        };
        outcomes[slot] += 1;
    }

    let cold: Vec<usize> = picks.iter().map(|m| MODELS - COLD + m % COLD).collect();
    let rows = [
        measure("first-fit, any model", &picks, |m| {
            black_box(first_fit(black_box(&c), &names[m]));
        }),
        measure("place, any model", &picks, |m| {
            black_box(place(black_box(&c), &names[m], &opts));
        }),
        measure("first-fit, cold model", &cold, |m| {
            black_box(first_fit(black_box(&c), &names[m]));
        }),
        measure("place, cold model", &cold, |m| {
            black_box(place(black_box(&c), &names[m], &opts));
        }),
    ];
    println!(
        "bench_placement: {RUNNERS} runners x {GPUS} gpus, {MODELS} models ({OFFERS_PER_RUNNER} \
         offered per runner), {} instances, {:.0}% of memory booked",
        c.instances().count(),
        100.0
            * c.runners()
                .flat_map(|r| r.gpus())
                .map(|g| g.booked as f64)
                .sum::<f64>()
            / (RUNNERS as f64 * f64::from(GPUS) * 80.0 * GIB as f64)
    );
    println!(
        "place outcomes (first 20k of any model): use {}, start {}, start with eviction {}, wait/refuse {}",
        outcomes[0], outcomes[1], outcomes[2], outcomes[3]
    );
    println!(
        "{:<24}{:>10}{:>14}{:>10}{:>10}{:>12}",
        "scenario", "decisions", "decisions/s", "p50 us", "p99 us", "vs base"
    );
    for (i, row) in rows.iter().enumerate() {
        let base = &rows[i / 2 * 2];
        let rate = row.decisions as f64 / row.elapsed.as_secs_f64();
        let base_rate = base.decisions as f64 / base.elapsed.as_secs_f64();
        println!(
            "{:<24}{:>10}{:>14.0}{:>10.2}{:>10.2}{:>11.3}x",
            row.name,
            row.decisions,
            rate,
            row.p50.as_secs_f64() * 1e6,
            row.p99.as_secs_f64() * 1e6,
            rate / base_rate
        );
    }
    println!("(vs base: decisions/s relative to the first-fit row of the same scenario)");
}
