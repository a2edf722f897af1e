package pgstore_test

import (
	"testing"

	"github.com/patient-outreach/sms/outreach/pgstore/pgtest"
	"github.com/patient-outreach/sms/verify"
	"github.com/patient-outreach/sms/verify/verifytest"
)

func TestUsers(t *testing.T) {
	t.Parallel()
	verifytest.ExerciseUsers(t, func(t *testing.T) verify.UserStore {
		return pgtest.Open(t)
	})
}

func TestChallenges(t *testing.T) {
	t.Parallel()
	verifytest.ExerciseChallenges(t, func(t *testing.T) verify.ChallengeStore {
		return pgtest.Open(t)
	})
}
