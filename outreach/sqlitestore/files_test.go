package sqlitestore_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/sqlitestore"
	"github.com/patient-outreach/sms/outreach/storetest"
)

// TestFiles runs the file store's suite, each subtest on a database of
// its own.
func TestFiles(t *testing.T) {
	storetest.ExerciseFiles(context.Background(), t, func(t *testing.T) outreach.FileStore {
		s, err := sqlitestore.Open(context.Background(), filepath.Join(t.TempDir(), "files.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}
