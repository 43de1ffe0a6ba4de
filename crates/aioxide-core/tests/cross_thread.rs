//! The cross-thread path that `call_soon_threadsafe` and worker results take (a
//! `CompletionQueue` and the reactor's coalescing `Waker`) under many threads at once,
//! with the consumer waiting as the loop does: no item lost or reordered, no wakeup lost.

use std::sync::Arc;
use std::thread;

use aioxide_core::sys::Events;
use aioxide_core::{CompletionQueue, Reactor};

const PRODUCERS: usize = 8;
const PER_PRODUCER: usize = 20_000;

#[test]
fn eight_producers_and_a_waiting_consumer_lose_nothing() {
    let reactor = Arc::new(Reactor::new().unwrap());
    let queue = Arc::new(CompletionQueue::new(reactor.waker().clone()));
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let q = queue.clone();
            thread::spawn(move || {
                for i in 0..PER_PRODUCER {
                    q.push((p, i)).unwrap();
                    if i % 512 == 0 {
                        thread::yield_now(); // let the consumer drain mid-burst
                    }
                }
            })
        })
        .collect();

    let mut events = Events::with_capacity(64);
    let mut ready = Vec::new();
    let mut batch = Vec::new();
    let mut next = [0usize; PRODUCERS];
    let mut received = 0;
    while received < PRODUCERS * PER_PRODUCER {
        // As the loop does: wait (which consumes the wakeup), then drain.
        let woken = reactor.wait(&mut events, Some(5.0), &mut ready).unwrap();
        queue.drain_into(&mut batch);
        // Producers never pause for seconds: a wait that ran out its time while items
        // were queued is a lost wakeup.
        assert!(
            woken || batch.is_empty(),
            "items were queued but no wakeup came"
        );
        for (p, i) in batch.drain(..) {
            assert_eq!(i, next[p], "producer {p}'s items out of order");
            next[p] += 1;
            received += 1;
        }
    }
    for t in producers {
        t.join().unwrap();
    }
    assert_eq!(next, [PER_PRODUCER; PRODUCERS]);
    assert!(queue.is_empty());
}
