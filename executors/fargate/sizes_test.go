package fargate

import "testing"

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
