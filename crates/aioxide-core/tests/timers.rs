//! Timer ordering and lazy cancellation, driven by a manual clock.

mod common;

use aioxide_core::{Clock, ManualClock, Timers};
use common::{labels, Job};

fn due(timers: &mut Timers<Job>, clock: &ManualClock) -> Vec<&'static str> {
    let mut ready = Vec::new();
    timers.pop_due(clock.now() + clock.resolution(), &mut ready);
    labels(ready)
}

#[test]
fn timers_fire_in_deadline_order_when_the_clock_reaches_them() {
    let clock = ManualClock::new(100.0);
    let mut t = Timers::default();
    t.push(clock.now() + 3.0, Job::new("c"));
    t.push(clock.now() + 1.0, Job::new("a"));
    t.push(clock.now() + 2.0, Job::new("b"));
    assert!(due(&mut t, &clock).is_empty());
    clock.advance(1.0);
    assert_eq!(due(&mut t, &clock), ["a"]);
    clock.advance(5.0);
    assert_eq!(due(&mut t, &clock), ["b", "c"]);
}

#[test]
fn equal_deadlines_fire_in_scheduling_order() {
    let clock = ManualClock::new(0.0);
    let mut t = Timers::default();
    let names = ["j0", "j1", "j2", "j3", "j4", "j5", "j6", "j7"];
    for name in names {
        t.push(5.0, Job::new(name));
    }
    clock.advance(5.0);
    assert_eq!(due(&mut t, &clock), names);
}

#[test]
fn negative_delays_are_ordered_by_deadline_not_by_insertion() {
    let clock = ManualClock::new(50.0);
    let mut t = Timers::default();
    t.push(clock.now() - 1.0, Job::new("minus-one"));
    t.push(clock.now() - 5.0, Job::new("minus-five"));
    t.push(clock.now(), Job::new("zero"));
    assert_eq!(due(&mut t, &clock), ["minus-five", "minus-one", "zero"]);
}

#[test]
fn due_timers_leave_cancelled_or_not_and_the_consumer_settles_the_count() {
    let clock = ManualClock::new(0.0);
    let mut t = Timers::default();
    let victim = Job::new("victim");
    t.push(1.0, victim.clone());
    t.push(2.0, Job::new("keeper"));
    t.push(9.0, Job::new("later"));
    victim.cancelled.set(true);
    t.note_cancelled();
    clock.advance(3.0);
    let mut ready = Vec::new();
    assert_eq!(t.pop_due(clock.now(), &mut ready), Some(1.0));
    // pop_due does not look at the payloads: the consumer skips the cancelled one.
    assert_eq!(victim.unscheduled.get(), 0);
    assert_eq!(labels(ready), ["victim", "keeper"]);
    assert_eq!(t.cancelled_count(), 1);
    t.forget_cancelled();
    t.forget_cancelled(); // never below zero
    assert_eq!(t.cancelled_count(), 0);
    assert_eq!(t.len(), 1);
}

#[test]
fn heap_is_compacted_when_most_timers_are_cancelled() {
    let mut t = Timers::default();
    let jobs: Vec<Job> = (0..300).map(|_| Job::new("j")).collect();
    for (i, job) in jobs.iter().enumerate() {
        t.push(1000.0 + i as f64, job.clone());
    }
    // Cancel 200 of 300, from the back, so none sits at the top of the heap.
    for job in jobs.iter().skip(100) {
        job.cancelled.set(true);
        t.note_cancelled();
    }
    let mut dropped = Vec::new();
    t.prune(&mut dropped);
    assert_eq!(dropped.len(), 200);
    assert_eq!(t.len(), 100);
    assert_eq!(t.cancelled_count(), 0);
    assert!(jobs.iter().skip(100).all(|j| j.unscheduled.get() == 1));
}

#[test]
fn small_heaps_prune_only_the_cancelled_head() {
    let mut t = Timers::default();
    let head = Job::new("head");
    let middle = Job::new("middle");
    t.push(1.0, head.clone());
    t.push(2.0, middle.clone());
    t.push(3.0, Job::new("tail"));
    head.cancelled.set(true);
    middle.cancelled.set(true);
    t.note_cancelled();
    t.note_cancelled();
    let mut dropped = Vec::new();
    t.prune(&mut dropped);
    assert_eq!(labels(dropped), ["head", "middle"]);
    assert_eq!(t.next_deadline(), Some(3.0));
}

#[test]
fn the_due_mark_tells_which_timers_left_the_heap() {
    let mut t = Timers::default();
    let a = t.push(1.0, Job::new("a"));
    let b = t.push(5.0, Job::new("b"));
    let mark = t.due_mark(2.0);
    t.pop_due(2.0, &mut Vec::new());
    // Pushed after that collection, with a deadline already past: still in the heap.
    let c = t.push(0.5, Job::new("c"));
    assert!(mark.moved(1.0, a));
    assert!(!mark.moved(5.0, b));
    assert!(!mark.moved(0.5, c));
    assert!(mark.moved(f64::NAN, a), "a NaN deadline is due at once");
}
