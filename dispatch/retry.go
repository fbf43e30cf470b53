package dispatch

import (
	"math"
	"math/rand/v2"
	"time"
)

// strategy shapes the backoff between attempts.
type strategy struct {
	scale  float64 // multiplies the base delay
	factor float64 // growth per attempt
}

var strategies = map[string]strategy{
	"default":       {scale: 1, factor: 2},
	"aggressive":    {scale: 0.5, factor: 1.5}, // retry soon and often
	"conservative":  {scale: 3, factor: 3},     // back off hard: spare a struggling backend
	"high_priority": {scale: 0.25, factor: 2},  // get important work going again quickly
}

// MaxBackoff caps any delay.
const MaxBackoff = 10 * time.Minute

// Backoff is the delay before attempt retry+1: exponential in the attempt,
// shaped by the strategy, with ±20% jitter so jobs that failed together
// do not retry together.
func Backoff(name string, retry int, base time.Duration) time.Duration {
	s, ok := strategies[name]
	if !ok {
		s = strategies["default"]
	}
	d := float64(base) * s.scale * math.Pow(s.factor, float64(retry))
	d = min(d, float64(MaxBackoff))
	jitter := 0.8 + 0.4*rand.Float64()
	return time.Duration(d * jitter)
}
