package dispatch

import (
	"fmt"
	"sync"

	"github.com/google/uuid"

	"github.com/gantry/gantry/ent"
	"github.com/gantry/gantry/executors"
)

// sizeCache keeps, per host, the provider's sizing (executors.Sizer) for
// price-model estimates, rebuilt only when the host's type or config
// changes (not on every slot count update).
type sizeCache struct {
	mu     sync.Mutex
	byHost map[uuid.UUID]sizing
}

type sizing struct {
	key  string
	size func(float64, int) (float64, int)
}

func newSizeCache() *sizeCache { return &sizeCache{byHost: map[uuid.UUID]sizing{}} }

// of returns h's sizing, or nil when its backend bills what is asked.
func (c *sizeCache) of(h *ent.ExecutorHost) func(float64, int) (float64, int) {
	key := fmt.Sprint(h.ExecutorType, h.ExecutorConfig) // fmt sorts map keys
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.byHost[h.ID]; ok && s.key == key {
		return s.size
	}
	var size func(float64, int) (float64, int)
	if ex, err := executors.New(HostOf(h)); err == nil {
		if sz, ok := ex.(executors.Sizer); ok {
			size = sz.BilledSize
		}
	}
	c.byHost[h.ID] = sizing{key: key, size: size}
	return size
}
