// Package pgstore is an [outreach.Store] on PostgreSQL, through
// github.com/jackc/pgx/v5 and its connection pool: for many web and worker
// processes of a health system sharing one database, with no coordinator
// of their own. It also keeps the users, failed login attempts and web
// sessions of the web app (verify.UserStore, verify.AttemptStore and
// [Store.Sessions] for github.com/alexedwards/scs/v2), with the same
// semantics as sqlitestore, and passes the same conformance suites
// (outreach/storetest, verify/verifytest).
//
//	store, err := pgstore.Open(ctx, "postgres://outreach@db.internal/outreach?sslmode=verify-full")
//	if err != nil {
//		return err
//	}
//	defer store.Close()
//	r := outreach.NewRunner(store, sender, outreach.RunnerOptions{From: "+15005550006"})
//	go store.Listen(ctx, r.Wake) // handle replies at once, not at the next poll
//
// # Schema and migrations
//
// [Open] applies the embedded migrations (migrations/NNNN_*.sql) that the
// database lacks, in one transaction that holds the advisory lock
// [MigrationLockKey] (pg_advisory_xact_lock): any number of processes may
// Open at once, and each migration is applied exactly once. The versions
// applied are rows of the table schema_migrations; a database of a newer
// schema than the program knows is refused.
//
// The tables live in one schema: the first of the search_path, which
// [Options.Schema] (or [WithSchema]) sets on every connection, creating
// the schema if needed, and which a search_path parameter of the URL sets
// as well (pgx sends URL parameters it does not know as runtime
// parameters). The tables are campaigns, conversations (with the lease:
// lease_token, lease_until), messages, inbox (the events waiting for the
// runner), responses, opt_outs, number_owners, alerts, audit (append-only:
// triggers refuse UPDATE, DELETE and TRUNCATE), login_attempts,
// login_challenges (verify.ChallengeStore), sessions, users, user_devices
// and pending_statuses; each migration file describes its columns.
//
// # Claims and leases
//
// [Store.ClaimDue] picks the due conversations with SELECT ... FOR UPDATE
// SKIP LOCKED, in due order (unprocessed inbox events first, then NextAt),
// and writes a fresh lease token and expiry on each in the same
// statement. A claimer skips the rows another is taking, and Postgres
// checks the lease condition again on the latest version of a row it
// locks, so no conversation is ever held by two unexpired leases. A lease
// whose expiry has passed makes its conversation claimable again; Commit
// and ExtendLease check the token only.
//
// [Store.Commit] undoes a failed update alone (ErrLeaseLost, ErrPairBusy,
// a repeated send key, an unknown message), as if each update ran in a
// savepoint. It first applies the updates without savepoints, since more
// than 64 subtransactions that write in one transaction overflow
// Postgres's subtransaction cache and slow down every other session while
// the transaction lasts; only when an update fails in a way that needs
// undoing does it roll back and apply them again, each in a savepoint.
// Each update takes two pipelined round trips.
//
// A delivery status whose provider id no message has yet (a callback
// that beat the sender's answer, received by any instance) is kept in
// pending_statuses by [Store.UpdateDelivery], and applied by the Commit
// that records the provider id. Both take a transaction-level advisory
// lock per provider id, Commit before it locks any row (two more round
// trips for a Commit that records provider ids), so that neither misses
// the other's write.
//
// [Store.RecordInbounds] and [Store.UpdateDeliveries] (the store is an
// [outreach.BatchRecorder]) run, for each item in order, the code of
// RecordInbound or UpdateDelivery, all in one transaction. The store
// retries no transaction: like Commit, a batch first takes the advisory
// locks of its provider ids, sorted, then locks the conversations it may
// touch, in ID order, so that concurrent batches do not deadlock.
//
// The rule of one active two-way conversation per (world, patient phone,
// sending number) is a partial unique index: a pending conversation whose
// pair is active is not due, and of two conversations of one pair made
// active at once, by any processes, one commit fails with
// [outreach.ErrPairBusy] and changes nothing.
//
// Conversations are added (CreateCampaign, AddConversations) with COPY
// into a temporary table, then one INSERT ... SELECT ... ON CONFLICT DO
// NOTHING, which skips the recipients the campaign already has.
//
// # LISTEN/NOTIFY
//
// The store sends a notification on its channel ([Store.Channel]: by
// default "outreach_work_" and the schema) in the transaction that creates
// new work: a running campaign gets conversations or starts, an inbound
// reply adds an inbox event, a delivery failure adds one. [Store.Listen]
// holds a dedicated connection that waits for them (reconnecting after an
// error) and calls a function such as [outreach.Runner.Wake] for each;
// [Store.Wake] gives them as a channel. Runners still poll: notifications
// make them react at once, they are not needed for correctness.
//
// # A throttle shared by processes
//
// [Store.Limiter] is an [outreach.Limiter] kept in the database, for
// RunnerOptions.Limiter: every worker on the database draws on one
// allowance per sending number, so N workers send at the configured rate,
// not N times it. Each Allow is one statement on an UNLOGGED table (about
// 70 us on loopback; no WAL flush), on the times the runner passes.
//
//	r := outreach.NewRunner(store, sender, outreach.RunnerOptions{
//		From: "+15005550006", Limiter: store.Limiter(1, 1),
//	})
//
// # Named files
//
// [Store.PutFile] and the methods beside it keep named files in the
// database (tables files and file_chunks), written and read in chunks of
// 512 KiB so that no file is ever whole in memory: an upload waiting
// between its preview and its start, an uploaded flow, seen by every
// process on the database. A file is seen only once completely written;
// [Store.TakeFile] gives a file to exactly one caller; expired files
// are deleted by [Store.PurgeFiles]. storetest.ExerciseFiles checks them.
//
// # Times
//
// Times are timestamptz, which keeps microseconds: a time is stored
// truncated to the microsecond, NULL standing for the zero time, and
// comes back in UTC. What the store returns of a time it was given
// (CreateCampaign's CreatedAt, a lease's Expires, an audit entry's At) is
// the stored value, so that reading it back gives an equal value. Opt-out
// times alone keep their nanoseconds (in a column of their own), since a
// change older than the stored one is ignored and the suite compares them
// to the nanosecond.
//
// # Tests
//
// The tests need a server: they read its URL from OUTREACH_TEST_POSTGRES
// and are skipped without it. Each test gets a schema of its own (see
// package pgtest), dropped when it ends:
//
//	OUTREACH_TEST_POSTGRES='postgres://postgres@127.0.0.1:5432/test?sslmode=disable' \
//		go test -count=1 ./outreach/pgstore/...
//
// The benchmarks (BenchmarkClaimCommit, BenchmarkCreateCampaign) run the
// same way with -run '^$' -bench .
package pgstore
