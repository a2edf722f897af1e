package sqlitestore_test

import (
	"path/filepath"
	"testing"

	"github.com/patient-outreach/sms/verify"
	"github.com/patient-outreach/sms/verify/verifytest"
)

func TestUsers(t *testing.T) {
	verifytest.ExerciseUsers(t, func(t *testing.T) verify.UserStore {
		s := open(t, filepath.Join(t.TempDir(), "outreach.db"))
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func TestChallenges(t *testing.T) {
	verifytest.ExerciseChallenges(t, func(t *testing.T) verify.ChallengeStore {
		s := open(t, filepath.Join(t.TempDir(), "outreach.db"))
		t.Cleanup(func() { s.Close() })
		return s
	})
}
