package fargate

import (
	"encoding/json"
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
		{1, 512, size{1024, 2048}},
		{0.25, 512, size{256, 512}},
		{0.25, 1500, size{256, 2048}},
		{0.5, 3000, size{512, 3072}},
		{0.3, 100, size{512, 1024}},
		{2, 20000, size{4096, 20480}},
		{16, 122880, size{16384, 122880}},
	} {
		got, err := fit(tc.cores, tc.mem)
		if err != nil || got != tc.want {
			t.Errorf("fit(%v, %d) = %+v, %v; want %+v", tc.cores, tc.mem, got, err, tc.want)
		}
	}
	if _, err := fit(32, 1024); err == nil {
		t.Error("32 vCPU fits nothing")
	}
}

func TestHostDefaultSize(t *testing.T) {
	base := map[string]any{"region": "eu-west-1", "cluster": "c", "subnets": []any{"subnet-0123456789abcdef0"},
		"execution_role_arn": "arn:aws:iam::123456789012:role/r"}
	with := func(kv ...any) map[string]any {
		m := map[string]any{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	for _, tc := range []struct {
		cfg  map[string]any
		want string // error fragment; "" for none
	}{
		{with("cpu", 300.0), "cpu is not a Fargate CPU size"},
		{with("cpu", "lots"), "cpu must be a number"},
		{with("cpu", 256.0, "memory", 4096.0), "memory is not offered with cpu 256"},
		{with("cpu", json.Number("2048"), "memory", 4096), ""},
	} {
		_, err := ParseConfig(tc.cfg)
		if (tc.want == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", tc.cfg, err, tc.want)
		}
	}
	c, _ := ParseConfig(with("cpu", 2048.0))
	if sz, _ := sizeFor(executors.Spec{}, c.Size); sz != (size{2048, 4096}) {
		t.Errorf("job without limits on a 2-vCPU host: %+v", sz)
	}
	if sz, _ := sizeFor(executors.Spec{CPU: 0.25, MemoryMB: 512}, c.Size); sz != (size{256, 512}) {
		t.Errorf("job's own limits win: %+v", sz)
	}
}
