//! Table tests of the pure placement function.

use std::time::Duration;

use crate::scheduler::test_support::{add, cluster, epoch, offer, report, GIB};
use crate::scheduler::{place, Cluster, PlaceMode, PlaceOptions, Placement};
use crate::types::InstanceState::{Loading, Ready, Restarting};

/// One line per placement: what a table row expects.
fn describe(p: &Placement) -> String {
    match p {
        Placement::Use { instance } => format!("use {instance}"),
        Placement::Start {
            runner,
            gpus,
            evict,
            ..
        } => {
            let evict: Vec<&str> = evict.iter().map(|e| e.as_str()).collect();
            format!("start {runner} {gpus:?} evict {evict:?}")
        }
        Placement::Wait { .. } => "wait".into(),
        Placement::Refuse { error } => format!("refuse {}", error.code()),
    }
}

const MIN: Duration = Duration::from_secs(60);

fn serve(c: &Cluster, model: &str) -> Placement {
    place(c, model, &PlaceOptions::default())
}

#[test]
fn fifteen_gb_model_on_a_2x80_runner_lands_on_one_gpu() {
    let now = epoch();
    let c = cluster(
        now,
        vec![report("r1", &[80, 80], vec![offer("m", 15, 1, 2)])],
    );
    let p = serve(&c, "m");
    assert_eq!(describe(&p), "start r1 [0] evict []");
    let Placement::Start { reason, .. } = p else {
        unreachable!()
    };
    assert_eq!(
        reason,
        "placed m on r1 gpu 0: needs 15.0 GiB, 80.0 GiB unbooked (most unbooked of 2 eligible gpus)"
    );
}

#[test]
fn model_of_140_gb_goes_tensor_parallel_over_both_gpus() {
    let now = epoch();
    let c = cluster(
        now,
        vec![report("r1", &[80, 80], vec![offer("big", 140, 1, 8)])],
    );
    let p = serve(&c, "big");
    assert_eq!(describe(&p), "start r1 [0, 1] evict []");
    let Placement::Start { reason, .. } = p else {
        unreachable!()
    };
    assert!(
        reason.contains("tensor parallel on r1 gpus 0,1"),
        "{reason}"
    );
    assert!(reason.contains("70.0 GiB per gpu"), "{reason}");

    // Without tensor parallel it could never fit: refused, not queued.
    let c = cluster(
        now,
        vec![report("r1", &[80, 80], vec![offer("big", 140, 1, 1)])],
    );
    assert_eq!(describe(&serve(&c, "big")), "refuse model_too_large");
}

#[test]
fn two_small_models_spread_across_gpus() {
    let now = epoch();
    let offers = vec![offer("a", 15, 1, 1), offer("b", 15, 1, 1)];
    let mut c = cluster(now, vec![report("r1", &[80, 80], offers.clone())]);
    add(&mut c, now, "r1", ("ins_a", "a", &[0]), Loading, 0, MIN);
    assert_eq!(describe(&serve(&c, "b")), "start r1 [1] evict []");

    // The same across runners: the emptier GPU wins wherever it is.
    let mut c = cluster(
        now,
        vec![
            report("r1", &[80], offers.clone()),
            report("r2", &[80], offers),
        ],
    );
    add(&mut c, now, "r1", ("ins_a", "a", &[0]), Ready, 1, MIN);
    assert_eq!(describe(&serve(&c, "b")), "start r2 [0] evict []");
}

#[test]
fn idle_instances_are_evicted_to_fit_a_new_model_active_ones_never() {
    let now = epoch();
    let offers = vec![
        offer("old", 40, 1, 1),
        offer("recent", 30, 1, 1),
        offer("new", 50, 1, 1),
        offer("huge", 75, 1, 1),
    ];
    let rows: &[(&str, u32, u32, crate::types::InstanceState, &str)] = &[
        // (row, active of "old", active of "recent", state of "old", expected)
        (
            "both idle: evict only the least recently used",
            0,
            0,
            Ready,
            "start r1 [0] evict [\"ins_old\"]",
        ),
        (
            "old busy: recent alone frees too little",
            1,
            0,
            Ready,
            "wait",
        ),
        (
            "recent busy: old alone is enough",
            0,
            1,
            Ready,
            "start r1 [0] evict [\"ins_old\"]",
        ),
        ("both busy", 1, 1, Ready, "wait"),
        ("old loading is never evicted", 0, 0, Loading, "wait"),
        ("old restarting is never evicted", 0, 0, Restarting, "wait"),
    ];
    for (row, old_active, recent_active, old_state, expected) in rows {
        let mut c = cluster(now, vec![report("r1", &[80], offers.clone())]);
        add(
            &mut c,
            now,
            "r1",
            ("ins_old", "old", &[0]),
            *old_state,
            *old_active,
            10 * MIN,
        );
        add(
            &mut c,
            now,
            "r1",
            ("ins_recent", "recent", &[0]),
            Ready,
            *recent_active,
            MIN,
        );
        assert_eq!(describe(&serve(&c, "new")), *expected, "{row}");
    }

    // Two idle instances needed: both go, least recently used first.
    let mut c = cluster(now, vec![report("r1", &[80], offers.clone())]);
    add(
        &mut c,
        now,
        "r1",
        ("ins_old", "old", &[0]),
        Ready,
        0,
        10 * MIN,
    );
    add(
        &mut c,
        now,
        "r1",
        ("ins_recent", "recent", &[0]),
        Ready,
        0,
        MIN,
    );
    let p = serve(&c, "huge");
    assert_eq!(
        describe(&p),
        "start r1 [0] evict [\"ins_old\", \"ins_recent\"]"
    );
    let Placement::Start { reason, .. } = p else {
        unreachable!()
    };
    assert!(reason.contains("evicting 2 idle instances"), "{reason}");
    assert!(reason.contains("10.0 GiB unbooked"), "{reason}");
}

#[test]
fn placement_without_eviction_is_preferred() {
    let now = epoch();
    let offers = vec![offer("a", 70, 1, 1), offer("b", 40, 1, 1)];
    let mut c = cluster(
        now,
        vec![
            report("r1", &[80], offers.clone()),
            report("r2", &[60], offers),
        ],
    );
    add(&mut c, now, "r1", ("ins_a", "a", &[0]), Ready, 0, 10 * MIN);
    assert_eq!(describe(&serve(&c, "b")), "start r2 [0] evict []");
}

#[test]
fn model_larger_than_the_whole_cluster_is_refused_with_a_clear_error() {
    let now = epoch();
    let c = cluster(
        now,
        vec![
            report("r1", &[80, 80], vec![offer("giant", 400, 1, 2)]),
            report("r2", &[24, 24, 24, 24], vec![offer("giant", 400, 1, 4)]),
        ],
    );
    let Placement::Refuse { error } = serve(&c, "giant") else {
        panic!("not refused")
    };
    assert_eq!(error.code(), "model_too_large");
    assert!(error.is_user_error());
    let msg = error.to_string();
    assert!(msg.contains("giant"), "{msg}");
    assert!(msg.contains(&(400 * GIB).to_string()), "{msg}");
    // The largest possible: two 80 GiB GPUs on r1.
    assert!(msg.contains(&(160 * GIB).to_string()), "{msg}");

    assert_eq!(
        describe(&serve(&c, "nobody-has-it")),
        "refuse model_not_offered"
    );
}

#[test]
fn bigger_runner_wins_when_only_it_fits() {
    let now = epoch();
    let offers = vec![offer("m", 40, 1, 1)];
    let c = cluster(
        now,
        vec![
            report("small", &[24, 24], offers.clone()),
            report("big", &[80], offers),
        ],
    );
    assert_eq!(describe(&serve(&c, "m")), "start big [0] evict []");
}

#[test]
fn ready_instance_with_a_free_slot_is_used_least_active_then_most_recent() {
    let now = epoch();
    let offers = vec![offer("m", 10, 2, 1)];
    let rows: &[(&[(u32, u64)], &str)] = &[
        // (active and minutes idle of ins_1, ins_2), expected
        (&[(0, 5), (0, 1)], "use ins_2"),
        (&[(0, 1), (0, 5)], "use ins_1"),
        (&[(0, 1), (1, 0)], "use ins_1"),
        (&[(1, 0), (2, 0)], "use ins_1"),
    ];
    for (instances, expected) in rows {
        let mut c = cluster(now, vec![report("r1", &[80, 80], offers.clone())]);
        for (n, (active, idle)) in instances.iter().enumerate() {
            let id = format!("ins_{}", n + 1);
            add(
                &mut c,
                now,
                "r1",
                (&id, "m", &[n as u32]),
                Ready,
                *active,
                MIN * *idle as u32,
            );
        }
        assert_eq!(describe(&serve(&c, "m")), *expected, "{instances:?}");
    }
}

#[test]
fn busy_models_wait_or_scale_out_into_unbooked_memory_only() {
    let now = epoch();
    let offers = vec![offer("hot", 30, 1, 1), offer("idle", 45, 1, 1)];
    // One busy instance, room for another: scale out.
    let mut c = cluster(now, vec![report("r1", &[80, 80], offers.clone())]);
    add(&mut c, now, "r1", ("ins_1", "hot", &[0]), Ready, 1, MIN);
    let p = serve(&c, "hot");
    assert_eq!(describe(&p), "start r1 [1] evict []");
    let Placement::Start { reason, .. } = p else {
        unreachable!()
    };
    assert!(
        reason.starts_with("scale out (1 busy instances)"),
        "{reason}"
    );

    // The only room needs evicting an idle model: wait instead.
    let mut c = cluster(now, vec![report("r1", &[80], offers.clone())]);
    add(&mut c, now, "r1", ("ins_1", "hot", &[0]), Ready, 1, MIN);
    add(
        &mut c,
        now,
        "r1",
        ("ins_2", "idle", &[0]),
        Ready,
        0,
        10 * MIN,
    );
    let Placement::Wait { reason } = serve(&c, "hot") else {
        panic!("not waiting")
    };
    assert!(reason.contains("without eviction"), "{reason}");

    // At the instance limit: wait.
    let mut c = cluster(now, vec![report("r1", &[80, 80], offers)]);
    add(&mut c, now, "r1", ("ins_1", "hot", &[0]), Ready, 1, MIN);
    add(&mut c, now, "r1", ("ins_2", "hot", &[1]), Ready, 1, MIN);
    let opts = PlaceOptions {
        max_instances_per_model: 2,
        mode: PlaceMode::Serve,
    };
    let Placement::Wait { reason } = place(&c, "hot", &opts) else {
        panic!("not waiting")
    };
    assert!(reason.contains("max_instances_per_model 2"), "{reason}");
}

#[test]
fn loading_instance_means_wait() {
    let now = epoch();
    let mut c = cluster(
        now,
        vec![report("r1", &[80, 80], vec![offer("m", 10, 1, 1)])],
    );
    add(&mut c, now, "r1", ("ins_1", "m", &[0]), Loading, 0, MIN);
    let Placement::Wait { reason } = serve(&c, "m") else {
        panic!("not waiting")
    };
    assert_eq!(
        reason,
        "waiting for instance ins_1 of m to load on r1 gpu 0"
    );
}

#[test]
fn stale_runners_get_no_new_instances_but_keep_serving() {
    let now = epoch();
    let offers = vec![offer("m", 10, 1, 1), offer("n", 10, 1, 1)];
    let mut c = cluster(now, vec![report("r1", &[80], offers)]);
    add(&mut c, now, "r1", ("ins_1", "m", &[0]), Ready, 0, MIN);
    c.mark_stale(&"r1".into());
    assert_eq!(describe(&serve(&c, "m")), "use ins_1");
    assert_eq!(describe(&serve(&c, "n")), "wait");

    c.mark_disconnected(now, &"r1".into());
    assert_eq!(describe(&serve(&c, "m")), "wait");
}

#[test]
fn tensor_parallel_uses_the_fewest_and_emptiest_gpus() {
    let now = epoch();
    let offers = vec![offer("big", 100, 1, 8), offer("x", 60, 1, 1)];
    let mut c = cluster(now, vec![report("r1", &[80, 80, 80, 80], offers)]);
    add(&mut c, now, "r1", ("ins_x", "x", &[1]), Ready, 1, MIN);
    assert_eq!(describe(&serve(&c, "big")), "start r1 [0, 2] evict []");

    // 4 ways when 2 ways no longer fit (each gpu holds 30 GiB, a quarter is 25 GiB).
    let offers = vec![offer("big", 100, 1, 8), offer("x", 50, 1, 1)];
    let mut c = cluster(now, vec![report("r1", &[80, 80, 80, 80], offers)]);
    for g in 0..4u32 {
        add(
            &mut c,
            now,
            "r1",
            (&format!("ins_{g}"), "x", &[g]),
            Ready,
            1,
            MIN,
        );
    }
    assert_eq!(
        describe(&serve(&c, "big")),
        "start r1 [0, 1, 2, 3] evict []"
    );
}

#[test]
fn prewarm_never_evicts() {
    let now = epoch();
    let offers = vec![offer("a", 60, 1, 1), offer("b", 40, 1, 1)];
    let mut c = cluster(now, vec![report("r1", &[80], offers)]);
    add(&mut c, now, "r1", ("ins_a", "a", &[0]), Ready, 0, 60 * MIN);
    let prewarm = PlaceOptions {
        mode: PlaceMode::Prewarm,
        ..PlaceOptions::default()
    };
    assert_eq!(describe(&place(&c, "b", &prewarm)), "wait");
    assert_eq!(describe(&serve(&c, "b")), "start r1 [0] evict [\"ins_a\"]");
}
