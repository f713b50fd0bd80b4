//! The weft-bench workloads on Tokio's multi-threaded runtime, for
//! side-by-side ratios (benchmarks/run.sh). Each workload prints one RESULT
//! line in weft-bench's format; --workers sets worker_threads.
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

fn report(workers: usize, name: &str, ops: u64, d: Duration, extra: &str) {
    let s = d.as_secs_f64();
    let extra = if extra.is_empty() { String::new() } else { format!(" {}", extra) };
    println!(
        "RESULT impl=tokio name={} workers={} ops={} ns_per_op={:.2} ops_per_s={:.0}{}",
        name, workers, ops, s * 1e9 / ops as f64, ops as f64 / s, extra
    );
}

// The _warm variants (weft_bench.c says why): first as many tasks as will
// be timed, untimed, all suspended at once and then ended, so the timed
// ones reuse what those freed.
async fn warm_up(n: usize) {
    let handles: Vec<_> = (0..n).map(|_| tokio::spawn(tokio::task::yield_now())).collect();
    for h in handles {
        h.await.unwrap();
    }
}

async fn spawn_many(w: usize) {
    const N: usize = 1_000_000;
    let counter = Arc::new(AtomicI64::new(0));
    let t0 = Instant::now();
    let mut handles = Vec::with_capacity(N);
    for _ in 0..N {
        let c = counter.clone();
        handles.push(tokio::spawn(async move {
            c.fetch_add(1, Ordering::Relaxed);
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    report(w, "spawn_many", N as u64, t0.elapsed(), "");
}

async fn yield_many(w: usize, warm: bool) {
    const TASKS: usize = 1000;
    const YIELDS: usize = 1000;
    if warm {
        warm_up(TASKS).await;
    }
    let t0 = Instant::now();
    let handles: Vec<_> = (0..TASKS)
        .map(|_| {
            tokio::spawn(async {
                for _ in 0..YIELDS {
                    tokio::task::yield_now().await;
                }
            })
        })
        .collect();
    for h in handles {
        h.await.unwrap();
    }
    let name = if warm { "yield_many_warm" } else { "yield_many" };
    report(w, name, (TASKS * YIELDS) as u64, t0.elapsed(), "");
}

// A message is a oneshot channel, as weft's is a one-shot future: it carries
// the channel to answer on and the inbox for the next message.
struct Msg {
    reply: oneshot::Sender<()>,
    next: oneshot::Receiver<Msg>,
}

async fn ping_pong(w: usize, warm: bool) {
    // WEFT_BENCH_PAIRS=n (weft-bench's knob): n pairs (1 to 1,000) playing
    // 1,000,000 / n round trips each, the same 2M messages over a smaller
    // working set; unset or out of range, 1,000 pairs.
    let pairs = match std::env::var("WEFT_BENCH_PAIRS").ok().and_then(|v| v.parse::<usize>().ok()) {
        Some(n) if (1..=1000).contains(&n) => n,
        _ => 1000,
    };
    let rounds = 1_000_000 / pairs;
    if warm {
        warm_up(2 * pairs).await;
    }
    let t0 = Instant::now();
    let mut handles = Vec::new();
    for _ in 0..pairs {
        let (first_tx, first_rx) = oneshot::channel::<Msg>();
        handles.push(tokio::spawn(async move {
            // pong
            let mut inbox = first_rx;
            for _ in 0..rounds {
                let msg = inbox.await.unwrap();
                msg.reply.send(()).unwrap();
                inbox = msg.next;
            }
        }));
        handles.push(tokio::spawn(async move {
            // ping
            let mut out = first_tx;
            for _ in 0..rounds {
                let (reply_tx, reply_rx) = oneshot::channel();
                let (next_tx, next_rx) = oneshot::channel();
                if out.send(Msg { reply: reply_tx, next: next_rx }).is_err() {
                    panic!("pong went away");
                }
                reply_rx.await.unwrap();
                out = next_tx;
            }
            drop(out);
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    report(w, if warm { "ping_pong_warm" } else { "ping_pong" }, (pairs * rounds * 2) as u64, t0.elapsed(), "");
}

fn link(left: u64, done: oneshot::Sender<()>) {
    tokio::spawn(async move {
        if left == 0 {
            let _ = done.send(());
        } else {
            link(left - 1, done);
        }
    });
}

async fn chained_spawn(w: usize) {
    const N: u64 = 1_000_000;
    let (tx, rx) = oneshot::channel();
    let t0 = Instant::now();
    link(N - 1, tx);
    rx.await.unwrap();
    report(w, "chained_spawn", N, t0.elapsed(), "");
}

async fn timers(w: usize) {
    const N: usize = 100_000;
    let t0 = Instant::now();
    let handles: Vec<_> = (0..N)
        .map(|i| {
            tokio::spawn(async move {
                let d = Duration::from_micros(((i as u64).wrapping_mul(2654435761) % 10000) as u64);
                let s = Instant::now();
                tokio::time::sleep(d).await;
                (s.elapsed().as_secs_f64() - d.as_secs_f64()) * 1e3
            })
        })
        .collect();
    let mut late = Vec::with_capacity(N);
    for h in handles {
        late.push(h.await.unwrap());
    }
    let dt = t0.elapsed();
    late.sort_by(|a, b| a.partial_cmp(b).unwrap());
    report(w, "timers", N as u64, dt, &format!("total_ms={:.1} late_p50_ms={:.3} late_p99_ms={:.3}",
        dt.as_secs_f64() * 1e3, late[N / 2], late[N * 99 / 100]));
}

async fn timer_accuracy(w: usize) {
    const N: usize = 1000;
    let mut late = Vec::with_capacity(N);
    let t0 = Instant::now();
    for _ in 0..N {
        let s = Instant::now();
        tokio::time::sleep(Duration::from_millis(1)).await;
        late.push((s.elapsed().as_secs_f64() - 0.001) * 1e3);
    }
    let dt = t0.elapsed();
    late.sort_by(|a, b| a.partial_cmp(b).unwrap());
    report(w, "timer_accuracy", N as u64, dt, &format!("late_p50_ms={:.3} late_p99_ms={:.3}", late[N / 2], late[N * 99 / 100]));
}

fn fib(n: u64) -> std::pin::Pin<Box<dyn std::future::Future<Output = u64> + Send>> {
    Box::pin(async move {
        if n < 2 {
            return n;
        }
        let child = tokio::spawn(fib(n - 1));
        let b = fib(n - 2).await;
        child.await.unwrap() + b
    })
}

// fib(n), n = 30 or WEFT_BENCH_FIB (20..40), as weft_bench.c.
async fn fork_join(w: usize) {
    let n: u64 = std::env::var("WEFT_BENCH_FIB").ok().and_then(|v| v.parse().ok())
        .filter(|v| (20..=40).contains(v)).unwrap_or(30);
    let (mut a, mut b) = (0u64, 1u64); // a = fib(i) after i steps; spawns: fib(n + 1) - 1
    for _ in 0..n {
        (a, b) = (b, a + b);
    }
    let t0 = Instant::now();
    let v = fib(n).await;
    let dt = t0.elapsed();
    assert_eq!(v, a);
    report(w, "fork_join", b - 1, dt, &format!("total_ms={:.1} fib={}", dt.as_secs_f64() * 1e3, n));
}

// Two tasks on a current-thread runtime yield to each other.
fn sched_switch() {
    const N: u64 = 2_000_000;
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let t0 = Instant::now();
    rt.block_on(async {
        let a = tokio::spawn(async { for _ in 0..N { tokio::task::yield_now().await; } });
        let b = tokio::spawn(async { for _ in 0..N { tokio::task::yield_now().await; } });
        a.await.unwrap();
        b.await.unwrap();
    });
    report(1, "sched_switch", 2 * N, t0.elapsed(), "");
}

// lock_contended: 8 tasks increment a counter under tokio::sync::Mutex.
async fn lock_contended(w: usize) {
    const LOCKERS: usize = 8;
    const INCREMENTS: usize = 100_000;
    let m = Arc::new(tokio::sync::Mutex::new(0usize));
    let t0 = Instant::now();
    let hs: Vec<_> = (0..LOCKERS)
        .map(|_| {
            let m = m.clone();
            tokio::spawn(async move {
                for _ in 0..INCREMENTS {
                    *m.lock().await += 1;
                }
            })
        })
        .collect();
    for h in hs {
        h.await.unwrap();
    }
    assert_eq!(*m.lock().await, LOCKERS * INCREMENTS);
    report(w, "lock_contended", (LOCKERS * INCREMENTS) as u64, t0.elapsed(), "");
}

// queue_mpmc: 4 producers, 4 consumers, 1M items through async_channel::bounded(128).
async fn queue_mpmc(w: usize) {
    const P: usize = 4;
    const C: usize = 4;
    const ITEMS: usize = 1_000_000;
    let (tx, rx) = async_channel::bounded::<usize>(128);
    let t0 = Instant::now();
    let cs: Vec<_> = (0..C)
        .map(|_| {
            let rx = rx.clone();
            tokio::spawn(async move {
                let mut n = 0usize;
                while rx.recv().await.is_ok() {
                    n += 1;
                }
                n
            })
        })
        .collect();
    let ps: Vec<_> = (0..P)
        .map(|_| {
            let tx = tx.clone();
            tokio::spawn(async move {
                for i in 1..=ITEMS / P {
                    tx.send(i).await.unwrap();
                }
            })
        })
        .collect();
    drop(tx);
    drop(rx);
    for p in ps {
        p.await.unwrap();
    }
    let mut got = 0;
    for c in cs {
        got += c.await.unwrap();
    }
    assert_eq!(got, ITEMS);
    report(w, "queue_mpmc", ITEMS as u64, t0.elapsed(), "");
}

// semaphore_limit: 10,000 tasks through tokio::sync::Semaphore(100).
async fn semaphore_limit(w: usize, warm: bool) {
    const TASKS: usize = 10_000;
    if warm {
        warm_up(TASKS).await;
    }
    let sem = Arc::new(tokio::sync::Semaphore::new(100));
    let t0 = Instant::now();
    let hs: Vec<_> = (0..TASKS)
        .map(|_| {
            let sem = sem.clone();
            tokio::spawn(async move {
                let _permit = sem.acquire().await.unwrap();
                tokio::task::yield_now().await;
            })
        })
        .collect();
    for h in hs {
        h.await.unwrap();
    }
    report(w, if warm { "semaphore_limit_warm" } else { "semaphore_limit" }, TASKS as u64, t0.elapsed(), "");
}

// semaphore_uncontended: 8 tasks take and give back a permit of
// tokio::sync::Semaphore(8), 100,000 times each.
async fn semaphore_uncontended(w: usize) {
    const HOLDERS: usize = 8;
    const ROUNDS: usize = 100_000;
    let sem = Arc::new(tokio::sync::Semaphore::new(HOLDERS));
    let t0 = Instant::now();
    let hs: Vec<_> = (0..HOLDERS)
        .map(|_| {
            let sem = sem.clone();
            tokio::spawn(async move {
                let mut n = 0usize;
                for _ in 0..ROUNDS {
                    let _permit = sem.acquire().await.unwrap();
                    n += 1;
                }
                n
            })
        })
        .collect();
    let mut total = 0;
    for h in hs {
        total += h.await.unwrap();
    }
    assert_eq!(total, HOLDERS * ROUNDS);
    report(w, "semaphore_uncontended", (HOLDERS * ROUNDS) as u64, t0.elapsed(), "");
}

fn rss_kib() -> i64 {
    let s = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    s.split_whitespace().nth(1).and_then(|v| v.parse::<i64>().ok()).unwrap_or(0) * 4
}

async fn rss(w: usize) {
    const N: usize = 100_000;
    let before = rss_kib();
    let t0 = Instant::now();
    let handles: Vec<_> = (0..N)
        .map(|_| tokio::spawn(async { tokio::time::sleep(Duration::from_secs(60)).await }))
        .collect();
    tokio::task::yield_now().await;
    // every task has been polled once once all of them are registered
    for _ in 0..4 {
        tokio::task::yield_now().await;
    }
    let after = rss_kib();
    let dt = t0.elapsed();
    for h in &handles {
        h.abort();
    }
    for h in handles {
        let _ = h.await;
    }
    report(w, "rss", N as u64, dt, &format!("kib_per_task={:.2}", (after - before) as f64 / N as f64));
}

// rss_burst (weft_bench.c has the shape): 1,000,000 tasks wait on one watch
// channel at once, then all end; RSS before, at the peak, right after, and
// after 1 s and 5 s idle. Tokio has no trim call (after_trim = after_5s).
async fn rss_burst(w: usize) {
    let n: usize = std::env::var("WEFT_BENCH_BURST").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    let before = rss_kib();
    let t0 = Instant::now();
    let (tx, rx) = tokio::sync::watch::channel(false);
    let started = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let all = std::sync::Arc::new(tokio::sync::Notify::new());
    let handles: Vec<_> = (0..n)
        .map(|_| {
            let mut rx = rx.clone();
            let started = started.clone();
            let all = all.clone();
            tokio::spawn(async move {
                if started.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1 == n {
                    all.notify_one();
                }
                let _ = rx.changed().await;
            })
        })
        .collect();
    all.notified().await;
    let peak = rss_kib();
    tx.send(true).unwrap();
    for h in handles {
        h.await.unwrap();
    }
    let ended = rss_kib();
    let dt = t0.elapsed();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after1 = rss_kib();
    tokio::time::sleep(Duration::from_secs(4)).await;
    let after5 = rss_kib();
    let m = |k: i64| k as f64 / 1024.0;
    report(w, "rss_burst", n as u64, dt, &format!(
        "rss_mib_before={:.1} peak={:.1} ended={:.1} after_1s={:.1} after_5s={:.1} after_trim={:.1}",
        m(before), m(peak), m(ended), m(after1), m(after5), m(after5)));
}

// rss_deep (weft_bench.c has the shape): 10,000 tasks each call a function
// that uses 32 KiB of stack, then wait on one watch channel; RSS per task
// when all wait, after 2.5 s idle, and (no trim call) the same again. The
// call runs on the worker thread's stack: a task keeps only what lives
// across its await.
#[inline(never)]
fn deep_call(seed: usize) -> usize {
    let mut buf = [0u8; 32 * 1024];
    let mut i = 0;
    while i < buf.len() {
        buf[i] = (seed + i) as u8;
        i += 64;
    }
    let buf = std::hint::black_box(buf);
    let mut s = 0usize;
    let mut i = 0;
    while i < buf.len() {
        s += buf[i] as usize;
        i += 64;
    }
    s
}

async fn rss_deep(w: usize) {
    const N: usize = 10_000;
    let before = rss_kib();
    let t0 = Instant::now();
    let (tx, rx) = tokio::sync::watch::channel(false);
    let started = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let sink = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let all = Arc::new(tokio::sync::Notify::new());
    let handles: Vec<_> = (0..N)
        .map(|i| {
            let mut rx = rx.clone();
            let started = started.clone();
            let sink = sink.clone();
            let all = all.clone();
            tokio::spawn(async move {
                sink.fetch_add(deep_call(i), Ordering::Relaxed);
                if started.fetch_add(1, Ordering::Relaxed) + 1 == N {
                    all.notify_one();
                }
                let _ = rx.changed().await;
            })
        })
        .collect();
    all.notified().await;
    let dt = t0.elapsed();
    let waiting = rss_kib();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let idle = rss_kib();
    tx.send(true).unwrap();
    for h in handles {
        h.await.unwrap();
    }
    let per = |k: i64| (k - before) as f64 / N as f64;
    report(w, "rss_deep", N as u64, dt, &format!(
        "kib_per_task_waiting={:.2} after_2_5s={:.2} after_trim={:.2}",
        per(waiting), per(idle), per(idle)));
}

// Composition (benchmarks/bench_compose.c has the shapes): 10,000 trivial
// children, 50 rounds, ns per child; a 1 s timeout around one yield.
const CHILDREN: usize = 10_000;
const ROUNDS: usize = 50;

async fn gather_10k(w: usize) {
    let t0 = Instant::now();
    for _ in 0..ROUNDS {
        let hs: Vec<_> = (0..CHILDREN).map(|i| tokio::spawn(async move { i })).collect();
        let mut sum = 0usize; // join_all: every result, in input order
        for h in hs {
            sum += h.await.unwrap();
        }
        assert_eq!(sum, CHILDREN * (CHILDREN - 1) / 2);
    }
    report(w, "gather_10k", (CHILDREN * ROUNDS) as u64, t0.elapsed(), "");
}

async fn taskgroup_10k(w: usize) {
    let t0 = Instant::now();
    for _ in 0..ROUNDS {
        let mut set = tokio::task::JoinSet::new();
        for i in 0..CHILDREN {
            set.spawn(async move { i });
        }
        while let Some(r) = set.join_next().await {
            r.unwrap();
        }
    }
    report(w, "taskgroup_10k", (CHILDREN * ROUNDS) as u64, t0.elapsed(), "");
}

async fn wait_for_overhead(w: usize) {
    const N: usize = 200_000;
    let t0 = Instant::now();
    for _ in 0..N {
        tokio::time::timeout(Duration::from_secs(1), tokio::task::yield_now()).await.unwrap();
    }
    report(w, "wait_for_overhead", N as u64, t0.elapsed(), "");
}

// Executors (benchmarks/bench_executor.c): spawn_blocking a trivial
// closure and await it, 100,000 times in a row.
async fn executor_roundtrip(w: usize) {
    const N: usize = 100_000;
    tokio::task::spawn_blocking(|| 0usize).await.unwrap(); // the first thread starts
    let t0 = Instant::now();
    for i in 0..N {
        let r = tokio::task::spawn_blocking(move || i + 1).await.unwrap();
        assert_eq!(r, i + 1);
    }
    report(w, "executor_roundtrip", N as u64, t0.elapsed(), "");
}

// Generators (benchmarks/bench_executor.c): send i to a task that answers
// i + 1, over two mpsc channels of capacity 1, 200,000 round trips.
async fn gen_pingpong(w: usize) {
    const N: usize = 200_000;
    let (in_tx, mut in_rx) = tokio::sync::mpsc::channel::<usize>(1);
    let (out_tx, mut out_rx) = tokio::sync::mpsc::channel::<usize>(1);
    tokio::spawn(async move {
        while let Some(v) = in_rx.recv().await {
            if out_tx.send(v + 1).await.is_err() {
                break;
            }
        }
    });
    let t0 = Instant::now();
    for i in 1..=N {
        in_tx.send(i).await.unwrap();
        assert_eq!(out_rx.recv().await.unwrap(), i + 1);
    }
    report(w, "gen_pingpong", N as u64, t0.elapsed(), "");
}

fn main() {
    let mut workers = 2usize;
    let mut only: Vec<String> = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--workers" {
            workers = args.next().and_then(|v| v.parse().ok()).unwrap_or(2);
        } else {
            only.push(a);
        }
    }
    let order = ["spawn_many", "yield_many", "ping_pong", "yield_many_warm", "ping_pong_warm", "chained_spawn", "timers", "timer_accuracy", "sched_switch", "fork_join", "rss", "lock_contended", "queue_mpmc", "semaphore_limit", "semaphore_limit_warm", "semaphore_uncontended", "gather_10k", "taskgroup_10k", "wait_for_overhead", "executor_roundtrip", "gen_pingpong"];
    let want: Vec<String> = if only.is_empty() { order.iter().map(|s| s.to_string()).collect() } else { only };
    for name in want {
        if name == "sched_switch" {
            sched_switch();
            continue;
        }
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .enable_time()
            .build()
            .unwrap();
        let w = workers;
        rt.block_on(async move {
            // Run inside a spawned task, as weft runs its main task on a worker.
            tokio::spawn(async move {
                match name.as_str() {
                    "spawn_many" => spawn_many(w).await,
                    "yield_many" => yield_many(w, false).await,
                    "ping_pong" => ping_pong(w, false).await,
                    "yield_many_warm" => yield_many(w, true).await,
                    "ping_pong_warm" => ping_pong(w, true).await,
                    "chained_spawn" => chained_spawn(w).await,
                    "timers" => timers(w).await,
                    "timer_accuracy" => timer_accuracy(w).await,
                    "fork_join" => fork_join(w).await,
                    "rss" => rss(w).await,
                    "rss_burst" => rss_burst(w).await,
                    "rss_deep" => rss_deep(w).await,
                    "lock_contended" => lock_contended(w).await,
                    "queue_mpmc" => queue_mpmc(w).await,
                    "semaphore_limit" => semaphore_limit(w, false).await,
                    "semaphore_limit_warm" => semaphore_limit(w, true).await,
                    "semaphore_uncontended" => semaphore_uncontended(w).await,
                    "gather_10k" => gather_10k(w).await,
                    "taskgroup_10k" => taskgroup_10k(w).await,
                    "wait_for_overhead" => wait_for_overhead(w).await,
                    "executor_roundtrip" => executor_roundtrip(w).await,
                    "gen_pingpong" => gen_pingpong(w).await,
                    _ => {}
                }
            })
            .await
            .unwrap()
        });
    }
}
