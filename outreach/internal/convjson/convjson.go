// Package convjson encodes the JSON columns of new conversations for the
// SQL stores: their recipient's attributes, their quiet-hours zones and
// their state. The conversations of a campaign mostly share their zones
// and start with the same empty state, so an Encoder keeps the JSON of
// the last zones and of the empty state rather than make them again for
// each of a million rows.
package convjson

import (
	"encoding/json"
	"reflect"
	"slices"
	"unicode/utf8"

	"github.com/patient-outreach/sms/outreach"
)

// Columns are the JSON texts of one conversation.
type Columns struct {
	Attrs, Zones, State string
}

// An Encoder encodes conversations one after another. The zero value is
// ready to use; it is not safe for concurrent use.
type Encoder struct {
	buf        []byte
	zones      []string
	zonesJSON  string
	emptyState string
}

// Encode returns c's JSON columns, as json.Marshal writes them.
func (e *Encoder) Encode(c outreach.Conversation) (Columns, error) {
	e.buf = appendAttrs(e.buf[:0], c.Recipient.Attrs)
	attrs := string(e.buf)
	var err error
	if e.zonesJSON == "" || !slices.Equal(e.zones, c.Zones) || (e.zones == nil) != (c.Zones == nil) {
		if e.zonesJSON, err = marshal(c.Zones); err != nil {
			return Columns{}, err
		}
		e.zones = c.Zones
	}
	state := e.emptyState
	if empty := reflect.ValueOf(c.State).IsZero(); !empty || state == "" {
		if state, err = marshal(c.State); err != nil {
			return Columns{}, err
		}
		if empty {
			e.emptyState = state
		}
	}
	return Columns{Attrs: attrs, Zones: e.zonesJSON, State: state}, nil
}

func marshal(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}

// appendAttrs appends attrs as json.Marshal writes a map[string]string
// (null when nil, keys sorted), several times faster: reflection made
// json.Marshal of the attributes most of the cost of encoding a new
// conversation.
func appendAttrs(dst []byte, attrs map[string]string) []byte {
	if attrs == nil {
		return append(dst, "null"...)
	}
	var buf [8]string
	keys := buf[:0]
	for k := range attrs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	dst = append(dst, '{')
	for i, k := range keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, k)
		dst = append(dst, ':')
		dst = appendString(dst, attrs[k])
	}
	return append(dst, '}')
}

const hex = "0123456789abcdef"

// appendString appends s as a JSON string, as json.Marshal writes it: with
// <, > and & escaped, invalid UTF-8 replaced by U+FFFD, and U+2028 and
// U+2029 escaped.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' && b != '<' && b != '>' && b != '&' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[b>>4], hex[b&0xF])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case c == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case c == '\u2028' || c == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[c&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
