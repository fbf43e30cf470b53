package routing

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/gantry/gantry/ent/schematype"
)

func rule(t testing.TB, name, cond string, typ string) Rule {
	t.Helper()
	p, err := Compile(cond)
	if err != nil {
		t.Fatal(err)
	}
	et := schematype.ExecutorType(typ)
	return Rule{Name: name, Condition: p, TargetType: &et}
}

func TestRules(t *testing.T) {
	docker := host("docker-1", "docker", 0, 4)
	full := host("docker-full", "docker", 4, 4)
	cloud := host("cloud-1", "cloudrun", 0, 100)
	gpu := rule(t, "gpu", `image startsWith "gpu/"`, "cloudrun")
	batch := rule(t, "batch", `labels["tier"] == "batch" && memoryMB > 1024`, "docker")
	p := Policy{Rules: []Rule{gpu, batch}}
	for _, tc := range []struct {
		name  string
		job   Job
		hosts []Host
		want  string
		part  string
	}{
		{"first matching rule", Job{Vars: Vars{Image: "gpu/train"}}, []Host{docker, cloud}, "cloud-1", "rule gpu"},
		{"second rule", Job{Vars: Vars{Labels: map[string]string{"tier": "batch"}, MemoryMB: 2048}}, []Host{docker, cloud}, "docker-1", "rule batch"},
		{"no rule matches: default", Job{Vars: Vars{Image: "web"}}, []Host{docker, cloud}, "cloud-1", "default policy"},
		{"preferred executor overrides rules", Job{PreferredExecutor: "docker", Vars: Vars{Image: "gpu/x"}}, []Host{docker, cloud}, "docker-1", "preferred executor"},
		{"explicit host overrides rules", Job{HostID: &docker.ID, Vars: Vars{Image: "gpu/x"}}, []Host{docker, cloud}, "docker-1", "explicit host"},
		{"rule target full: fallback", Job{Vars: Vars{Labels: map[string]string{"tier": "batch"}, MemoryMB: 4096}}, []Host{full, cloud}, "cloud-1", "rule batch matched but no docker host can take the job now; fallback"},
	} {
		d := p.Route(tc.job, tc.hosts)
		got := ""
		if d.Host != nil {
			got = d.Host.Name
		}
		if got != tc.want || !strings.Contains(d.Reason, tc.part) {
			t.Errorf("%s: %q (%q), want %q containing %q", tc.name, got, d.Reason, tc.want, tc.part)
		}
	}
}

func TestCheaperAndFasterHostsWin(t *testing.T) {
	cheap := host("cheap", "mock", 3, 4)
	cheap.CostPerHour = schematype.MustDecimal("0.1")
	dear := host("dear", "mock", 0, 40)
	dear.CostPerHour = schematype.MustDecimal("2")
	d := Policy{}.Route(Job{Vars: Vars{TimeoutSeconds: 3600}}, []Host{dear, cheap})
	if d.Host == nil || d.Host.Name != "cheap" {
		t.Fatalf("chose %v, want the cheap host", d.Host)
	}
	if c := d.Candidates[1]; c.Host.Name != "dear" || c.EstimatedCost().String() != "2.0000" {
		t.Errorf("candidate estimate %+v", c)
	}
	slow, fast := host("slow", "mock", 0, 4), host("fast", "mock", 0, 4)
	slow.AvgStartup, fast.AvgStartup = 30, 2
	if d := (Policy{}).Route(Job{}, []Host{slow, fast}); d.Host.Name != "fast" {
		t.Errorf("chose %s, want the faster-starting host", d.Host.Name)
	}
}

func TestCompileReportsPosition(t *testing.T) {
	for _, bad := range []string{`image startsWith`, `memoryMB > "big"`, `nosuchfield == 1`, `image`} {
		_, err := Compile(bad)
		if err == nil || !strings.Contains(err.Error(), "invalid condition") {
			t.Errorf("%q: %v", bad, err)
			continue
		}
		if bad != "image" && !strings.Contains(err.Error(), "(1:") {
			t.Errorf("%q: error has no position: %v", bad, err)
		}
	}
}

// BenchmarkRoute1000Hosts100Rules is the routing figure of `make bench`:
// one decision over 1,000 hosts with 100 rules, the last one matching.
func BenchmarkRoute1000Hosts100Rules(b *testing.B) {
	var hosts []Host
	for i := range 1000 {
		typ := []string{"docker", "cloudrun", "fargate", "mock"}[i%4]
		h := host(fmt.Sprintf("h%04d", i), typ, i%7, 8)
		h.CostPerHour = schematype.MustDecimal(fmt.Sprintf("0.%02d", i%100))
		hosts = append(hosts, h)
	}
	var rules []Rule
	for i := range 99 {
		rules = append(rules, rule(b, fmt.Sprintf("r%02d", i), fmt.Sprintf(`labels["team"] == "t%d" && memoryMB > %d`, i, i), "docker"))
	}
	rules = append(rules, rule(b, "last", `image startsWith "batch/"`, "fargate"))
	p := Policy{Rules: rules, Top: 20} // as the claim loop routes
	job := Job{Vars: Vars{Image: "batch/etl", Labels: map[string]string{"team": "x"}, MemoryMB: 512, TimeoutSeconds: 600}}
	b.ReportAllocs()
	for b.Loop() {
		if d := p.Route(job, hosts); d.Host == nil || d.Host.Type != "fargate" {
			b.Fatalf("decision %v", d.Reason)
		}
	}
}

func TestStartLatencyBound(t *testing.T) {
	slow, fast := host("slow", "mock", 0, 40), host("fast", "mock", 3, 4)
	slow.AvgStartup, fast.AvgStartup = 30, 2
	slow.CostPerHour = schematype.MustDecimal("0.01") // cheaper, but too slow for this job
	fast.CostPerHour = schematype.MustDecimal("1")
	d := Policy{}.Route(Job{MaxStartup: 10, Vars: Vars{TimeoutSeconds: 60}}, []Host{slow, fast})
	if d.Host == nil || d.Host.Name != "fast" || !strings.Contains(d.Reason, "passed over slow (average startup 30s over the job's bound of 10s)") {
		t.Fatalf("decision %v: %s", d.Host, d.Reason)
	}
}

func TestRetryAvoidsFailedHost(t *testing.T) {
	a, b := host("a", "mock", 0, 9), host("b", "mock", 0, 2)
	if d := (Policy{}).Route(Job{AvoidHost: &a.ID}, []Host{a, b}); d.Host.Name != "b" {
		t.Errorf("retry went back to the failed host %s", d.Host.Name)
	}
	if d := (Policy{}).Route(Job{AvoidHost: &a.ID}, []Host{a}); d.Host == nil || d.Host.Name != "a" {
		t.Errorf("with no other host the retry must still run: %v", d.Reason)
	}
}

func TestResourceFit(t *testing.T) {
	small, big := host("small", "mock", 0, 40), host("big", "mock", 0, 2)
	small.MemoryMB, small.CPU = 1024, 1
	d := Policy{}.Route(Job{Vars: Vars{MemoryMB: 4096, CPU: 1}}, []Host{small, big})
	if d.Host == nil || d.Host.Name != "big" || !strings.Contains(d.Reason, "needs 4096 MB, host takes at most 1024 MB") {
		t.Errorf("memory fit: %v %s", d.Host, d.Reason)
	}
	d = Policy{}.Route(Job{Vars: Vars{MemoryMB: 512, CPU: 2}}, []Host{small, big})
	if d.Host == nil || d.Host.Name != "big" {
		t.Errorf("cpu fit: %v %s", d.Host, d.Reason)
	}
}

func weightRule(t testing.TB, name, cond, typ string, w int) Rule {
	r := rule(t, name, cond, typ)
	r.Weight = &w
	return r
}

// TestWeightingRules: weighting rules rank their targets up or down ahead
// of cost, add up, never exclude (a full preferred host spills), do not
// decide like target rules, and apply inside a target rule's hosts too.
func TestWeightingRules(t *testing.T) {
	cheap := host("docker-cheap", "docker", 0, 4)
	cheap.CostPerHour = schematype.MustDecimal("0.1")
	dear := host("cloud-dear", "cloudrun", 0, 100)
	dear.CostPerHour = schematype.MustDecimal("2")
	fullDear := host("cloud-full", "cloudrun", 100, 100)
	fullDear.CostPerHour = dear.CostPerHour
	batch := Job{Vars: Vars{Labels: map[string]string{"tier": "batch"}, TimeoutSeconds: 3600}}
	web := Job{Vars: Vars{Labels: map[string]string{"tier": "web"}, TimeoutSeconds: 3600}}
	prefer := weightRule(t, "batch-to-cloud", `labels["tier"] == "batch"`, "cloudrun", 50)
	for _, tc := range []struct {
		name  string
		rules []Rule
		job   Job
		hosts []Host
		want  string
		part  string
	}{
		{"weight beats cost", []Rule{prefer}, batch, []Host{cheap, dear}, "cloud-dear", "weighted +50 by rule batch-to-cloud"},
		{"not matching: cost decides", []Rule{prefer}, web, []Host{cheap, dear}, "docker-cheap", "cheapest"},
		{"weighted host full: spills", []Rule{prefer}, batch, []Host{cheap, fullDear}, "docker-cheap", "default policy"},
		{"weights add up", []Rule{prefer, weightRule(t, "avoid-cloud", `true`, "cloudrun", -80)}, batch, []Host{cheap, dear}, "docker-cheap", "cheapest"},
		{"negative weight avoids", []Rule{weightRule(t, "no-docker", `true`, "docker", -1)}, web, []Host{cheap, dear}, "cloud-dear", "docker-cheap weighted -1 by rule no-docker"},
		{"target rule still decides; weights order its hosts", []Rule{
			weightRule(t, "second-cloud", `true`, "cloudrun", 5),
			rule(t, "all-cloud", `true`, "cloudrun"),
		}, web, []Host{cheap, dear, withName(dear, "cloud-other")}, "cloud-dear", "rule all-cloud"},
	} {
		d := Policy{Rules: tc.rules}.Route(tc.job, tc.hosts)
		got := ""
		if d.Host != nil {
			got = d.Host.Name
		}
		if got != tc.want || !strings.Contains(d.Reason, tc.part) {
			t.Errorf("%s: %q (%q), want %q containing %q", tc.name, got, d.Reason, tc.want, tc.part)
		}
	}
	d := Policy{Rules: []Rule{prefer}}.Route(batch, []Host{cheap, dear})
	if d.Candidates[0].Bias != 50 || d.Candidates[1].Bias != 0 {
		t.Errorf("candidate weights: %+v", d.Candidates)
	}
}

func withName(h Host, name string) Host {
	h.Name = name
	h.ID[0]++
	return h
}

// TestTopKeepsTheSameDecision: keeping only the best candidates changes
// neither the choice nor the reason, and the kept ones are the full
// ranking's head, over many random snapshots.
func TestTopKeepsTheSameDecision(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	types := []string{"docker", "cloudrun", "fargate", "mock"}
	for round := range 200 {
		hosts := make([]Host, 50+rng.IntN(100))
		for i := range hosts {
			hosts[i] = host(fmt.Sprintf("h%03d", i), types[rng.IntN(4)], rng.IntN(5), 4)
			hosts[i].CostPerHour = schematype.MustDecimal(fmt.Sprintf("0.%02d", rng.IntN(5)))
			hosts[i].AvgStartup = rng.IntN(3)
			hosts[i].HealthFailures = rng.IntN(4)
		}
		rules := []Rule{weightRule(t, "w", `labels["x"] == "1"`, types[rng.IntN(4)], rng.IntN(21)-10)}
		if rng.IntN(2) == 0 {
			rules = append(rules, rule(t, "r", `image startsWith "a"`, types[rng.IntN(4)]))
		}
		job := Job{Vars: Vars{Image: []string{"a1", "b1"}[rng.IntN(2)], Labels: map[string]string{"x": fmt.Sprint(rng.IntN(2))}, TimeoutSeconds: 600}}
		full := Policy{Rules: rules}.Route(job, slices.Clone(hosts))
		top := Policy{Rules: rules, Top: 20}.Route(job, slices.Clone(hosts))
		if full.Reason != top.Reason || (full.Host == nil) != (top.Host == nil) || full.Host != nil && full.Host.ID != top.Host.ID {
			t.Fatalf("round %d: full %q, top %q", round, full.Reason, top.Reason)
		}
		for i, c := range top.Candidates {
			if f := full.Candidates[i]; f.Host.ID != c.Host.ID || f.Reason != c.Reason {
				t.Fatalf("round %d, candidate %d: full %s (%s), top %s (%s)", round, i, f.Host.Name, f.Reason, c.Host.Name, c.Reason)
			}
		}
		if len(top.Candidates) != min(20, len(hosts)) {
			t.Fatalf("round %d: kept %d candidates", round, len(top.Candidates))
		}
	}
}
