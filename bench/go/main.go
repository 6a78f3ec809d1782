// Command mconn-bench is one end of a bench connection built on CometBFT's own p2p/conn package: v0.38.26 with
// go.mod, v1.0.1 with `go build -modfile=go.v1.mod` (the same source; the API is the same). It runs an
// MConnection over a plain TCP socket or over a SecretConnection, with one channel, as the Go peer of the rx-p2p
// bench (bench/suites/go.ts): the orchestrator drives it over the bench control protocol (one JSON object per
// line on file descriptor 3, see bench/README.md), exactly like a Node worker, so the same harness times Go's
// pair, rx-p2p's pair, and mixed pairs (Go sender, rx-p2p receiver and the reverse).
//
// Built by the bench at run time into its cache directory; not part of the rx-p2p library.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cometbft/cometbft/crypto/ed25519"
	"github.com/cometbft/cometbft/libs/log"
	"github.com/cometbft/cometbft/p2p/conn"
	"golang.org/x/sys/unix"
)

// benchChannel is the channel every bench stack uses (rx-p2p's bench stack too).
const benchChannel = byte(0x20)

// unlimitedRate lifts CometBFT's flow-rate limits: 10^15 B/s never blocks (flowrate.Monitor.Limit).
const unlimitedRate = int64(1e15)

// defaultConfigRate is CometBFT's config.toml default send_rate / recv_rate, for rate-limited runs.
const defaultConfigRate = int64(5_120_000)

// ---- control channel ------------------------------------------------------------------------------

type message map[string]any

var (
	ctlOut   *os.File
	ctlMutex sync.Mutex
)

func send(m message) {
	b, err := json.Marshal(m)
	if err != nil {
		b = []byte(fmt.Sprintf(`{"ev":"error","message":%q}`, err.Error()))
	}
	ctlMutex.Lock()
	defer ctlMutex.Unlock()
	_, _ = ctlOut.Write(append(b, '\n'))
}

func fail(format string, args ...any) {
	send(message{"ev": "error", "message": fmt.Sprintf(format, args...)})
}

// nowUs is CLOCK_MONOTONIC in microseconds, the clock of Node's process.hrtime, shared by all processes.
func nowUs() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		panic(err)
	}
	return ts.Sec*1_000_000 + ts.Nsec/1000
}

// ---- stack parameters (the same names as bench/stacks/rx.ts) -------------------------------------------

type params struct {
	Encrypt                 bool     `json:"encrypt"`
	RateLimited             bool     `json:"rateLimited"`
	FlushThrottleMs         *float64 `json:"flushThrottleMs"`
	SendQueueCapacity       *int     `json:"sendQueueCapacity"`
	MaxPacketMsgPayloadSize *int     `json:"maxPacketMsgPayloadSize"`
}

func parseParams(m message) (params, error) {
	var p params
	raw, ok := m["params"]
	if !ok || raw == nil {
		return p, nil
	}
	b, err := json.Marshal(raw)
	if err != nil {
		return p, err
	}
	err = json.Unmarshal(b, &p)
	return p, err
}

// ---- the receiving end ----------------------------------------------------------------------------

const (
	sinkIdle = iota
	sinkCount
	sinkEcho
	sinkPong
)

// sink is what received messages are counted against; only the MConnection's receive goroutine mutates it
// once it is installed, the control loop swaps in a new one.
type sink struct {
	kind   int
	target int64
	got    int64
	size   int64
	reply  []byte
	done   chan struct{}
}

var (
	current       atomic.Pointer[sink]
	idle          = &sink{kind: sinkIdle}
	totalReceived atomic.Int64
	mconnPtr      atomic.Pointer[conn.MConnection]
	exiting       atomic.Bool
)

func onReceive(_ byte, msg []byte) {
	n := int64(len(msg))
	totalReceived.Add(n)
	s := current.Load()
	switch s.kind {
	case sinkCount:
		s.got += n
		if s.got >= s.target {
			t := nowUs()
			if current.CompareAndSwap(s, idle) {
				send(message{"ev": "received", "t": t, "bytes": s.got})
			}
		}
	case sinkEcho:
		s.got += n
		for s.got >= s.size {
			s.got -= s.size
			write(s.reply)
		}
	case sinkPong:
		s.got += n
		if s.got >= s.size {
			s.got -= s.size
			select {
			case s.done <- struct{}{}:
			default:
			}
		}
	}
}

func onError(err any) {
	if exiting.Load() {
		return
	}
	fail("mconnection: %v", err)
}

// write queues one message: TrySend, and the blocking Send when the queue is full (as the rx-p2p stack does
// with trySend / send).
func write(msg []byte) {
	mc := mconnPtr.Load()
	if mc.TrySend(benchChannel, msg) {
		return
	}
	for !mc.Send(benchChannel, msg) {
		if !mc.IsRunning() {
			panic("MConnection stopped while sending")
		}
	}
}

func fill(size int) []byte {
	b := make([]byte, size)
	x := uint32(0x9e3779b9)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}

// ---- setting a connection up ----------------------------------------------------------------------

var nodeKey = ed25519.GenPrivKey()

func setup(c net.Conn, p params) (*conn.MConnection, error) {
	var nc net.Conn = c
	if p.Encrypt {
		sc, err := conn.MakeSecretConnection(c, nodeKey)
		if err != nil {
			_ = c.Close()
			return nil, fmt.Errorf("secret handshake: %w", err)
		}
		nc = sc
	}
	cfg := conn.DefaultMConnConfig()
	cfg.SendRate, cfg.RecvRate = unlimitedRate, unlimitedRate
	if p.RateLimited {
		cfg.SendRate, cfg.RecvRate = defaultConfigRate, defaultConfigRate
	}
	cfg.FlushThrottle = 0
	if p.FlushThrottleMs != nil {
		cfg.FlushThrottle = time.Duration(*p.FlushThrottleMs * float64(time.Millisecond))
	}
	if p.MaxPacketMsgPayloadSize != nil {
		cfg.MaxPacketMsgPayloadSize = *p.MaxPacketMsgPayloadSize
	}
	capacity := 100
	if p.SendQueueCapacity != nil {
		capacity = *p.SendQueueCapacity
	}
	channels := []*conn.ChannelDescriptor{{ID: benchChannel, Priority: 1, SendQueueCapacity: capacity}}
	m := conn.NewMConnectionWithConfig(nc, channels, onReceive, onError, cfg)
	m.SetLogger(log.NewNopLogger()) // channels log through their own logger, nil until set
	if err := m.Start(); err != nil {
		return nil, err
	}
	return m, nil
}

// ---- operations -----------------------------------------------------------------------------------

func listen(p params, handshakeOnly bool) (message, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if handshakeOnly {
				go func(c net.Conn) {
					sc, err := conn.MakeSecretConnection(c, nodeKey)
					if err != nil {
						_ = c.Close()
						return
					}
					_, _ = io.Copy(io.Discard, sc)
					_ = c.Close()
				}(c)
				continue
			}
			if mconnPtr.Load() != nil {
				_ = c.Close()
				continue
			}
			m, err := setup(c, p)
			if err != nil {
				fail("accept: %v", err)
				continue
			}
			mconnPtr.Store(m)
			send(message{"ev": "accepted"})
		}
	}()
	return message{"ev": "listening", "port": ln.Addr().(*net.TCPAddr).Port}, nil
}

func dial(port int, p params) (message, error) {
	c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		return nil, err
	}
	t0 := nowUs()
	m, err := setup(c, p)
	if err != nil {
		return nil, err
	}
	mconnPtr.Store(m)
	return message{"ev": "ready", "setupUs": nowUs() - t0}, nil
}

func sendBytes(bytes, size int64) message {
	msg := fill(int(size))
	n := (bytes + size - 1) / size
	t0 := nowUs()
	for i := int64(0); i < n; i++ {
		write(msg)
	}
	return message{"ev": "sent", "t0": t0, "t1": nowUs(), "bytes": n * size}
}

func pingPong(size, warmup, count int) message {
	msg := fill(size)
	rtts := make([]float64, 0, count)
	for i := 0; i < warmup+count; i++ {
		s := &sink{kind: sinkPong, size: int64(size), done: make(chan struct{}, 1)}
		current.Store(s)
		t0 := time.Now()
		write(msg)
		<-s.done
		if i >= warmup {
			rtts = append(rtts, float64(time.Since(t0).Nanoseconds())/1000)
		}
	}
	current.Store(idle)
	return message{"ev": "rtts", "rtts": rtts}
}

func handshakes(port, warmup, count int) (message, error) {
	times := make([]float64, 0, count)
	for i := 0; i < warmup+count; i++ {
		c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			return nil, err
		}
		t0 := time.Now()
		if _, err := conn.MakeSecretConnection(c, nodeKey); err != nil {
			_ = c.Close()
			return nil, err
		}
		dt := float64(time.Since(t0).Nanoseconds()) / 1000
		_ = c.Close()
		if i >= warmup {
			times = append(times, dt)
		}
	}
	return message{"ev": "handshakes", "times": times}, nil
}

func cpu() message {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return message{"ev": "cpu", "user": ru.Utime.Sec*1_000_000 + ru.Utime.Usec, "system": ru.Stime.Sec*1_000_000 + ru.Stime.Usec, "t": nowUs()}
}

func stats() message {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	rssKiB := int64(0)
	if b, err := os.ReadFile("/proc/self/statm"); err == nil {
		if f := strings.Fields(string(b)); len(f) > 1 {
			pages, _ := strconv.ParseInt(f[1], 10, 64)
			rssKiB = pages * int64(os.Getpagesize()) / 1024
		}
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return message{"ev": "stats", "maxRssKiB": ru.Maxrss, "rssKiB": rssKiB, "heapUsedKiB": ms.HeapAlloc / 1024, "totalReceived": totalReceived.Load(), "gomaxprocs": runtime.GOMAXPROCS(0), "numGC": ms.NumGC, "cometbft": cometbftVersion(), "go": runtime.Version()}
}

// cometbftVersion is the version of CometBFT this program was built against (go.mod or go.v1.mod).
func cometbftVersion() string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, d := range info.Deps {
			if d.Path == "github.com/cometbft/cometbft" {
				return d.Version
			}
		}
	}
	return "unknown"
}

func num(m message, k string) int64 {
	f, _ := m[k].(float64)
	if math.IsNaN(f) {
		return 0
	}
	return int64(f)
}

func handle(m message) (message, error) {
	op, _ := m["op"].(string)
	p, err := parseParams(m)
	if err != nil {
		return nil, err
	}
	switch op {
	case "load":
		return message{"ev": "loaded"}, nil
	case "listen":
		h, _ := m["handshakeOnly"].(bool)
		return listen(p, h)
	case "dial":
		return dial(int(num(m, "port")), p)
	case "expect":
		current.Store(&sink{kind: sinkCount, target: num(m, "bytes")})
		return message{"ev": "armed"}, nil
	case "send":
		return sendBytes(num(m, "bytes"), num(m, "size")), nil
	case "echo":
		size := num(m, "size")
		current.Store(&sink{kind: sinkEcho, size: size, reply: fill(int(size))})
		return message{"ev": "ok"}, nil
	case "idle":
		current.Store(idle)
		return message{"ev": "ok"}, nil
	case "ping":
		return pingPong(int(num(m, "size")), int(num(m, "warmup")), int(num(m, "count"))), nil
	case "handshakes":
		return handshakes(int(num(m, "port")), int(num(m, "warmup")), int(num(m, "count")))
	case "cpu":
		return cpu(), nil
	case "stats":
		return stats(), nil
	case "exit":
		exiting.Store(true)
		if mc := mconnPtr.Load(); mc != nil {
			_ = mc.Stop()
		}
		send(message{"ev": "bye"})
		os.Exit(0)
	}
	return nil, fmt.Errorf("unknown op '%s'", op)
}

func main() {
	ctlOut = os.NewFile(3, "ctl")
	if ctlOut == nil {
		fmt.Fprintln(os.Stderr, "mconn-bench: run by the rx-p2p bench (control channel on fd 3)")
		os.Exit(2)
	}
	current.Store(idle)
	in := bufio.NewReader(ctlOut)
	for {
		line, err := in.ReadBytes('\n')
		if len(strings.TrimSpace(string(line))) > 0 {
			var m message
			if jerr := json.Unmarshal(line, &m); jerr == nil {
				reply, herr := handle(m)
				if herr != nil {
					fail("%s: %v", m["op"], herr)
				} else if reply != nil {
					send(reply)
				}
			}
		}
		if err != nil { // the orchestrator went away
			exiting.Store(true)
			os.Exit(0)
		}
	}
}
