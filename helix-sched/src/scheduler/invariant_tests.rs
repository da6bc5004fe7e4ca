//! Property test: whatever runners, requests and time do, booked memory never
//! exceeds a GPU and the bookings match the instances.

use std::time::Duration;

use proptest::prelude::*;

use crate::scheduler::test_support::{gpus, offer, Sim};
use crate::scheduler::{Action, RunnerReport, SchedulerConfig, TicketId, WorkRequest};
use crate::types::{InstanceState, InstanceStatus, RunnerId};

const RUNNERS: [(&str, &[u64]); 3] = [("r0", &[80, 80]), ("r1", &[24]), ("r2", &[48, 48, 48, 48])];
const OWNERS: [&str; 3] = ["alice", "bob", "carol"];
const MODELS: [&str; 5] = ["a", "b", "c", "d", "e"];

#[derive(Debug, Clone)]
enum Op {
    Connect(usize),
    Heartbeat(usize),
    Disconnect(usize),
    Enqueue(usize, usize),
    Tick,
    Ready(usize),
    Fail(usize),
    Release(usize),
    Cancel(usize),
    Advance(u64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => (0..3usize).prop_map(Op::Connect),
        2 => (0..3usize).prop_map(Op::Heartbeat),
        1 => (0..3usize).prop_map(Op::Disconnect),
        6 => (0..3usize, 0..5usize).prop_map(|(o, m)| Op::Enqueue(o, m)),
        6 => Just(Op::Tick),
        4 => (0..16usize).prop_map(Op::Ready),
        1 => (0..16usize).prop_map(Op::Fail),
        3 => (0..64usize).prop_map(Op::Release),
        1 => (0..64usize).prop_map(Op::Cancel),
        2 => (0..40_000u64).prop_map(Op::Advance),
    ]
}

fn offers() -> Vec<crate::types::ModelOffer> {
    vec![
        offer("a", 15, 2, 1),
        offer("b", 40, 1, 1),
        offer("c", 70, 1, 4),
        offer("d", 100, 1, 2),
        offer("e", 20, 4, 1),
    ]
}

/// The instances the scheduler knows on `runner`, as the runner would report them.
fn known(s: &Sim, runner: &str) -> Vec<InstanceStatus> {
    s.sched
        .cluster()
        .instances()
        .filter(|i| i.runner().as_str() == runner)
        .map(|i| InstanceStatus {
            instance: i.id().clone(),
            model: i.model().into(),
            gpus: i.gpus().to_vec(),
            state: i.state(),
            message: None,
        })
        .collect()
}

fn check(s: &Sim) -> Result<(), TestCaseError> {
    let c = s.sched.cluster();
    for runner in c.runners() {
        for gpu in runner.gpus() {
            let expected: u64 = c
                .instances()
                .filter(|i| i.runner() == runner.id() && i.gpus().contains(&gpu.info.index))
                .map(|i| i.share_bytes())
                .sum();
            prop_assert_eq!(gpu.booked, expected, "bookings drifted on {}", runner.id());
            let idle: u64 = c
                .instances()
                .filter(|i| i.runner() == runner.id() && i.gpus().contains(&gpu.info.index))
                .filter(|i| i.is_idle())
                .map(|i| i.share_bytes())
                .sum();
            prop_assert_eq!(gpu.idle, idle, "idle sums drifted on {}", runner.id());
            prop_assert!(
                gpu.booked <= gpu.info.total_bytes,
                "{} gpu {} booked {} of {}",
                runner.id(),
                gpu.info.index,
                gpu.booked,
                gpu.info.total_bytes
            );
        }
    }
    for inst in c.instances() {
        prop_assert!(inst.active() <= inst.slots(), "{inst:?}");
        prop_assert!(c.runner(inst.runner()).is_some(), "orphan {inst:?}");
    }
    for g in s.sched.view(s.now).granted {
        prop_assert!(
            c.instance(&g.instance).is_some(),
            "grant on a gone instance"
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn booked_memory_never_exceeds_a_gpu_under_concurrent_requests(
        ops in prop::collection::vec(op(), 1..80)
    ) {
        let mut s = Sim::new(SchedulerConfig {
            keep_alive: Duration::from_secs(60),
            ..SchedulerConfig::default()
        });
        let mut tickets: Vec<TicketId> = Vec::new();
        for op in ops {
            match op {
                Op::Connect(r) => {
                    let (id, totals) = RUNNERS[r];
                    let report = RunnerReport {
                        id: id.into(),
                        name: id.into(),
                        gpus: gpus(totals),
                        offers: offers(),
                        instances: known(&s, id),
                    };
                    s.connect(report);
                }
                Op::Heartbeat(r) => {
                    let (id, totals) = RUNNERS[r];
                    let instances = known(&s, id);
                    let now = s.now;
                    s.sched.runner_heartbeat(now, &id.into(), gpus(totals), instances);
                }
                Op::Disconnect(r) => {
                    let now = s.now;
                    s.sched.runner_disconnected(now, &RunnerId::from(RUNNERS[r].0));
                }
                Op::Enqueue(o, m) => {
                    let now = s.now;
                    if let Ok(t) = s.sched.enqueue(now, WorkRequest::new(OWNERS[o], MODELS[m])) {
                        tickets.push(t);
                    }
                }
                Op::Tick => {
                    for action in s.tick() {
                        if let Action::StartInstance { runner, spec } = &action {
                            let gpu_count = s
                                .sched
                                .cluster()
                                .runner(runner)
                                .map_or(0, |r| r.gpus().len());
                            prop_assert!(spec.gpus.len() <= gpu_count);
                        }
                    }
                }
                Op::Ready(n) | Op::Fail(n) => {
                    let pick = s
                        .sched
                        .cluster()
                        .instances()
                        .filter(|i| matches!(op, Op::Fail(_)) || i.state() == InstanceState::Loading)
                        .nth(n)
                        .map(|i| (i.runner().clone(), i.id().clone(), i.model().to_owned(), i.gpus().to_vec()));
                    if let Some((runner, instance, model, gpus)) = pick {
                        let state = if matches!(op, Op::Fail(_)) {
                            InstanceState::Failed
                        } else {
                            InstanceState::Ready
                        };
                        let now = s.now;
                        s.sched.instance_status(now, &runner, InstanceStatus {
                            instance, model, gpus, state, message: None,
                        });
                    }
                }
                Op::Release(n) => {
                    if let Some(t) = tickets.get(n) {
                        let now = s.now;
                        s.sched.release(now, *t);
                    }
                }
                Op::Cancel(n) => {
                    if let Some(t) = tickets.get(n) {
                        let now = s.now;
                        s.sched.cancel(now, *t);
                    }
                }
                Op::Advance(ms) => {
                    s.now += Duration::from_millis(ms);
                }
            }
            check(&s)?;
        }
    }
}
