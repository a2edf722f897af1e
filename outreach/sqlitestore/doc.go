// Package sqlitestore is an [outreach.Store] on an SQLite database file,
// through modernc.org/sqlite (pure Go, no cgo): the embedded default, for
// one process serving a clinic.
//
//	store, err := sqlitestore.Open(ctx, "outreach.db")
//	if err != nil {
//		return err
//	}
//	defer store.Close()
//	r := outreach.NewRunner(store, sender, outreach.RunnerOptions{From: "+15005550006"})
//
// # File and schema
//
// [Open] creates the file with mode 0600 (it holds PHI) when it does not
// exist, and applies the embedded migrations (migrations/NNNN_*.sql) that
// the file lacks, each in one transaction with the update of PRAGMA
// user_version, which records the schema version. Opening again applies
// nothing twice; a file of a newer schema than the program knows is
// refused.
//
// # Concurrency
//
// The database runs in WAL mode, so readers never wait for the writer.
// Writes go through a single connection and every write transaction
// begins IMMEDIATE, so this process's transactions queue in Go rather
// than failing with SQLITE_BUSY, and another process on the same file
// waits up to the busy timeout. A claim is one such transaction: it picks
// the due conversations in order and writes a fresh lease token and
// expiry on each, so no two workers hold the same conversation. The rule
// of one active two-way conversation per (patient phone, sending number)
// is also a partial unique index, which Commit reports as
// [outreach.ErrPairBusy].
//
// # Durability and power loss
//
// By default every transaction commits with synchronous=FULL: once Commit
// returns, the transaction survives a process crash (kill -9) and a power
// loss or OS crash alike. This matters for the runner's at-most-once
// rule: it records the intent to send (status "sending") before it calls
// the provider, and after a restart it reconciles every such message with
// the provider instead of sending it again.
//
// [Options.Synchronous] "NORMAL" trades some of that for speed (fewer
// fsyncs). In WAL mode with synchronous=NORMAL a committed transaction
// still survives any process crash, but the last transactions before a
// power loss or OS crash may roll back. An intent record could then
// vanish after the message had been handed to the provider: on restart the
// runner would see the message as never attempted and could send it a
// second time. Use NORMAL only where that risk is acceptable (tests,
// simulations, machines with battery-backed storage). With NORMAL, the
// store copies the log into the database file (the checkpoint, which
// syncs it) on a goroutine of its own shortly after each burst of
// commits, rather than in the commit that filled 1,000 pages of log: no
// write waits for it.
//
// The runner commits intents and outcomes in batches (one transaction for
// a batch of a few hundred messages), so FULL costs one fsync per batch,
// not per message.
//
// # A throttle shared by processes
//
// [Store.Limiter] is an [outreach.Limiter] kept in the file, for
// RunnerOptions.Limiter when several processes send through one file:
// they draw on one allowance per sending number.
//
// # Named files
//
// [Store.PutFile] and the methods beside it keep named files in the
// database file (tables files and file_chunks), written and read in chunks of
// 512 KiB so that no file is ever whole in memory: an upload waiting
// between its preview and its start, an uploaded flow, seen by every
// process on the database file. A file is seen only once completely written;
// [Store.TakeFile] gives a file to exactly one caller; expired files
// are deleted by [Store.PurgeFiles]. storetest.ExerciseFiles checks them.
//
// # Representation
//
// Times are stored as INTEGER nanoseconds since 1900-01-01 UTC (0 is the
// zero time, so times must lie between 1900-01-02 and the year 2191) and
// come back in UTC. A campaign's flow, a conversation's engine
// state, a recipient's attributes and zones are stored as JSON text.
package sqlitestore
