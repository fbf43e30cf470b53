package routing

import (
	"os"
	"path/filepath"
	"testing"
)

func TestPriceTable(t *testing.T) {
	table, err := LoadPrices("")
	if err != nil {
		t.Fatal(err)
	}
	p, ok := table.Lookup("fargate", "ap-south-9")
	if !ok {
		t.Fatal("no fallback price for fargate")
	}
	// 1 vCPU, 2 GiB for an hour on Fargate: 3600 × (0.000011244 + 2 × 0.000001235) = 0.04937…
	if got := p.Cost(1, 2048, 3600).StringFixed(4); got != "0.0494" {
		t.Errorf("fargate hour = %s", got)
	}
	path := filepath.Join(t.TempDir(), "prices.json")
	_ = os.WriteFile(path, []byte(`{"kubernetes": {"*": {"vcpu_second": 1}}}`), 0o644)
	if _, err := LoadPrices(path); err == nil {
		t.Error("a price table naming an unknown executor type was accepted")
	}
	_ = os.WriteFile(path, []byte(`{"scaleway": {"nl-ams": {"vcpu_second": 0.5, "gib_second": 0, "per_request": 0.01}}}`), 0o644)
	edited, err := LoadPrices(path)
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := edited.Lookup("scaleway", "nl-ams"); !ok || p.Cost(2, 0, 10).StringFixed(2) != "10.01" {
		t.Errorf("edited table: %+v %v", p, ok)
	}
	if _, ok := edited.Lookup("scaleway", "fr-par"); ok {
		t.Error("a region missing from an edited table without \"*\" was found")
	}
}

func TestRouteUsesPriceModel(t *testing.T) {
	table, _ := LoadPrices("")
	fp, _ := table.Lookup("fargate", "eu-west-1")
	sp, _ := table.Lookup("scaleway", "fr-par")
	aws, scw := host("aws", "fargate", 0, 10), host("scw", "scaleway", 0, 10)
	aws.Price, scw.Price = &fp, &sp
	d := Policy{}.Route(Job{CPU: 1, MemoryMB: 2048, Vars: Vars{CPU: 1, MemoryMB: 2048, TimeoutSeconds: 3600}}, []Host{aws, scw})
	if d.Host == nil || d.Host.Name != "scw" || d.Candidates[1].EstimatedCost().String() != "0.0494" {
		t.Fatalf("decision %v, candidates %+v", d.Reason, d.Candidates)
	}
	// A provider that runs the request at a bigger size is priced at it:
	// 0.25 vCPU / 300 MiB billed as 0.25 vCPU / 512 MiB.
	aws.Size = func(c float64, m int) (float64, int) { return max(c, 0.25), max(m, 512) }
	small := Job{CPU: 0.25, MemoryMB: 300, Vars: Vars{CPU: 0.25, MemoryMB: 300, TimeoutSeconds: 3600}}
	want := fp.Cost(0.25, 512, 3600).StringFixed(4)
	if got := EstimateJob(aws, 0.25, 300, 3600); got.String() != want || want == fp.Cost(0.25, 300, 3600).StringFixed(4) {
		t.Fatalf("billed-size estimate %s, want %s", got, want)
	}
	if d := (Policy{}).Route(small, []Host{aws}); d.Candidates[0].EstimatedCost().String() != want {
		t.Fatalf("routing estimate %s, want %s", d.Candidates[0].EstimatedCost(), want)
	}
}
