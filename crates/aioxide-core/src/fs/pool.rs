//! The process-wide worker threads behind the fs engine: blocking file calls (open,
//! stat, reads and writes when io_uring is unavailable) run here, never on a thread that
//! holds the GIL. Threads start on demand up to a cap and then stay; a forked child,
//! which has none of its parent's threads, starts a fresh pool.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex};
use std::thread;

use crate::sys::fork_generation;

pub(crate) type Job = Box<dyn FnOnce() + Send + 'static>;

struct Pool {
    state: Mutex<State>,
    ready: Condvar,
    generation: u64,
    max_threads: usize,
}

#[derive(Default)]
struct State {
    jobs: VecDeque<Job>,
    threads: usize,
    idle: usize,
}

static POOL: Mutex<Option<Arc<Pool>>> = Mutex::new(None);

/// How many threads the pool may start: `AIOXIDE_FS_THREADS`, else twice the CPUs,
/// at least 4 and at most 32.
fn max_threads() -> usize {
    if let Some(n) = std::env::var("AIOXIDE_FS_THREADS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
    {
        return n.max(1);
    }
    let cpus = thread::available_parallelism().map_or(2, |n| n.get());
    (cpus * 2).clamp(4, 32)
}

fn current() -> Arc<Pool> {
    let generation = fork_generation();
    let mut slot = POOL.lock().unwrap_or_else(|p| p.into_inner());
    match &*slot {
        Some(pool) if pool.generation == generation => pool.clone(),
        _ => {
            let pool = Arc::new(Pool {
                state: Mutex::new(State::default()),
                ready: Condvar::new(),
                generation,
                max_threads: max_threads(),
            });
            *slot = Some(pool.clone());
            pool
        }
    }
}

/// Run `job` on a pool thread.
pub(crate) fn spawn(job: Job) -> std::io::Result<()> {
    let pool = current();
    let mut state = pool.state.lock().unwrap_or_else(|p| p.into_inner());
    state.jobs.push_back(job);
    if state.idle == 0 && state.threads < pool.max_threads {
        let worker = pool.clone();
        let started = thread::Builder::new()
            .name("aioxide-fs".into())
            .spawn(move || worker.run());
        match started {
            Ok(_) => state.threads += 1,
            // Keep going with the threads we have; with none at all, nothing would run.
            Err(e) if state.threads == 0 => {
                state.jobs.pop_back();
                return Err(e);
            }
            Err(_) => {}
        }
    }
    drop(state);
    pool.ready.notify_one();
    Ok(())
}

impl Pool {
    fn run(&self) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if let Some(job) = state.jobs.pop_front() {
                drop(state);
                job();
                state = self.state.lock().unwrap_or_else(|p| p.into_inner());
                continue;
            }
            state.idle += 1;
            state = self.ready.wait(state).unwrap_or_else(|p| p.into_inner());
            state.idle -= 1;
        }
    }
}
