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

	"github.com/patient-outreach/sms/outreach"
)

// Columns are the JSON texts of one conversation.
type Columns struct {
	Attrs, Zones, State string
}

// An Encoder encodes conversations one after another. The zero value is
// ready to use; it is not safe for concurrent use.
type Encoder struct {
	zones      []string
	zonesJSON  string
	emptyState string
}

// Encode returns c's JSON columns, as json.Marshal writes them.
func (e *Encoder) Encode(c outreach.Conversation) (Columns, error) {
	attrs, err := marshal(c.Recipient.Attrs)
	if err != nil {
		return Columns{}, err
	}
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
