package pgstore

import "time"

// SetSessionClock replaces the clock of ss, for tests.
func SetSessionClock(ss *SessionStore, now func() time.Time) { ss.now = now }

// Queries whose plans the tests check.
var (
	ClaimQuery           = claimQuery
	NextDueFreeQuery     = nextDueFreeQuery
	NextDueLeasedQuery   = nextDueLeasedQuery
	ClaimNumberBusyQuery = claimNumberBusyQuery
)
