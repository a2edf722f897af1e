package pgstore_test

import (
	"context"
	"testing"

	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/pgstore/pgtest"
	"github.com/patient-outreach/sms/outreach/storetest"
)

// TestFiles runs the file store's suite, each subtest in a schema of its
// own.
func TestFiles(t *testing.T) {
	t.Parallel()
	storetest.ExerciseFiles(context.Background(), t, func(t *testing.T) outreach.FileStore {
		return pgtest.Open(t)
	})
}
