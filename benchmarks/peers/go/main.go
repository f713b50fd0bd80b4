// The weft-bench workloads in Go, for side-by-side ratios (benchmarks/run.sh).
// Each workload prints one RESULT line in weft-bench's format. GOMAXPROCS is
// set to --workers so both runtimes use the same number of threads.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

var workers = flag.Int("workers", 2, "worker threads (GOMAXPROCS)")

func report(name string, ops int64, d time.Duration, extra string) {
	s := d.Seconds()
	if extra != "" {
		extra = " " + extra
	}
	fmt.Printf("RESULT impl=go name=%s workers=%d ops=%d ns_per_op=%.2f ops_per_s=%.0f%s\n",
		name, *workers, ops, s*1e9/float64(ops), float64(ops)/s, extra)
}

func spawnMany() {
	const n = 1000000
	var counter int64
	var wg sync.WaitGroup
	t0 := time.Now()
	wg.Add(n)
	for i := 0; i < n; i++ {
		go func() { atomic.AddInt64(&counter, 1); wg.Done() }()
	}
	wg.Wait()
	report("spawn_many", n, time.Since(t0), "")
}

// The _warm variants (weft_bench.c says why): first as many goroutines as
// will be timed, untimed, all parked at once and then ended, so the timed
// ones reuse what those freed.
func warmUp(n int) {
	var wg sync.WaitGroup
	wg.Add(n)
	for i := 0; i < n; i++ {
		go func() {
			runtime.Gosched()
			wg.Done()
		}()
	}
	wg.Wait()
}

func yieldMany(warm bool) {
	const tasks, yields = 1000, 1000
	var wg sync.WaitGroup
	name := "yield_many"
	if warm {
		name = "yield_many_warm"
		warmUp(tasks)
	}
	t0 := time.Now()
	wg.Add(tasks)
	for i := 0; i < tasks; i++ {
		go func() {
			for j := 0; j < yields; j++ {
				runtime.Gosched()
			}
			wg.Done()
		}()
	}
	wg.Wait()
	report(name, tasks*yields, time.Since(t0), "")
}

// pairsWanted reads WEFT_BENCH_PAIRS (weft-bench's knob): n pairs (1 to
// 1,000) playing 1,000,000 / n round trips each, the same 2M messages over
// a smaller working set; unset or out of range, 1,000 pairs.
func pairsWanted() (int, int) {
	n, err := strconv.Atoi(os.Getenv("WEFT_BENCH_PAIRS"))
	if err != nil || n < 1 || n > 1000 {
		n = 1000
	}
	return n, 1000000 / n
}

func pingPong(warm bool) {
	pairs, rounds := pairsWanted()
	var wg sync.WaitGroup
	name := "ping_pong"
	if warm {
		name = "ping_pong_warm"
		warmUp(2 * pairs)
	}
	t0 := time.Now()
	wg.Add(2 * pairs)
	for i := 0; i < pairs; i++ {
		ab, ba := make(chan int), make(chan int)
		go func() {
			for r := 0; r < rounds; r++ {
				ab <- r
				<-ba
			}
			wg.Done()
		}()
		go func() {
			for r := 0; r < rounds; r++ {
				v := <-ab
				ba <- v
			}
			wg.Done()
		}()
	}
	wg.Wait()
	report(name, int64(pairs*rounds*2), time.Since(t0), "")
}

func chainedSpawn() {
	const n = 1000000
	done := make(chan struct{})
	var link func(left int)
	link = func(left int) {
		if left == 0 {
			close(done)
			return
		}
		go link(left - 1)
	}
	t0 := time.Now()
	go link(n - 1)
	<-done
	report("chained_spawn", n, time.Since(t0), "")
}

func timers() {
	const n = 100000
	late := make([]float64, n)
	var wg sync.WaitGroup
	t0 := time.Now()
	wg.Add(n)
	for i := 0; i < n; i++ {
		go func(i int) {
			d := time.Duration((uint64(i)*2654435761)%10000) * time.Microsecond
			s := time.Now()
			time.Sleep(d)
			late[i] = float64(time.Since(s)-d) / 1e6
			wg.Done()
		}(i)
	}
	wg.Wait()
	dt := time.Since(t0)
	sort.Float64s(late)
	report("timers", n, dt, fmt.Sprintf("total_ms=%.1f late_p50_ms=%.3f late_p99_ms=%.3f",
		dt.Seconds()*1e3, late[n/2], late[n*99/100]))
}

func fib(n int) int {
	if n < 2 {
		return n
	}
	ch := make(chan int, 1)
	go func() { ch <- fib(n - 1) }()
	b := fib(n - 2)
	return <-ch + b
}

// forkJoin: fib(n), n = 30 or WEFT_BENCH_FIB (20..40), as weft_bench.c.
func forkJoin() {
	n := 30
	if v, err := strconv.Atoi(os.Getenv("WEFT_BENCH_FIB")); err == nil && v >= 20 && v <= 40 {
		n = v
	}
	a, b := 0, 1 // a = fib(i) after i steps; calls with n >= 2 spawn once: fib(n+1) - 1
	for i := 0; i < n; i++ {
		a, b = b, a+b
	}
	t0 := time.Now()
	v := fib(n)
	dt := time.Since(t0)
	if v != a {
		fmt.Fprintln(os.Stderr, "fib mismatch")
		os.Exit(1)
	}
	report("fork_join", int64(b-1), dt, fmt.Sprintf("total_ms=%.1f fib=%d", dt.Seconds()*1e3, n))
}

func timerAccuracy() {
	const n = 1000
	late := make([]float64, n)
	t0 := time.Now()
	for i := 0; i < n; i++ {
		s := time.Now()
		time.Sleep(time.Millisecond)
		late[i] = float64(time.Since(s)-time.Millisecond) / 1e6
	}
	dt := time.Since(t0)
	sort.Float64s(late)
	report("timer_accuracy", n, dt, fmt.Sprintf("late_p50_ms=%.3f late_p99_ms=%.3f", late[n/2], late[n*99/100]))
}

// sched_switch: two goroutines hand control back and forth with Gosched on one P.
func switchBench() {
	old := runtime.GOMAXPROCS(1)
	const n = 2000000
	var wg sync.WaitGroup
	wg.Add(2)
	t0 := time.Now()
	for k := 0; k < 2; k++ {
		go func() {
			for i := 0; i < n; i++ {
				runtime.Gosched()
			}
			wg.Done()
		}()
	}
	wg.Wait()
	w := *workers
	*workers = 1
	report("sched_switch", 2*n, time.Since(t0), "")
	*workers = w
	runtime.GOMAXPROCS(old)
}

func rssKiB() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	var pages, resident int64
	fmt.Sscan(string(b), &pages, &resident)
	return resident * 4
}

func rss() {
	const n = 100000
	before := rssKiB()
	var started sync.WaitGroup
	stop := make(chan struct{})
	var done sync.WaitGroup
	t0 := time.Now()
	started.Add(n)
	done.Add(n)
	for i := 0; i < n; i++ {
		go func() {
			started.Done()
			t := time.NewTimer(60 * time.Second)
			select {
			case <-t.C:
			case <-stop:
				t.Stop()
			}
			done.Done()
		}()
	}
	started.Wait()
	runtime.Gosched() // the last ones reach their select
	after := rssKiB()
	dt := time.Since(t0)
	close(stop)
	done.Wait()
	report("rss", n, dt, fmt.Sprintf("kib_per_task=%.2f", float64(after-before)/n))
}

// rss_burst (weft_bench.c has the shape): 1,000,000 goroutines block on one
// channel at once, then all end; RSS before, at the peak, right after, after
// 1 s and 5 s idle, and after debug.FreeOSMemory (Go's trim).
func rssBurst() {
	n := 1000000
	if v, err := strconv.Atoi(os.Getenv("WEFT_BENCH_BURST")); err == nil {
		n = v
	}
	before := rssKiB()
	t0 := time.Now()
	var started, done sync.WaitGroup
	stop := make(chan struct{})
	started.Add(n)
	done.Add(n)
	for i := 0; i < n; i++ {
		go func() {
			started.Done()
			<-stop
			done.Done()
		}()
	}
	started.Wait()
	runtime.Gosched()
	peak := rssKiB()
	close(stop)
	done.Wait()
	ended := rssKiB()
	dt := time.Since(t0)
	time.Sleep(time.Second)
	after1 := rssKiB()
	time.Sleep(4 * time.Second)
	after5 := rssKiB()
	debug.FreeOSMemory()
	trimmed := rssKiB()
	m := func(k int64) float64 { return float64(k) / 1024 }
	report("rss_burst", int64(n), dt, fmt.Sprintf("rss_mib_before=%.1f peak=%.1f ended=%.1f after_1s=%.1f after_5s=%.1f after_trim=%.1f",
		m(before), m(peak), m(ended), m(after1), m(after5), m(trimmed)))
}

// rss_deep (weft_bench.c has the shape): 10,000 goroutines each call a
// function that uses 32 KiB of stack, then block on one channel; RSS per
// goroutine when all wait, after 2.5 s idle, and after runtime.GC and
// debug.FreeOSMemory (Go's trim: a collection shrinks a stack that uses
// under a quarter of itself).
//
//go:noinline
func deepCall(seed int) int {
	var buf [32 * 1024]byte
	for i := 0; i < len(buf); i += 64 {
		buf[i] = byte(seed + i)
	}
	s := 0
	for i := 0; i < len(buf); i += 64 {
		s += int(buf[i])
	}
	return s
}

func rssDeep() {
	const n = 10000
	before := rssKiB()
	t0 := time.Now()
	var started, done sync.WaitGroup
	var sink int64
	stop := make(chan struct{})
	started.Add(n)
	done.Add(n)
	for i := 0; i < n; i++ {
		go func(i int) {
			atomic.AddInt64(&sink, int64(deepCall(i)))
			started.Done()
			<-stop
			done.Done()
		}(i)
	}
	started.Wait()
	runtime.Gosched()
	dt := time.Since(t0)
	waiting := rssKiB()
	time.Sleep(2500 * time.Millisecond)
	idle := rssKiB()
	runtime.GC()
	debug.FreeOSMemory()
	trimmed := rssKiB()
	close(stop)
	done.Wait()
	per := func(k int64) float64 { return float64(k-before) / n }
	report("rss_deep", n, dt, fmt.Sprintf("kib_per_task_waiting=%.2f after_2_5s=%.2f after_trim=%.2f",
		per(waiting), per(idle), per(trimmed)))
}

// lock_contended: 8 goroutines increment a counter under sync.Mutex.
// lock_contended_barging: the same code under that name. sync.Mutex is the
// barging policy (an unlock wakes a waiter to try; whoever locks first wins;
// starvation mode after 1 ms), the rule of weft's WEFT_LOCK_BARGING Lock,
// which weft's row of that name runs; lock_contended's weft row runs the
// default Lock (FIFO on one worker, barging on several).
func lockContended(name string) {
	const lockers, increments = 8, 100000
	var mu sync.Mutex
	var wg sync.WaitGroup
	counter := 0
	t0 := time.Now()
	wg.Add(lockers)
	for i := 0; i < lockers; i++ {
		go func() {
			for j := 0; j < increments; j++ {
				mu.Lock()
				counter++
				mu.Unlock()
			}
			wg.Done()
		}()
	}
	wg.Wait()
	if counter != lockers*increments {
		os.Exit(1)
	}
	report(name, lockers*increments, time.Since(t0), "")
}

// queue_mpmc: 4 producers, 4 consumers, 1M items through a channel of 128.
func queueMPMC() {
	const producers, consumers, items = 4, 4, 1000000
	ch := make(chan int, 128)
	var pw, cw sync.WaitGroup
	var got int64
	t0 := time.Now()
	cw.Add(consumers)
	for i := 0; i < consumers; i++ {
		go func() {
			n := int64(0)
			for range ch {
				n++
			}
			atomic.AddInt64(&got, n)
			cw.Done()
		}()
	}
	pw.Add(producers)
	for i := 0; i < producers; i++ {
		go func() {
			for j := 1; j <= items/producers; j++ {
				ch <- j
			}
			pw.Done()
		}()
	}
	pw.Wait()
	close(ch)
	cw.Wait()
	if got != items {
		os.Exit(1)
	}
	report("queue_mpmc", items, time.Since(t0), "")
}

// semaphore_limit: 10,000 goroutines through a semaphore of 100 (a channel).
func semaphoreLimit(warm bool) {
	const tasks, permits = 10000, 100
	name := "semaphore_limit"
	if warm {
		name = "semaphore_limit_warm"
		warmUp(tasks)
	}
	sem := make(chan struct{}, permits)
	var wg sync.WaitGroup
	t0 := time.Now()
	wg.Add(tasks)
	for i := 0; i < tasks; i++ {
		go func() {
			sem <- struct{}{}
			runtime.Gosched()
			<-sem
			wg.Done()
		}()
	}
	wg.Wait()
	report(name, tasks, time.Since(t0), "")
}

// semaphore_uncontended: 8 goroutines take and give back a permit of a
// semaphore of 8 (a channel), 100,000 times each.
func semaphoreUncontended() {
	const holders, rounds = 8, 100000
	sem := make(chan struct{}, holders)
	var wg sync.WaitGroup
	var total int64
	t0 := time.Now()
	wg.Add(holders)
	for i := 0; i < holders; i++ {
		go func() {
			n := int64(0)
			for j := 0; j < rounds; j++ {
				sem <- struct{}{}
				n++
				<-sem
			}
			atomic.AddInt64(&total, n)
			wg.Done()
		}()
	}
	wg.Wait()
	if total != holders*rounds {
		os.Exit(1)
	}
	report("semaphore_uncontended", holders*rounds, time.Since(t0), "")
}

// Composition (benchmarks/bench_compose.c has the shapes): 10,000 trivial
// children, 50 rounds, ns per child; a 1 s timeout around one yield.
const children, rounds = 10000, 50

func gather10k() {
	results := make([]int, children)
	t0 := time.Now()
	for r := 0; r < rounds; r++ {
		var wg sync.WaitGroup
		wg.Add(children)
		for i := 0; i < children; i++ {
			go func(i int) { results[i] = i; wg.Done() }(i)
		}
		wg.Wait()
	}
	report("gather_10k", children*rounds, time.Since(t0), "")
}

var errChild = errors.New("child failed")

// errgroup's semantics with the standard library: the first error cancels
// the group's context; Wait returns it.
func taskgroup10k() {
	t0 := time.Now()
	for r := 0; r < rounds; r++ {
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		var once sync.Once
		var first error
		for i := 0; i < children; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				if ctx.Err() != nil {
					return
				}
				if i < 0 { // never: the children succeed, as in the other runtimes
					once.Do(func() { first = errChild; cancel() })
				}
			}(i)
		}
		wg.Wait()
		cancel()
		if first != nil {
			panic(first)
		}
	}
	report("taskgroup_10k", children*rounds, time.Since(t0), "")
}

func waitForOverhead() {
	const n = 200000
	t0 := time.Now()
	for i := 0; i < n; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		runtime.Gosched()
		select {
		case <-ctx.Done():
			panic("timed out")
		default:
		}
		cancel()
	}
	report("wait_for_overhead", n, time.Since(t0), "")
}

// Executors (benchmarks/bench_executor.c): a trivial function handed to
// another goroutine and its result received, 100,000 times in a row.
func executorRoundtrip() {
	const n = 100000
	ch := make(chan int)
	t0 := time.Now()
	for i := 0; i < n; i++ {
		go func(i int) { ch <- i + 1 }(i)
		if <-ch != i+1 {
			panic("wrong result")
		}
	}
	report("executor_roundtrip", n, time.Since(t0), "")
}

// Generators (benchmarks/bench_executor.c): send i to a goroutine that
// answers i + 1, over two unbuffered channels, 200,000 round trips.
func genPingpong() {
	const n = 200000
	in, out := make(chan int), make(chan int)
	go func() {
		for v := range in {
			out <- v + 1
		}
		close(out)
	}()
	t0 := time.Now()
	for i := 1; i <= n; i++ {
		in <- i
		if <-out != i+1 {
			panic("wrong result")
		}
	}
	report("gen_pingpong", n, time.Since(t0), "")
	close(in)
}

func main() {
	flag.Parse()
	runtime.GOMAXPROCS(*workers)
	all := map[string]func(){
		"spawn_many": spawnMany,
		"yield_many": func() { yieldMany(false) }, "ping_pong": func() { pingPong(false) },
		"yield_many_warm": func() { yieldMany(true) }, "ping_pong_warm": func() { pingPong(true) },
		"chained_spawn": chainedSpawn, "timers": timers, "fork_join": forkJoin,
		"sched_switch": switchBench, "rss": rss, "rss_burst": rssBurst, "rss_deep": rssDeep, "timer_accuracy": timerAccuracy,
		"lock_contended":         func() { lockContended("lock_contended") },
		"lock_contended_barging": func() { lockContended("lock_contended_barging") },
		"queue_mpmc":             queueMPMC,
		"semaphore_limit":        func() { semaphoreLimit(false) },
		"semaphore_limit_warm":   func() { semaphoreLimit(true) },
		"semaphore_uncontended":  semaphoreUncontended,
		"gather_10k":             gather10k, "taskgroup_10k": taskgroup10k, "wait_for_overhead": waitForOverhead,
		"executor_roundtrip": executorRoundtrip, "gen_pingpong": genPingpong,
	}
	order := []string{"spawn_many", "yield_many", "ping_pong", "yield_many_warm", "ping_pong_warm", "chained_spawn", "timers", "timer_accuracy", "sched_switch", "fork_join", "rss", "lock_contended", "lock_contended_barging", "queue_mpmc", "semaphore_limit", "semaphore_limit_warm", "semaphore_uncontended", "gather_10k", "taskgroup_10k", "wait_for_overhead", "executor_roundtrip", "gen_pingpong"}
	want := flag.Args()
	if len(want) == 0 {
		want = order
	}
	for _, name := range want {
		if f, ok := all[name]; ok {
			f()
		}
	}
}
