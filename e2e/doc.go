// Package e2e holds end-to-end tests of Patient Outreach: whole campaigns
// on the SQLite store with simulated phones, from a recipients CSV to the
// exported responses, including a crash of the runner between recording a
// send's intent and its outcome. It has no API.
//
// The multi-process tests (multi_test.go) run the test binary again as
// worker processes (an outreach.Runner with the store's shared limiter)
// and web processes (the twiliosms webhooks), all around one fake Twilio
// (twiliotest, with random 429s, 500s and dropped connections) in the
// test process: TestManyProcesses (Postgres), TestKill9Processes (SQLite
// and Postgres, workers killed with SIGKILL and restarted),
// TestPostgresBackendsTerminated and TestLeaseTakeover. They count at the
// fake: each step's message exactly once per recipient, and at most the
// limit per sending number within any one second. Postgres tests need
// OUTREACH_TEST_POSTGRES; all of them skip themselves under -race (too
// slow there: run them in a step without it):
//
//	OUTREACH_TEST_POSTGRES='postgres://postgres@127.0.0.1:5432/test?sslmode=disable' go test -count=1 ./e2e/
//
// BenchmarkDispatchProcesses measures the throughput of 1, 2 and 4 worker
// processes on Postgres.
package e2e
