// Command testworkload is the program inside Gantry's Docker test image. It
// implements the test workload protocol (executors/conformance): its
// behaviour comes from GANTRY_TEST_* environment variables. Built static,
// it runs in an image FROM scratch, since no image can be pulled here.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

func main() {
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	if os.Getenv("GANTRY_TEST_IGNORE_TERM") == "1" {
		signal.Ignore(syscall.SIGTERM)
	}
	if s := os.Getenv("GANTRY_TEST_STDOUT"); s != "" {
		fmt.Fprintln(os.Stdout, s)
	}
	if s := os.Getenv("GANTRY_TEST_STDERR"); s != "" {
		fmt.Fprintln(os.Stderr, s)
	}
	var hold [][]byte
	// GANTRY_TEST_ALLOC_AFTER_MS delays the allocation: an OOM kill in the
	// container's first instant can beat Docker's OOM watch (cgroup v1),
	// which then reports a plain exit 137.
	time.Sleep(time.Duration(atoi(os.Getenv("GANTRY_TEST_ALLOC_AFTER_MS"))) * time.Millisecond)
	if mb, _ := strconv.Atoi(os.Getenv("GANTRY_TEST_ALLOC_MB")); mb > 0 {
		for range mb {
			b := make([]byte, 1<<20)
			for i := range b {
				b[i] = 1 // touch every page so it is really resident
			}
			hold = append(hold, b)
		}
	}
	// GANTRY_TEST_TICKS=n prints "tick 1".."tick n", one every 100 ms, for
	// live log tests.
	for i := 1; i <= atoi(os.Getenv("GANTRY_TEST_TICKS")); i++ {
		time.Sleep(100 * time.Millisecond)
		fmt.Fprintf(os.Stdout, "tick %d\n", i)
	}
	wait := time.Duration(atoi(os.Getenv("GANTRY_TEST_SLEEP_MS"))) * time.Millisecond
	var timer <-chan time.Time
	if os.Getenv("GANTRY_TEST_NEVER_EXIT") != "1" {
		timer = time.After(wait)
	}
	select {
	case <-timer:
	case <-term:
		os.Exit(143)
	}
	_ = hold
	os.Exit(atoi(os.Getenv("GANTRY_TEST_EXIT")))
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}
