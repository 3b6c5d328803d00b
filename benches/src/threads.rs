//! Timing an operation on one thread and on two at once, for criterion's
//! `iter_custom`.

use std::{
    sync::Barrier,
    time::{Duration, Instant},
};

/// The thread counts each contended group runs at, with their bench names.
pub const THREADS: [(usize, &str); 2] = [(1, "1_thread"), (2, "2_threads")];

/// Runs `op(thread, iters)` on `threads` threads at once, each returning the time it
/// measured; the result is the mean per thread, so criterion reports one operation as
/// one thread saw it.
pub fn on_threads(
    threads: usize,
    iters: u64,
    op: &(dyn Fn(usize, u64) -> Duration + Sync),
) -> Duration {
    if threads == 1 {
        return op(0, iters);
    }
    let start = Barrier::new(threads);
    let total: Duration = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let start = &start;
                s.spawn(move || {
                    start.wait();
                    op(t, iters)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    total / threads as u32
}

/// Times `iters` runs of `f` as one stretch.
pub fn stretch(iters: u64, mut f: impl FnMut(u64)) -> Duration {
    let start = Instant::now();
    for i in 0..iters {
        f(i);
    }
    start.elapsed()
}
