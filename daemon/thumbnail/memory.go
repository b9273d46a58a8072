package thumbnail

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// memoryInterval is how often the browser's memory is measured.
const memoryInterval = 200 * time.Millisecond

// watchMemory measures the memory of the process pid and its descendants
// until ctx ends, and calls over (once) when their total passes limit.
// Chromium's processes share much of their memory, so the measure is the
// proportional set size (PSS, /proc/<pid>/smaps_rollup), which counts a
// shared page once across them; where that file is missing, the resident
// size. On a system without /proc it measures nothing.
func watchMemory(ctx context.Context, pid int, limit int64, over func(used int64)) {
	t := time.NewTicker(memoryInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		used, ok := treeMemory(pid)
		if !ok {
			return
		}
		if used > limit {
			over(used)
			// The caller cancels the context, which kills the browser.
			return
		}
	}
}

// treeMemory sums the memory of pid and every process below it.
func treeMemory(pid int) (int64, bool) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, false
	}
	children := map[int][]int{}
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if pp, ok := parentOf(p); ok {
			children[pp] = append(children[pp], p)
		}
	}
	var total int64
	seen := map[int]bool{}
	queue := []int{pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		if seen[p] {
			continue
		}
		seen[p] = true
		total += processMemory(p)
		queue = append(queue, children[p]...)
	}
	return total, true
}

// parentOf reads the parent pid from /proc/<pid>/stat ("pid (comm) state
// ppid …"; comm may hold spaces and parentheses, so read after the last ')').
func parentOf(pid int) (int, bool) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, false
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 2 {
		return 0, false
	}
	pp, err := strconv.Atoi(f[1])
	return pp, err == nil
}

// processMemory is the PSS of pid in bytes, or its RSS when PSS is not
// available, or 0 when the process is gone.
func processMemory(pid int) int64 {
	dir := filepath.Join("/proc", strconv.Itoa(pid))
	if f, err := os.Open(filepath.Join(dir, "smaps_rollup")); err == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), "Pss:"); ok {
				kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
				if err == nil {
					return kb << 10
				}
			}
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "statm"))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return 0
	}
	return pages * int64(os.Getpagesize())
}
