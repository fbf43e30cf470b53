package routing

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"os"

	"github.com/shopspring/decimal"

	"github.com/gantry/gantry/ent/schematype"
)

// Price is a provider's published price model for one region.
type Price struct {
	VCPUSecond decimal.Decimal `json:"vcpu_second"`
	GiBSecond  decimal.Decimal `json:"gib_second"`
	PerRequest decimal.Decimal `json:"per_request"`
}

// PriceTable maps executor type → region ("*" as fallback) → price.
type PriceTable map[string]map[string]Price

//go:embed prices.json
var defaultPrices []byte

// LoadPrices reads the price table from path, or the built-in one when path
// is empty. Users edit a copy and point GANTRY_PRICES_FILE at it.
func LoadPrices(path string) (PriceTable, error) {
	b := defaultPrices
	if path != "" {
		var err error
		if b, err = os.ReadFile(path); err != nil {
			return nil, fmt.Errorf("price table: %w", err)
		}
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("price table %s: %w", path, err)
	}
	t := PriceTable{}
	for typ, v := range raw {
		if typ == "_comment" {
			continue
		}
		if _, err := schematype.ParseExecutorType(typ); err != nil {
			return nil, fmt.Errorf("price table %s: %w", path, err)
		}
		var regions map[string]Price
		if err := json.Unmarshal(v, &regions); err != nil {
			return nil, fmt.Errorf("price table %s, %s: %w", path, typ, err)
		}
		t[typ] = regions
	}
	return t, nil
}

// Lookup returns the price of an executor type in a region, or its "*" entry.
func (t PriceTable) Lookup(typ schematype.ExecutorType, region string) (Price, bool) {
	regions := t[string(typ)]
	if p, ok := regions[region]; ok {
		return p, true
	}
	p, ok := regions["*"]
	return p, ok
}

// Cost is what a run of seconds with cores and memoryMB costs at p.
func (p Price) Cost(cores float64, memoryMB, seconds int) decimal.Decimal {
	secs := decimal.NewFromInt(int64(seconds))
	cpu := p.VCPUSecond.Mul(decimal.NewFromFloat(cores)).Mul(secs)
	mem := p.GiBSecond.Mul(decimal.NewFromInt(int64(memoryMB)).Div(decimal.NewFromInt(1024))).Mul(secs)
	return cpu.Add(mem).Add(p.PerRequest)
}
