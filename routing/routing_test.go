package routing

import (
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/gantry/gantry/ent/schematype"
)

func host(name, typ string, cur, max int) Host {
	return Host{ID: uuid.NewSHA1(uuid.Nil, []byte(name)), Name: name, Type: typeOf(typ), Active: true, Current: cur, Max: max, Weight: 100, Runnable: true}
}

func TestSimpleRouter(t *testing.T) {
	a := host("a", "docker", 1, 4)
	b := host("b", "docker", 0, 4)
	m := host("m", "mock", 0, 10)
	full := host("full", "mock", 3, 3)
	sick := host("sick", "mock", 0, 3)
	sick.HealthFailures = 3
	off := host("off", "mock", 0, 3)
	off.Active = false
	cloud := host("cloud", "cloudrun", 0, 5)
	cloud.Runnable = false
	all := []Host{a, b, m, full, sick, off, cloud}

	for _, tc := range []struct {
		name       string
		job        Job
		hosts      []Host
		want       string // host name, "" for none
		reasonPart string
	}{
		{"most free slots wins", Job{}, all, "m", "10 free slots"},
		{"explicit host", Job{HostID: &a.ID}, all, "a", "explicit host a"},
		{"explicit full host waits", Job{HostID: &full.ID}, all, "", "at capacity"},
		{"preferred executor", Job{PreferredExecutor: "docker"}, all, "b", "preferred executor docker"},
		{"template restricts", Job{SupportedExecutors: []string{"docker"}}, all, "b", "default policy"},
		{"preferred without backend", Job{PreferredExecutor: "cloudrun"}, all, "", "no cloudrun backend"},
		{"only unusable hosts", Job{}, []Host{full, sick, off}, "", "waiting for capacity"},
		{"no hosts", Job{}, nil, "", "no executor hosts"},
		{"weight breaks ties", Job{}, []Host{{Name: "x", Type: "mock", Active: true, Max: 2, Weight: 1, Runnable: true}, {Name: "y", Type: "mock", Active: true, Max: 2, Weight: 5, Runnable: true}}, "y", ""},
		{"name breaks full ties", Job{}, []Host{{Name: "q", Type: "mock", Active: true, Max: 2, Weight: 1, Runnable: true}, {Name: "p", Type: "mock", Active: true, Max: 2, Weight: 1, Runnable: true}}, "p", ""},
	} {
		d := Simple{}.Route(tc.job, tc.hosts)
		got := ""
		if d.Host != nil {
			got = d.Host.Name
		}
		if got != tc.want || !strings.Contains(d.Reason, tc.reasonPart) {
			t.Errorf("%s: host %q reason %q; want %q containing %q", tc.name, got, d.Reason, tc.want, tc.reasonPart)
		}
		if len(d.Candidates) != len(tc.hosts) {
			t.Errorf("%s: %d candidates for %d hosts", tc.name, len(d.Candidates), len(tc.hosts))
		}
	}
}

func TestEveryCandidateExplained(t *testing.T) {
	sick := host("sick", "mock", 0, 3)
	sick.HealthFailures = 5
	d := Simple{}.Route(Job{}, []Host{host("ok", "mock", 0, 1), sick})
	for _, c := range d.Candidates {
		if c.Reason == "" {
			t.Errorf("candidate %s has no reason", c.Host.Name)
		}
		if c.Host.Name == "sick" && (c.Eligible || !strings.Contains(c.Reason, "unhealthy")) {
			t.Errorf("sick host: %+v", c)
		}
	}
}

func TestEstimate(t *testing.T) {
	h := Host{CostPerHour: schematype.MustDecimal("3.6"), CostPerJob: schematype.MustDecimal("0.01")}
	if got := Estimate(h, 60).String(); got != "0.0700" {
		t.Errorf("estimate for 60s = %s, want 0.0700", got)
	}
	if got := Estimate(Host{CostPerJob: schematype.MustDecimal("0.5")}, 3600).String(); got != "0.5000" {
		t.Errorf("per-job only = %s", got)
	}
	if Estimate(Host{}, 60).Valid {
		t.Error("a host without prices gave an estimate")
	}
}
