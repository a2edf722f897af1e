package pgstore_test

import (
	"context"
	"testing"

	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/pgstore/pgtest"
	"github.com/patient-outreach/sms/outreach/storetest"
)

// TestStore runs the store conformance suite, each subtest in a schema
// of its own.
func TestStore(t *testing.T) {
	storetest.Exercise(context.Background(), t, func(t *testing.T) outreach.Store {
		return pgtest.Open(t)
	})
}
