//! A closed-loop load driver: each client keeps one request in flight until the window
//! ends, and every request's latency is kept.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering::Relaxed},
    },
    time::{Duration, Instant},
};

/// The median of each series (of rounds), in order.
pub fn medians(series: &mut [Vec<f64>]) -> Vec<f64> {
    series
        .iter_mut()
        .map(|v| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        })
        .collect()
}

/// Runs `clients` for `window`, each calling `call(client, index, n)` again and again
/// (`n` counts that client's requests from a start of its own); the throughput in
/// requests a second and every latency.
pub async fn closed_loop<C, F, Fut>(
    clients: Vec<C>,
    window: Duration,
    call: F,
) -> (f64, Vec<Duration>)
where
    C: Send + 'static,
    F: Fn(C, usize, u64) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = C> + Send,
{
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for (c, mut client) in clients.into_iter().enumerate() {
        let (stop, call) = (Arc::clone(&stop), call.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(100_000);
            let mut n = c as u64 * 7_919;
            while !stop.load(Relaxed) {
                let sent = Instant::now();
                client = call(client, c, n).await;
                latencies.push(sent.elapsed());
                n += 1;
            }
            latencies
        }));
    }
    let start = Instant::now();
    tokio::time::sleep(window).await;
    stop.store(true, Relaxed);
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("a client task"));
    }
    (all.len() as f64 / start.elapsed().as_secs_f64(), all)
}
