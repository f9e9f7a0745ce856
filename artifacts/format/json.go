package format

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// MarshalJSON encodes v as a JSON record: indented by two spaces, HTML
// characters left as they are, ending in a newline. encoding/json writes
// struct fields in declaration order and map keys sorted, so equal values
// give equal bytes. NaN and ±Inf cannot be written: they are an error.
func MarshalJSON(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("format: encoding %T as JSON: %w", v, err)
	}
	return b.Bytes(), nil
}

// UnmarshalJSON decodes one JSON record into v strictly: a field v does
// not have, or anything after the record, is an error. what names the
// record's source (a key or file) in errors.
func UnmarshalJSON(what string, data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("format: %s: not a valid %T record: %w", what, v, err)
	}
	if dec.More() {
		return fmt.Errorf("format: %s: data after the JSON record", what)
	}
	return nil
}
