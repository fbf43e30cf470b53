package executors

import (
	"encoding/json"
	"fmt"
	"strconv"
)

// KeepFailedKey is the executor_config key, valid on every host, that
// overrides how long executions of failed and timed-out jobs are kept for
// inspection (seconds; 0 removes them at once). The dispatcher reads it.
const KeepFailedKey = "keep_failed_seconds"

// Number reads an optional numeric executor_config key (0 when absent).
// Values arrive as float64 from stored JSON, json.Number or int from the
// API, or as a numeric string; anything else is an error naming the key.
func Number(raw map[string]any, key string) (float64, error) {
	switch v := raw[key].(type) {
	case nil:
		return 0, nil
	case float64:
		return v, nil
	case int:
		return float64(v), nil
	case int64:
		return float64(v), nil
	case json.Number:
		if f, err := v.Float64(); err == nil {
			return f, nil
		}
	case string:
		if f, err := strconv.ParseFloat(v, 64); err == nil {
			return f, nil
		}
	}
	return 0, fmt.Errorf("%s must be a number", key)
}
