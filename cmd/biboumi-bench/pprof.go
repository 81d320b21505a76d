package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Profiling our gateway without changing it: with -pprof DIR, the
// gateway is built with one more file in package main, added by
// go build -overlay (the source tree is not touched). That file serves,
// on the loopback address in $BIBOUMI_BENCH_PPROF, CPU profile
// start/stop, heap and goroutine profiles and runtime.MemStats. The
// load generator takes a heap profile and MemStats after the join, and
// a CPU profile over the steady and the fan-out phases, into DIR.

const pprofEnv = "BIBOUMI_BENCH_PPROF"

// pprofOverlaySource is the file added to cmd/biboumi. Its identifiers
// start with zzBench so they cannot clash with the package's own.
const pprofOverlaySource = `// Code added by biboumi-bench -pprof with go build -overlay; not in the source tree.

package main

import (
	"encoding/json"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"sync"
)

func init() {
	addr := os.Getenv("` + pprofEnv + `")
	if addr == "" {
		return
	}
	// A finer heap sample than the default 512 KiB: the profile is about
	// what each user costs, a few KiB.
	runtime.MemProfileRate = 4096
	var (
		mu sync.Mutex
		f  *os.File
	)
	mux := http.NewServeMux()
	mux.HandleFunc("/cpu/start", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if f != nil {
			http.Error(w, "already profiling", http.StatusConflict)
			return
		}
		out, err := os.Create(r.URL.Query().Get("file"))
		if err == nil {
			err = pprof.StartCPUProfile(out)
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		f = out
	})
	mux.HandleFunc("/cpu/stop", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if f != nil {
			pprof.StopCPUProfile()
			f.Close()
			f = nil
		}
	})
	mux.HandleFunc("/profile/", func(w http.ResponseWriter, r *http.Request) {
		name := r.URL.Path[len("/profile/"):]
		p := pprof.Lookup(name)
		if p == nil {
			http.NotFound(w, r)
			return
		}
		if name == "heap" || name == "allocs" {
			runtime.GC()
		}
		debug := 0
		if r.URL.Query().Get("debug") == "1" {
			debug = 1
		}
		p.WriteTo(w, debug)
	})
	mux.HandleFunc("/memstats", func(w http.ResponseWriter, r *http.Request) {
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		json.NewEncoder(w).Encode(map[string]any{
			"goroutines": runtime.NumGoroutine(), "heap_alloc": m.HeapAlloc, "heap_inuse": m.HeapInuse,
			"heap_idle": m.HeapIdle, "heap_released": m.HeapReleased, "heap_sys": m.HeapSys,
			"stack_inuse": m.StackInuse, "stack_sys": m.StackSys, "sys": m.Sys, "num_gc": m.NumGC,
			"gc_sys": m.GCSys, "other_sys": m.OtherSys, "mspan_inuse": m.MSpanInuse, "heap_objects": m.HeapObjects,
		})
	})
	go http.ListenAndServe(addr, mux)
}
`

// buildOursProfiled builds the gateway with the profiling file.
func (b *bench) buildOursProfiled(bin string) error {
	src := filepath.Join(b.dir, "zz_bench_pprof.go")
	if err := os.WriteFile(src, []byte(pprofOverlaySource), 0o644); err != nil {
		return err
	}
	overlay, err := json.Marshal(map[string]any{"Replace": map[string]string{
		filepath.Join(b.root, "cmd", "biboumi", "zz_bench_pprof.go"): src,
	}})
	if err != nil {
		return err
	}
	ov := filepath.Join(b.dir, "overlay.json")
	if err := os.WriteFile(ov, overlay, 0o644); err != nil {
		return err
	}
	goCmd := os.Getenv("GO")
	if goCmd == "" {
		goCmd = "go"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goCmd, "build", "-overlay", ov, "-o", bin, "./cmd/biboumi")
	cmd.Dir = b.root
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build -overlay (profiling variant): %v\n%s", err, out)
	}
	return nil
}

// profiler talks to the profiling file of one gateway run.
type profiler struct {
	addr string // host:port
	dir  string // where profiles go
	pre  string // file name prefix
}

func (p *profiler) get(path string) ([]byte, error) {
	c := http.Client{Timeout: 30 * time.Second}
	resp, err := c.Get("http://" + p.addr + path)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s: %s", path, resp.Status, strings.TrimSpace(string(data)))
	}
	return data, err
}

func (p *profiler) file(name string) string { return filepath.Join(p.dir, p.pre+name) }

// save writes a profile or a stats snapshot to DIR and returns its path.
func (p *profiler) save(path, name string) (string, error) {
	data, err := p.get(path)
	if err != nil {
		return "", err
	}
	f := p.file(name)
	return f, os.WriteFile(f, data, 0o644)
}

func (p *profiler) startCPU(name string) error {
	_, err := p.get("/cpu/start?file=" + p.file(name))
	return err
}

func (p *profiler) stopCPU() error {
	_, err := p.get("/cpu/stop")
	return err
}

// top returns the first lines of go tool pprof -top for a profile.
func pprofTop(bin, profile string, args ...string) string {
	goCmd := os.Getenv("GO")
	if goCmd == "" {
		goCmd = "go"
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	argv := append([]string{"tool", "pprof", "-top", "-nodecount=15"}, args...)
	argv = append(argv, bin, profile)
	out, err := exec.CommandContext(ctx, goCmd, argv...).CombinedOutput()
	if err != nil {
		return fmt.Sprintf("go tool pprof: %v\n%s", err, out)
	}
	return string(out)
}
