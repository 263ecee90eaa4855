// etcd-load drives a 3-member etcd with the same closed-loop write load the Node generator
// puts on RaftKV: N clients, each with one Put outstanding, 16-byte values, per-op latency.
// It talks to the leader's endpoint (as RaftKV's clients talk to its leader) and prints one
// JSON line in the LoadResult shape of test/bench/load-result.ts. With -pids it also reads each
// member's CPU from /proc/<pid>/stat at the edges of the measured window (nodeCpu), as
// resp-load.ts does for RaftKV's nodes, so CPU per write compares like with like.
//
// Build offline with Debian's packages:
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go build -o <out> ./test/bench/etcd-load
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"go.etcd.io/etcd/clientv3"
)

type result struct {
	System       string    `json:"system"`
	Clients      int       `json:"clients"`
	Ops          int       `json:"ops"`
	Errors       int64     `json:"errors"`
	Seconds      float64   `json:"seconds"`
	OpsPerSec    float64   `json:"opsPerSec"`
	P50Ms        float64   `json:"p50Ms"`
	P99Ms        float64   `json:"p99Ms"`
	P999Ms       float64   `json:"p999Ms"`
	GeneratorCPU float64   `json:"generatorCpu"`
	NodeCPU      []procCPU `json:"nodeCpu,omitempty"`
}

type procCPU struct {
	User   float64 `json:"user"`
	System float64 `json:"system"`
}

// procCPUOf reads utime and stime (USER_HZ 100) from /proc/<pid>/stat, after the command name.
func procCPUOf(pid int) procCPU {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procCPU{}
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndex(s, ") ")+2:])
	u, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return procCPU{User: u / 100, System: st / 100}
}

func procCPUs(pids []int) []procCPU {
	out := make([]procCPU, len(pids))
	for i, p := range pids {
		out[i] = procCPUOf(p)
	}
	return out
}

func cpuSeconds() float64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

// leaderEndpoint asks each member for its status and returns the one that is the leader.
func leaderEndpoint(endpoints []string) (string, error) {
	cli, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 5 * time.Second})
	if err != nil {
		return "", err
	}
	defer cli.Close()
	for _, ep := range endpoints {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		st, err := cli.Status(ctx, ep)
		cancel()
		if err == nil && st.Header.MemberId == st.Leader {
			return ep, nil
		}
	}
	return "", fmt.Errorf("no leader among %v", endpoints)
}

func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p/100*float64(len(sorted))+0.999999) - 1
	if i < 0 {
		i = 0
	}
	if i >= len(sorted) {
		i = len(sorted) - 1
	}
	return sorted[i]
}

func main() {
	endpoints := flag.String("endpoints", "", "comma-separated client URLs")
	clients := flag.Int("clients", 1, "concurrent clients, each with one Put outstanding")
	conns := flag.Int("conns", 8, "gRPC connections the clients share (at most one per client)")
	seconds := flag.Float64("seconds", 5, "measured duration")
	warmup := flag.Float64("warmup", 1, "unmeasured warm-up")
	valueBytes := flag.Int("value-bytes", 16, "value size")
	pidList := flag.String("pids", "", "comma-separated member pids whose CPU to read over the window")
	flag.Parse()
	pids := []int{}
	for _, p := range strings.Split(*pidList, ",") {
		if n, err := strconv.Atoi(p); err == nil {
			pids = append(pids, n)
		}
	}

	leader, err := leaderEndpoint(strings.Split(*endpoints, ","))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	nconn := *conns
	if nconn > *clients {
		nconn = *clients
	}
	pool := make([]*clientv3.Client, nconn)
	for i := range pool {
		pool[i], err = clientv3.New(clientv3.Config{Endpoints: []string{leader}, DialTimeout: 5 * time.Second})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		defer pool[i].Close()
	}
	value := strings.Repeat("v", *valueBytes)

	var recording, stopped atomic.Bool
	var errs atomic.Int64
	lat := make([][]float64, *clients)
	var wg sync.WaitGroup
	for c := 0; c < *clients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			cli := pool[c%nconn]
			keys := make([]string, 1000)
			for k := range keys {
				keys[k] = fmt.Sprintf("bench:%d:%d", c, k)
			}
			for k := 0; !stopped.Load(); k++ {
				t0 := time.Now()
				_, err := cli.Put(context.Background(), keys[k%len(keys)], value)
				dt := time.Since(t0)
				if !recording.Load() {
					continue
				}
				if err != nil {
					errs.Add(1)
				} else {
					lat[c] = append(lat[c], float64(dt.Nanoseconds())/1e6)
				}
			}
		}(c)
	}
	time.Sleep(time.Duration(*warmup * float64(time.Second)))
	recording.Store(true)
	cpu0 := cpuSeconds()
	nodes0 := procCPUs(pids)
	t0 := time.Now()
	time.Sleep(time.Duration(*seconds * float64(time.Second)))
	recording.Store(false)
	nodes1 := procCPUs(pids)
	elapsed := time.Since(t0).Seconds()
	cpu := cpuSeconds() - cpu0
	stopped.Store(true)
	wg.Wait()

	all := []float64{}
	for _, l := range lat {
		all = append(all, l...)
	}
	sort.Float64s(all)
	var nodeCPU []procCPU
	for i := range pids {
		nodeCPU = append(nodeCPU, procCPU{User: nodes1[i].User - nodes0[i].User, System: nodes1[i].System - nodes0[i].System})
	}
	out, _ := json.Marshal(result{
		System: "etcd", Clients: *clients, Ops: len(all), Errors: errs.Load(), Seconds: elapsed,
		OpsPerSec: float64(len(all)) / elapsed, P50Ms: percentile(all, 50), P99Ms: percentile(all, 99),
		P999Ms: percentile(all, 99.9), GeneratorCPU: cpu / elapsed, NodeCPU: nodeCPU,
	})
	fmt.Println(string(out))
}
