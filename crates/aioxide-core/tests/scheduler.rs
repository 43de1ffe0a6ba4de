//! The ready queue and one iteration's batch, as asyncio's `_run_once` orders them.

mod common;

use aioxide_core::Scheduler;
use common::{labels, Job};

#[test]
fn ready_callbacks_run_in_fifo_order() {
    let mut s = Scheduler::default();
    for label in ["a", "b", "c"] {
        s.push_ready(Job::new(label));
    }
    let batch = s.take_batch(Default::default());
    assert_eq!(labels(batch), ["a", "b", "c"]);
}

#[test]
fn callbacks_scheduled_during_a_batch_wait_for_the_next_iteration() {
    let mut s = Scheduler::default();
    s.push_ready(Job::new("first"));
    let batch = s.take_batch(Default::default());
    // While "first" runs it schedules "second": not part of this batch.
    s.push_ready(Job::new("second"));
    assert_eq!(labels(batch), ["first"]);
    assert_eq!(s.ready_len(), 1);
    assert_eq!(labels(s.take_batch(Default::default())), ["second"]);
}

#[test]
fn unrun_callbacks_go_back_ahead_of_newer_ones() {
    let mut s = Scheduler::default();
    for label in ["a", "b", "c"] {
        s.push_ready(Job::new(label));
    }
    let mut batch = s.take_batch(Default::default());
    assert_eq!(batch.pop_front().unwrap().label, "a");
    // "a" raised KeyboardInterrupt after scheduling "d": b and c must still come first.
    s.push_ready(Job::new("d"));
    s.restore_unrun(batch);
    assert_eq!(labels(s.take_batch(Default::default())), ["b", "c", "d"]);
}

#[test]
fn poll_timeout_is_zero_with_ready_work_or_when_stopping() {
    let mut s: Scheduler<Job> = Scheduler::default();
    let mut dropped = Vec::new();
    assert_eq!(s.poll_timeout(0.0, false, &mut dropped), None);
    assert_eq!(s.poll_timeout(0.0, true, &mut dropped), Some(0.0));
    s.push_ready(Job::new("x"));
    assert_eq!(s.poll_timeout(0.0, false, &mut dropped), Some(0.0));
}

#[test]
fn poll_timeout_runs_to_the_next_live_timer() {
    let mut s = Scheduler::default();
    let mut dropped = Vec::new();
    let early = Job::new("early");
    s.push_timer(10.0, early.clone());
    s.push_timer(12.5, Job::new("late"));
    assert_eq!(s.poll_timeout(8.0, false, &mut dropped), Some(2.0));
    // A cancelled head is pruned: the wait is computed from the next live timer.
    early.cancelled.set(true);
    s.timers.note_cancelled();
    assert_eq!(s.poll_timeout(8.0, false, &mut dropped), Some(4.5));
    assert_eq!(labels(dropped), ["early"]);
    // Overdue timers never give a negative wait; far ones are capped at one day.
    assert_eq!(s.poll_timeout(20.0, false, &mut Vec::new()), Some(0.0));
    let mut only_far = Scheduler::default();
    only_far.push_timer(1e9, Job::new("far"));
    assert_eq!(
        only_far.poll_timeout(0.0, false, &mut Vec::new()),
        Some(86400.0)
    );
}

#[test]
fn due_timers_join_the_ready_queue_after_earlier_ready_work() {
    let mut s = Scheduler::default();
    s.push_ready(Job::new("soon"));
    s.push_timer(1.0, Job::new("timer"));
    s.collect_due(1.5);
    assert_eq!(labels(s.take_batch(Default::default())), ["soon", "timer"]);
}

#[test]
fn drain_empties_queue_and_heap() {
    let mut s = Scheduler::default();
    s.push_ready(Job::new("a"));
    s.push_timer(3.0, Job::new("t"));
    let all = s.drain();
    assert_eq!(labels(all), ["a", "t"]);
    assert_eq!(s.ready_len(), 0);
    assert!(s.timers.is_empty());
}
