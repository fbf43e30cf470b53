package events

import (
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/gantry/gantry/ent"
	"github.com/gantry/gantry/errs"
)

// Matcher compiles a JobEventWhereInput into a predicate over live events,
// so fan-out filters in memory instead of querying per subscriber. Every
// field comparison and not/and/or are supported; edge predicates (hasJob,
// hasJobWith) are refused with a clear error. Replays from the database use
// the same input through Ent, so both paths agree.
func Matcher(w *ent.JobEventWhereInput) (func(*ent.JobEvent) bool, error) {
	if w == nil {
		return func(*ent.JobEvent) bool { return true }, nil
	}
	var preds []func(*ent.JobEvent) bool
	v := reflect.ValueOf(w).Elem()
	for i := range v.NumField() {
		name, f := v.Type().Field(i).Name, v.Field(i)
		if f.IsZero() {
			continue
		}
		p, err := fieldPred(name, f)
		if err != nil {
			return nil, err
		}
		preds = append(preds, p)
	}
	return func(ev *ent.JobEvent) bool {
		for _, p := range preds {
			if !p(ev) {
				return false
			}
		}
		return true
	}, nil
}

func fieldPred(name string, f reflect.Value) (func(*ent.JobEvent) bool, error) {
	switch name {
	case "Not":
		m, err := Matcher(f.Interface().(*ent.JobEventWhereInput))
		if err != nil {
			return nil, err
		}
		return func(ev *ent.JobEvent) bool { return !m(ev) }, nil
	case "And", "Or":
		return combine(name, f.Interface().([]*ent.JobEventWhereInput))
	case "Predicates", "HasJob", "HasJobWith":
		return nil, errs.Invalid("where", "%s is not supported by the jobEvents subscription; filter on the event's own fields", lowerFirst(name))
	}
	col, op, ok := splitField(name)
	if !ok {
		return nil, errs.Invalid("where", "unsupported filter %s", lowerFirst(name))
	}
	arg := normArg(op, f)
	return func(ev *ent.JobEvent) bool { return compare(column(ev, col), op, arg) }, nil
}

func combine(kind string, ws []*ent.JobEventWhereInput) (func(*ent.JobEvent) bool, error) {
	ms := make([]func(*ent.JobEvent) bool, len(ws))
	for i, w := range ws {
		m, err := Matcher(w)
		if err != nil {
			return nil, err
		}
		ms[i] = m
	}
	return func(ev *ent.JobEvent) bool {
		for _, m := range ms {
			if m(ev) == (kind == "Or") {
				return kind == "Or"
			}
		}
		return kind == "And"
	}, nil
}

var (
	columns = []string{"ID", "Sequence", "JobID", "FromStatus", "ToStatus", "Reason", "HostID", "ExecutorType", "Attempt", "CreatedAt"}
	// Longer suffixes first, so "NotIn" is not read as "In".
	ops = []string{"ContainsFold", "EqualFold", "HasPrefix", "HasSuffix", "Contains", "NotNil", "IsNil", "NotIn", "In", "NEQ", "GTE", "LTE", "GT", "LT", ""}
)

func splitField(name string) (col, op string, ok bool) {
	for _, op := range ops {
		c, found := strings.CutSuffix(name, op)
		if !found {
			continue
		}
		for _, known := range columns {
			if c == known {
				return c, op, true
			}
		}
	}
	return "", "", false
}

// column returns an event's value, normalised: string, int64, time or nil.
func column(ev *ent.JobEvent, col string) any {
	switch col {
	case "ID":
		return ev.ID.String()
	case "Sequence":
		if ev.Sequence == nil {
			return nil
		}
		return *ev.Sequence
	case "JobID":
		return ev.JobID.String()
	case "FromStatus":
		if ev.FromStatus == nil {
			return nil
		}
		return string(*ev.FromStatus)
	case "ToStatus":
		return string(ev.ToStatus)
	case "Reason":
		return ev.Reason
	case "HostID":
		if ev.HostID == nil {
			return nil
		}
		return ev.HostID.String()
	case "ExecutorType":
		return string(ev.ExecutorType)
	case "Attempt":
		return int64(ev.Attempt)
	}
	return ev.CreatedAt
}

// norm brings a filter argument to column's normal form.
func norm(v reflect.Value) any {
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	switch x := v.Interface().(type) {
	case time.Time:
		return x
	case fmt.Stringer:
		return x.String()
	}
	switch v.Kind() {
	case reflect.String:
		return v.String()
	case reflect.Int, reflect.Int64, reflect.Int32:
		return v.Int()
	case reflect.Bool:
		return v.Bool()
	}
	return fmt.Sprint(v.Interface())
}

// normArg normalises a filter argument once, at subscribe time: a list for
// In/NotIn, a single value otherwise.
func normArg(op string, f reflect.Value) any {
	if op == "In" || op == "NotIn" {
		out := make([]any, f.Len())
		for i := range out {
			out[i] = norm(f.Index(i))
		}
		return out
	}
	return norm(f)
}

func compare(have any, op string, arg any) bool {
	switch op {
	case "IsNil":
		return have == nil
	case "NotNil":
		return have != nil
	case "In", "NotIn":
		in := false
		for _, v := range arg.([]any) {
			if cmp(have, v) == 0 {
				in = true
				break
			}
		}
		return in == (op == "In")
	}
	want := arg
	if have == nil {
		return op == "NEQ"
	}
	c := cmp(have, want)
	hs, ws := fmt.Sprint(have), fmt.Sprint(want)
	switch op {
	case "":
		return c == 0
	case "NEQ":
		return c != 0
	case "GT":
		return c > 0
	case "GTE":
		return c >= 0
	case "LT":
		return c == -1
	case "LTE":
		return c == -1 || c == 0
	case "Contains":
		return strings.Contains(hs, ws)
	case "ContainsFold":
		return strings.Contains(strings.ToLower(hs), strings.ToLower(ws))
	case "EqualFold":
		return strings.EqualFold(hs, ws)
	case "HasPrefix":
		return strings.HasPrefix(hs, ws)
	case "HasSuffix":
		return strings.HasSuffix(hs, ws)
	}
	return false
}

// cmp orders two normalised values of the same column; -2 if incomparable.
func cmp(a, b any) int {
	switch x := a.(type) {
	case int64:
		if y, ok := b.(int64); ok {
			return sign(x - y)
		}
	case time.Time:
		if y, ok := b.(time.Time); ok {
			return x.Compare(y)
		}
	case string:
		if y, ok := b.(string); ok {
			return strings.Compare(x, y)
		}
	}
	return -2
}

func sign(d int64) int {
	switch {
	case d < 0:
		return -1
	case d > 0:
		return 1
	}
	return 0
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}
