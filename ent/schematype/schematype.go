// Package schematype holds the value types that Ent schema fields use and
// that GraphQL exposes as custom scalars (money and string maps).
package schematype

import (
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"io"
	"strconv"

	"github.com/shopspring/decimal"
)

// Decimal is a nullable fixed-point amount stored as numeric(10,4).
// Money never passes through float64: SQLite hands numeric back as REAL,
// so Scan goes through the shortest text form and rounds to 4 places.
type Decimal struct {
	decimal.NullDecimal
}

// NewDecimal returns a valid Decimal rounded to the column's 4 places.
func NewDecimal(d decimal.Decimal) Decimal {
	return Decimal{decimal.NullDecimal{Decimal: d.Round(4), Valid: true}}
}

// MustDecimal parses s; it panics on bad input and is meant for tests and constants.
func MustDecimal(s string) Decimal {
	return NewDecimal(decimal.RequireFromString(s))
}

// Scan implements sql.Scanner, accepting NULL, text, bytes, ints and floats.
func (d *Decimal) Scan(v any) error {
	if f, ok := v.(float64); ok {
		v = strconv.FormatFloat(f, 'f', -1, 64)
	}
	if err := d.NullDecimal.Scan(v); err != nil {
		return fmt.Errorf("scan decimal: %w", err)
	}
	if d.Valid {
		d.Decimal = d.Decimal.Round(4)
	}
	return nil
}

// Value implements driver.Valuer; an invalid Decimal is NULL.
func (d Decimal) Value() (driver.Value, error) {
	if !d.Valid {
		return nil, nil
	}
	return d.Decimal.StringFixed(4), nil
}

// String renders the amount with 4 places, or "" when NULL.
func (d Decimal) String() string {
	if !d.Valid {
		return ""
	}
	return d.Decimal.StringFixed(4)
}

// MarshalGQL writes the amount as a JSON string ("0.1250") so no client
// parses it into a float, or null.
func (d Decimal) MarshalGQL(w io.Writer) {
	if !d.Valid {
		_, _ = io.WriteString(w, "null")
		return
	}
	_, _ = io.WriteString(w, strconv.Quote(d.Decimal.StringFixed(4)))
}

// UnmarshalGQL accepts a string or a number; at most 6 integer digits fit numeric(10,4).
func (d *Decimal) UnmarshalGQL(v any) error {
	var s string
	switch t := v.(type) {
	case nil:
		*d = Decimal{}
		return nil
	case string:
		s = t
	case json.Number:
		s = t.String()
	case int:
		s = strconv.Itoa(t)
	case int64:
		s = strconv.FormatInt(t, 10)
	case float64:
		s = strconv.FormatFloat(t, 'f', -1, 64)
	default:
		return fmt.Errorf("decimal: want a string or number, got %T", v)
	}
	dec, err := decimal.NewFromString(s)
	if err != nil {
		return fmt.Errorf("decimal: %q is not a number", s)
	}
	if err := CheckDecimalRange(dec); err != nil {
		return err
	}
	*d = NewDecimal(dec)
	return nil
}

// MaxDecimal is the largest value numeric(10,4) holds.
var MaxDecimal = decimal.RequireFromString("999999.9999")

// CheckDecimalRange rejects amounts that numeric(10,4) cannot hold or that are negative.
func CheckDecimalRange(d decimal.Decimal) error {
	if d.IsNegative() {
		return fmt.Errorf("decimal: %s is negative", d.String())
	}
	if d.Round(4).GreaterThan(MaxDecimal) {
		return fmt.Errorf("decimal: %s exceeds %s", d.String(), MaxDecimal.String())
	}
	return nil
}

// StringMap is a string-to-string map (environment variables, labels).
type StringMap map[string]string

// MarshalGQL writes the map as a JSON object.
func (m StringMap) MarshalGQL(w io.Writer) {
	if m == nil {
		m = StringMap{}
	}
	b, err := json.Marshal(map[string]string(m))
	if err != nil {
		_, _ = io.WriteString(w, "{}")
		return
	}
	_, _ = w.Write(b)
}

// UnmarshalGQL accepts a JSON object whose values are all strings.
func (m *StringMap) UnmarshalGQL(v any) error {
	obj, ok := v.(map[string]any)
	if !ok {
		return fmt.Errorf("string map: want an object, got %T", v)
	}
	out := make(StringMap, len(obj))
	for k, val := range obj {
		s, ok := val.(string)
		if !ok {
			return fmt.Errorf("string map: value of %q must be a string, got %T", k, val)
		}
		out[k] = s
	}
	*m = out
	return nil
}
