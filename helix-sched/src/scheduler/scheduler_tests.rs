//! Run-loop tests: the scheduler stepped through fake time, tick by tick.

use std::time::Duration;

use crate::scheduler::test_support::{offer, report, starts, status, summary, Sim, GIB};
use crate::scheduler::{Action, Prewarm, Priority, RunnerState, SchedulerConfig, WorkRequest};
use crate::types::InstanceState::{Failed, Ready, Restarting};

fn sim() -> Sim {
    Sim::new(SchedulerConfig::default())
}

/// A runner `r1` with two 80 GiB GPUs offering `m` (15 GiB, 1 slot) and `n` (15 GiB).
fn two_gpu_runner(s: &mut Sim) {
    s.connect(report(
        "r1",
        &[80, 80],
        vec![offer("m", 15, 1, 1), offer("n", 15, 1, 1)],
    ));
}

fn heartbeat(s: &mut Sim, runner: &str) {
    let instances = s
        .sched
        .cluster()
        .instances()
        .filter(|i| i.runner().as_str() == runner)
        .map(|i| status(i.id().as_str(), i.model(), i.gpus(), i.state()))
        .collect();
    let gpus = crate::scheduler::test_support::gpus(&[80, 80]);
    let now = s.now;
    s.sched
        .runner_heartbeat(now, &runner.into(), gpus, instances);
}

fn runner_state(s: &Sim, runner: &str) -> RunnerState {
    s.sched
        .view(s.now)
        .runners
        .iter()
        .find(|r| r.id.as_str() == runner)
        .map(|r| r.state)
        .expect("runner")
}

#[test]
fn missed_heartbeat_does_not_unload_a_runner() {
    let mut s = sim();
    two_gpu_runner(&mut s);
    let t1 = s.enqueue("alice", "m");
    assert_eq!(summary(&s.tick()), ["start ins_1 m on r1 [0]"]);
    s.at(2.0).all_ready();
    assert_eq!(summary(&s.tick()), ["grant 1 ins_1 on r1"]);
    s.sched.release(s.now, t1);

    s.at(4.0);
    heartbeat(&mut s, "r1");
    // The heartbeat due at 8 s never comes; at 12 s only one was missed.
    s.at(12.0);
    assert!(s.tick().is_empty());
    assert_eq!(runner_state(&s, "r1"), RunnerState::Connected);
    s.enqueue("alice", "m");
    assert_eq!(summary(&s.tick()), ["grant 2 ins_1 on r1"]);

    // Silent for the whole timeout: stale. Its instance still serves, nothing new
    // is placed on it, and nothing is unloaded.
    s.at(14.5);
    let t3 = s.enqueue("bob", "n");
    assert!(s.tick().is_empty());
    assert_eq!(runner_state(&s, "r1"), RunnerState::Stale);
    s.sched.release(s.now, crate::scheduler::TicketId(2));
    s.enqueue("carol", "m");
    assert_eq!(summary(&s.tick()), ["grant 4 ins_1 on r1"]);
    assert_eq!(s.sched.cluster().booked_bytes(&"r1".into(), 0), 15 * GIB);

    // A heartbeat makes it fresh again, and the waiting model is placed.
    s.at(15.0);
    heartbeat(&mut s, "r1");
    assert_eq!(runner_state(&s, "r1"), RunnerState::Connected);
    assert_eq!(summary(&s.tick()), ["start ins_2 n on r1 [1]"]);
    assert!(s.sched.view(s.now).queue.iter().any(|q| q.ticket == t3));
}

#[test]
fn cancelled_request_leaves_the_queue() {
    let mut s = sim();
    two_gpu_runner(&mut s);
    let t1 = s.enqueue("alice", "m");
    let t2 = s.enqueue("bob", "m");
    s.tick();
    assert!(s.sched.cancel(s.now, t1));
    assert!(!s.sched.cancel(s.now, t1));
    let queue = s.sched.view(s.now).queue;
    assert_eq!(queue.len(), 1);
    assert_eq!(queue[0].ticket, t2);

    s.at(1.0).all_ready();
    assert_eq!(summary(&s.tick()), ["grant 2 ins_1 on r1"]);
    // Cancelling granted work frees its slot.
    assert_eq!(
        s.sched.cluster().instances().next().map(|i| i.active()),
        Some(1)
    );
    assert!(s.sched.cancel(s.now, t2));
    assert_eq!(
        s.sched.cluster().instances().next().map(|i| i.active()),
        Some(0)
    );
}

#[test]
fn busy_model_that_will_fit_waits_instead_of_failing() {
    let mut s = Sim::new(SchedulerConfig {
        max_instances_per_model: 1,
        ..SchedulerConfig::default()
    });
    two_gpu_runner(&mut s);
    let t1 = s.enqueue("alice", "m");
    s.tick();
    s.at(1.0).all_ready();
    assert_eq!(summary(&s.tick()), ["grant 1 ins_1 on r1"]);
    s.enqueue("bob", "m");
    for secs in 2..10 {
        assert!(s.at(f64::from(secs)).tick().is_empty());
    }
    let queue = s.sched.view(s.now).queue;
    assert!(
        queue[0].waiting_for.contains("busy"),
        "{}",
        queue[0].waiting_for
    );
    s.sched.release(s.now, t1);
    assert_eq!(summary(&s.tick()), ["grant 2 ins_1 on r1"]);
    // The repeated wait was logged once.
    let waits = s
        .sched
        .view(s.now)
        .decisions
        .iter()
        .filter(|d| d.kind == crate::scheduler::DecisionKind::Wait)
        .count();
    assert_eq!(waits, 1, "{}", s.text());
}

#[test]
fn loading_one_model_does_not_block_requests_to_warm_ones() {
    let mut s = sim();
    two_gpu_runner(&mut s);
    s.enqueue("alice", "m");
    s.tick();
    s.at(1.0).all_ready();
    s.tick();
    s.sched.release(s.now, crate::scheduler::TicketId(1));

    // "n" comes first and must load; "m" behind it is warm.
    s.at(2.0);
    s.enqueue("bob", "n");
    s.enqueue("carol", "m");
    assert_eq!(
        summary(&s.tick()),
        ["start ins_2 n on r1 [1]", "grant 3 ins_1 on r1"]
    );
}

#[test]
fn owner_with_one_request_is_served_within_the_first_two_grants() {
    let mut s = Sim::new(SchedulerConfig {
        max_instances_per_model: 1,
        ..SchedulerConfig::default()
    });
    two_gpu_runner(&mut s);
    for _ in 0..50 {
        s.enqueue("a", "m");
    }
    let b = s.enqueue("b", "m");
    s.tick();
    s.at(1.0).all_ready();
    let mut grants = Vec::new();
    for step in 0..3 {
        s.at(2.0 + f64::from(step));
        for action in s.tick() {
            if let Action::Grant { ticket, .. } = action {
                grants.push(ticket);
                s.sched.release(s.now, ticket);
            }
        }
    }
    assert_eq!(grants.len(), 3);
    assert!(grants[..2].contains(&b), "{grants:?}");
}

#[test]
fn higher_priority_is_granted_first() {
    let mut s = Sim::new(SchedulerConfig {
        max_instances_per_model: 1,
        ..SchedulerConfig::default()
    });
    two_gpu_runner(&mut s);
    let enqueue = |s: &mut Sim, owner: &str, p: Priority| {
        s.sched
            .enqueue(s.now, WorkRequest::new(owner, "m").priority(p))
            .expect("enqueue")
    };
    let bg = enqueue(&mut s, "x", Priority::Background);
    let normal = enqueue(&mut s, "y", Priority::Normal);
    let interactive = enqueue(&mut s, "z", Priority::Interactive);
    s.tick();
    s.at(1.0).all_ready();
    let mut order = Vec::new();
    for _ in 0..3 {
        for action in s.tick() {
            if let Action::Grant { ticket, .. } = action {
                order.push(ticket);
                s.sched.release(s.now, ticket);
            }
        }
    }
    assert_eq!(order, [interactive, normal, bg]);
}

#[test]
fn passed_deadline_rejects_with_queue_timeout() {
    let mut s = sim();
    two_gpu_runner(&mut s);
    let deadline = s.now + Duration::from_secs(5);
    let t = s
        .sched
        .enqueue(s.now, WorkRequest::new("alice", "m").deadline(deadline))
        .expect("enqueue");
    s.tick();
    assert!(s.at(4.9).tick().is_empty());
    let actions = s.at(5.0).tick();
    let [Action::Reject { ticket, error }] = actions.as_slice() else {
        panic!("{actions:?}")
    };
    assert_eq!(*ticket, t);
    assert_eq!(error.code(), "queue_timeout");
    assert_eq!(
        error.to_string(),
        "request 1 for model m timed out after 5000 ms in the queue"
    );
    assert!(s.sched.view(s.now).queue.is_empty());
}

#[test]
fn full_queue_refuses_with_queue_full_and_owner_queue_full() {
    let mut s = Sim::new(SchedulerConfig {
        queue_capacity: 2,
        per_owner_queue_capacity: 1,
        ..SchedulerConfig::default()
    });
    two_gpu_runner(&mut s);
    let now = s.now;
    s.enqueue("a", "m");
    let err = s
        .sched
        .enqueue(now, WorkRequest::new("a", "m"))
        .unwrap_err();
    assert_eq!(err.code(), "owner_queue_full");
    assert_eq!(
        err.to_string(),
        "owner a has 1 requests queued, the most one owner may"
    );
    s.enqueue("b", "m");
    let err = s
        .sched
        .enqueue(now, WorkRequest::new("c", "m"))
        .unwrap_err();
    assert_eq!(err.code(), "queue_full");
    let refusals = s
        .sched
        .view(now)
        .decisions
        .iter()
        .filter(|d| d.kind == crate::scheduler::DecisionKind::Refuse)
        .count();
    assert_eq!(refusals, 2);
}

#[test]
fn model_larger_than_the_whole_cluster_is_refused_not_queued() {
    let mut s = sim();
    s.connect(report("r1", &[80, 80], vec![offer("giant", 200, 1, 2)]));
    let err = s
        .sched
        .enqueue(s.now, WorkRequest::new("alice", "giant"))
        .unwrap_err();
    assert_eq!(err.code(), "model_too_large");
    assert!(s.sched.view(s.now).queue.is_empty());
    let err = s
        .sched
        .enqueue(s.now, WorkRequest::new("alice", "unknown"))
        .unwrap_err();
    assert_eq!(err.code(), "model_not_offered");
    assert_eq!(
        err.to_string(),
        "model unknown is not offered by any runner"
    );
}

#[test]
fn idle_instance_is_stopped_after_keep_alive() {
    let mut s = sim();
    two_gpu_runner(&mut s);
    let t = s.enqueue("alice", "m");
    s.tick();
    s.at(1.0).all_ready();
    s.tick();
    s.at(10.0);
    s.sched.release(s.now, t);
    for secs in [100.0, 309.9] {
        s.at(secs);
        heartbeat(&mut s, "r1");
        assert!(s.tick().is_empty());
    }
    s.at(310.0);
    let actions = s.tick();
    let [Action::StopInstance {
        runner,
        instance,
        reason,
    }] = actions.as_slice()
    else {
        panic!("{actions:?}")
    };
    assert_eq!((runner.as_str(), instance.as_str()), ("r1", "ins_1"));
    assert_eq!(reason, "idle for 5m0s (keep_alive 5m0s)");
    assert_eq!(s.sched.cluster().booked_bytes(&"r1".into(), 0), 0);
    // A heartbeat still listing it while it stops does not book it again.
    heartbeat_with(&mut s, vec![status("ins_1", "m", &[0], Ready)]);
    assert_eq!(s.sched.cluster().booked_bytes(&"r1".into(), 0), 0);
    heartbeat_with(&mut s, vec![]);
    assert!(s.sched.cluster().instance(&"ins_1".into()).is_none());
}

fn heartbeat_with(s: &mut Sim, instances: Vec<crate::types::InstanceStatus>) {
    let now = s.now;
    let gpus = crate::scheduler::test_support::gpus(&[80, 80]);
    s.sched.runner_heartbeat(now, &"r1".into(), gpus, instances);
}

#[test]
fn prewarm_keeps_the_minimum_of_instances() {
    let mut s = Sim::new(SchedulerConfig {
        prewarm: vec![Prewarm {
            model: "m".into(),
            instances: 2,
        }],
        ..SchedulerConfig::default()
    });
    assert!(s.tick().is_empty());
    two_gpu_runner(&mut s);
    assert_eq!(summary(&s.tick()), ["start ins_1 m on r1 [0]"]);
    assert_eq!(summary(&s.tick()), ["start ins_2 m on r1 [1]"]);
    assert!(s.tick().is_empty());
    s.all_ready();
    // Far past keep-alive: the prewarmed instances stay.
    s.at(3600.0);
    heartbeat(&mut s, "r1");
    assert!(s.tick().is_empty());
    assert_eq!(s.sched.cluster().instances().count(), 2);
}

#[test]
fn disconnected_runner_is_kept_for_its_grace_then_forgotten() {
    let mut s = sim();
    two_gpu_runner(&mut s);
    s.enqueue("alice", "m");
    s.tick();
    s.at(1.0).all_ready();
    s.tick();
    s.sched.release(s.now, crate::scheduler::TicketId(1));

    // Disconnected: still booked, not granted.
    s.at(2.0);
    s.sched.runner_disconnected(s.now, &"r1".into());
    let t2 = s.enqueue("bob", "m");
    assert!(s.tick().is_empty());
    assert_eq!(runner_state(&s, "r1"), RunnerState::Disconnected);
    assert_eq!(s.sched.cluster().booked_bytes(&"r1".into(), 0), 15 * GIB);

    // Reconnects within grace with its instance: resumes serving.
    s.at(20.0);
    let mut r = report(
        "r1",
        &[80, 80],
        vec![offer("m", 15, 1, 1), offer("n", 15, 1, 1)],
    );
    r.instances = vec![status("ins_1", "m", &[0], Ready)];
    s.connect(r);
    assert_eq!(summary(&s.tick()), ["grant 2 ins_1 on r1"]);
    s.sched.release(s.now, t2);

    // Disconnects for good: forgotten after the grace; queued requests rejected.
    s.at(30.0);
    s.sched.runner_disconnected(s.now, &"r1".into());
    s.enqueue("carol", "m");
    assert!(s.at(59.9).tick().is_empty());
    assert_eq!(s.sched.cluster().booked_bytes(&"r1".into(), 0), 15 * GIB);
    assert_eq!(summary(&s.at(60.0).tick()), ["reject 3 model_not_offered"]);
    assert_eq!(s.sched.cluster().runners().count(), 0);
    assert_eq!(s.sched.cluster().instances().count(), 0);
    let err = s
        .sched
        .enqueue(s.now, WorkRequest::new("dave", "m"))
        .unwrap_err();
    assert_eq!(err.code(), "model_not_offered");
}

#[test]
fn resync_after_reconnect_adopts_instances() {
    let mut s = sim();
    let mut r = report(
        "r1",
        &[80, 80],
        vec![offer("m", 50, 1, 1), offer("n", 50, 1, 1)],
    );
    r.instances = vec![
        status("ins_x", "m", &[0], Ready),
        status("ins_y", "n", &[0], Ready),
    ];
    s.connect(r.clone());
    // Adopted as reported, even over the GPU's total.
    assert_eq!(s.sched.cluster().booked_bytes(&"r1".into(), 0), 100 * GIB);
    s.enqueue("alice", "m");
    assert_eq!(summary(&s.tick()), ["grant 1 ins_x on r1"]);

    // Reconnect: ins_x is gone (its grant too), ins_z is new.
    s.at(5.0);
    r.instances = vec![
        status("ins_y", "n", &[0], Ready),
        status("ins_z", "m", &[1], Restarting),
    ];
    s.connect(r);
    let ids: Vec<&str> = s
        .sched
        .cluster()
        .instances()
        .map(|i| i.id().as_str())
        .collect();
    assert_eq!(ids, ["ins_y", "ins_z"]);
    assert_eq!(s.sched.view(s.now).granted.len(), 0);
    assert_eq!(s.sched.cluster().booked_bytes(&"r1".into(), 0), 50 * GIB);
    assert_eq!(s.sched.cluster().booked_bytes(&"r1".into(), 1), 50 * GIB);
    // Restarting is booked but not granted.
    s.enqueue("bob", "m");
    assert!(s.tick().is_empty());
}

#[test]
fn failed_instance_rejects_queued_requests_with_model_failed() {
    let mut s = sim();
    two_gpu_runner(&mut s);
    s.enqueue("alice", "m");
    s.enqueue("bob", "m");
    let spec = starts(&s.tick()).remove(0);
    s.at(3.0).report_state("r1", &spec, Failed);
    assert_eq!(s.sched.cluster().booked_bytes(&"r1".into(), 0), 0);
    let actions = s.tick();
    assert_eq!(
        summary(&actions),
        ["reject 1 model_failed", "reject 2 model_failed"]
    );
    let Action::Reject { error, .. } = &actions[0] else {
        unreachable!()
    };
    assert_eq!(
        error.to_string(),
        "model m failed on runner r1 (instance ins_1): exit status 1"
    );
    // A later request tries again.
    s.enqueue("carol", "m");
    assert_eq!(summary(&s.tick()), ["start ins_2 m on r1 [0]"]);
}

#[test]
fn hot_model_scales_out() {
    let mut s = sim();
    s.connect(report("r1", &[80, 80], vec![offer("m", 30, 1, 1)]));
    for owner in ["a", "b", "c"] {
        s.enqueue(owner, "m");
    }
    assert_eq!(summary(&s.tick()), ["start ins_1 m on r1 [0]"]);
    s.at(1.0).all_ready();
    assert_eq!(
        summary(&s.tick()),
        ["grant 1 ins_1 on r1", "start ins_2 m on r1 [1]"]
    );
    s.at(2.0).all_ready();
    assert_eq!(
        summary(&s.tick()),
        ["grant 2 ins_2 on r1", "start ins_3 m on r1 [0]"]
    );
    s.at(3.0).all_ready();
    assert_eq!(summary(&s.tick()), ["grant 3 ins_3 on r1"]);
    s.enqueue("d", "m");
    assert_eq!(summary(&s.tick()), ["start ins_4 m on r1 [1]"]);
    s.at(4.0).all_ready();
    assert_eq!(summary(&s.tick()), ["grant 4 ins_4 on r1"]);
    // At max_instances_per_model (4): the next one waits.
    s.enqueue("e", "m");
    assert!(s.tick().is_empty());
    let queue = s.sched.view(s.now).queue;
    assert!(
        queue[0].waiting_for.contains("max_instances_per_model 4"),
        "{queue:?}"
    );
}

#[test]
fn evictions_are_stopped_before_the_start_that_needs_them() {
    let mut s = sim();
    s.connect(report(
        "r1",
        &[80],
        vec![offer("a", 60, 1, 1), offer("b", 60, 1, 1)],
    ));
    let t = s.enqueue("alice", "a");
    s.tick();
    s.at(1.0).all_ready();
    s.tick();
    s.sched.release(s.now, t);
    s.at(2.0);
    s.enqueue("bob", "b");
    assert_eq!(
        summary(&s.tick()),
        ["stop ins_1 on r1", "start ins_2 b on r1 [0]"]
    );
    assert_eq!(s.sched.cluster().booked_bytes(&"r1".into(), 0), 60 * GIB);
}

#[test]
fn view_text_names_every_field() {
    let mut s = sim();
    s.connect(report(
        "r1",
        &[80, 80],
        vec![offer("a", 15, 2, 1), offer("big", 140, 1, 2)],
    ));
    s.enqueue("alice", "a");
    s.enqueue("bob", "big");
    s.at(0.5).tick();
    s.at(2.0).all_ready();
    s.at(2.5).tick();
    s.at(3.0);
    let expected = r#"runner id=r1 name="r1-box" state=connected seen_secs_ago=3
  gpu index=0 name="H100" total=80.0 GiB free=80.0 GiB booked=15.0 GiB
  gpu index=1 name="H100" total=80.0 GiB free=80.0 GiB booked=0 B
  offer name=a runtime=llama_cpp memory=15.0 GiB context_len=8192 parallel=2 max_gpus=1
  offer name=big runtime=llama_cpp memory=140.0 GiB context_len=8192 parallel=1 max_gpus=2
  instance id=ins_1 model=a gpus=[0] state=ready active=1/2 idle_secs=0 booked=15.0 GiB
queue len=1
  ticket=2 owner=bob model=big priority=normal waited=3s waiting_for="big needs 140.0 GiB on one gpu or split up to 2 ways (70.0 GiB per gpu) and no eligible gpus have room even after evicting idle instances: the most unbooked is 80.0 GiB on r1 gpu 1 (of 2 eligible gpus)"
granted len=1
  ticket=1 owner=alice model=a runner=r1 instance=ins_1 held=500ms
decisions len=5
  ago=3s kind=runner message="runner r1 (r1-box) connected: 2 gpus, 2 offers, 0 instances reported"
  ago=2s kind=start message="started instance ins_1: placed a on r1 gpu 0: needs 15.0 GiB, 80.0 GiB unbooked (most unbooked of 2 eligible gpus)"
  ago=2s kind=wait message="big needs 140.0 GiB on one gpu or split up to 2 ways (70.0 GiB per gpu) and no eligible gpus have room even after evicting idle instances: the most unbooked is 80.0 GiB on r1 gpu 1 (of 2 eligible gpus)"
  ago=1s kind=instance message="instance ins_1 of a on r1 is ready"
  ago=500ms kind=grant message="granted ticket 1 (alice, normal) to instance ins_1 of a on r1 gpu 0: 1/2 slots busy, waited 2s"
"#;
    assert_eq!(s.text(), expected);
}

#[test]
fn view_serializes_with_relative_numbers_and_wire_names() {
    let mut s = sim();
    two_gpu_runner(&mut s);
    s.enqueue("alice", "m");
    s.tick();
    s.at(1.5);
    let json = serde_json::to_value(s.sched.view(s.now)).expect("json");
    let runner = &json["runners"][0];
    assert_eq!(runner["state"], "connected");
    assert_eq!(runner["seen_secs_ago"], 1);
    assert_eq!(runner["gpus"][0]["booked_bytes"], 15 * GIB);
    assert_eq!(runner["gpus"][0]["free_bytes"], 80 * GIB);
    assert_eq!(runner["instances"][0]["state"], "loading");
    assert_eq!(runner["instances"][0]["slots"], 1);
    let queued = &json["queue"][0];
    assert_eq!(queued["ticket"], 1);
    assert_eq!(queued["priority"], "normal");
    assert_eq!(queued["waited_ms"], 1500);
    assert_eq!(queued["waiting_for"], "instance ins_1 of m to load");
    assert_eq!(json["decisions"][1]["kind"], "start");
}

#[test]
fn scheduler_can_live_behind_a_mutex_shared_across_threads() {
    fn assert_send<T: Send>() {}
    assert_send::<crate::scheduler::Scheduler>();
    let shared =
        std::sync::Mutex::new(crate::scheduler::Scheduler::new(SchedulerConfig::default()));
    std::thread::scope(|scope| {
        scope.spawn(|| shared.lock().expect("lock").tick(std::time::Instant::now()));
    });
}
