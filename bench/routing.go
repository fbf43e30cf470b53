package main

import (
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/gantry/gantry/ent/schematype"
	"github.com/gantry/gantry/routing"
)

// routingBench times routing decisions over 1,000 hosts and 100 rules, the
// last rule the one that matches, as the claim loop makes them: many jobs
// over one host snapshot, the best 20 candidates kept for the job's record.
func routingBench(decisions int) error {
	types := []schematype.ExecutorType{"docker", "cloudrun", "fargate", "mock"}
	hosts := make([]routing.Host, 1000)
	for i := range hosts {
		hosts[i] = routing.Host{ID: uuid.New(), Name: fmt.Sprintf("h%04d", i), Type: types[i%4], Active: true, Runnable: true,
			Current: i % 7, Max: 8, Weight: 100, CostPerHour: schematype.MustDecimal(fmt.Sprintf("0.%02d", i%100))}
	}
	rules := make([]routing.Rule, 0, 100)
	for i := range 100 {
		cond, target := fmt.Sprintf(`labels["team"] == "t%d" && memoryMB > %d`, i, i), types[0]
		if i == 99 {
			cond, target = `image startsWith "batch/"`, types[2]
		}
		prog, err := routing.Compile(cond)
		if err != nil {
			return err
		}
		rules = append(rules, routing.Rule{Name: fmt.Sprint(i), Condition: prog, TargetType: &target})
	}
	p := routing.Policy{Rules: rules, Top: 20} // as the claim loop routes
	job := routing.Job{Vars: routing.Vars{Image: "batch/etl", Labels: map[string]string{"team": "x"}, MemoryMB: 512, TimeoutSeconds: 600}}
	lats := make([]time.Duration, 0, decisions)
	for range decisions {
		start := time.Now()
		d := p.Route(job, hosts)
		lats = append(lats, time.Since(start))
		if d.Host == nil || d.Host.Type != "fargate" {
			return fmt.Errorf("unexpected decision: %s", d.Reason)
		}
	}
	fmt.Printf("routing  decision over 1,000 hosts and 100 rules (%d decisions): p50 %s p99 %s\n", decisions, pct(lats, 50), pct(lats, 99))
	return nil
}
