package cloudrun

import (
	"strings"
	"testing"

	"github.com/gantry/gantry/executors"
)

func TestFit(t *testing.T) {
	for _, tc := range []struct {
		cores float64
		mem   int
		want  size
	}{
		{1, 512, size{1, 512}},
		{0.25, 100, size{1, 512}},
		{1, 4096, size{1, 4096}},
		{1, 5000, size{2, 5120}},
		{3, 1024, size{4, 2048}},
		{8, 32768, size{8, 32768}},
	} {
		if got, err := fit(tc.cores, tc.mem); err != nil || got != tc.want {
			t.Errorf("fit(%v, %d) = %+v, %v; want %+v", tc.cores, tc.mem, got, err, tc.want)
		}
	}
	if _, err := fit(8, 40000); err == nil {
		t.Error("40 GiB fits nothing")
	}
}

func TestHostDefaultSize(t *testing.T) {
	for _, tc := range []struct {
		cpu, memory any
		want        string
	}{
		{3.0, nil, "cpu is not a Cloud Run Jobs CPU size"},
		{4.0, 1024.0, "memory must be 2048-16384 MiB with cpu 4"},
		{"two", nil, "cpu must be a number"},
		{2.0, 8192.0, ""},
	} {
		_, err := ParseConfig(map[string]any{"project": "my-project-1", "region": "europe-west1", "cpu": tc.cpu, "memory": tc.memory})
		if (tc.want == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tc.want) {
			t.Errorf("cpu %v memory %v: %v, want %q", tc.cpu, tc.memory, err, tc.want)
		}
	}
	c, _ := ParseConfig(map[string]any{"project": "my-project-1", "region": "europe-west1", "cpu": 4.0})
	if sz, _ := sizeFor(executors.Spec{}, c.Size); sz != (size{4, 2048}) {
		t.Errorf("job without limits on a 4-vCPU host: %+v", sz)
	}
}
