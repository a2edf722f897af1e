package sqlitestore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"time"

	"modernc.org/sqlite"
)

// checkpointDelay is how long the checkpointer waits after a commit
// before it copies the write-ahead log into the database: commits that
// follow within it are copied together, and the commit that woke it has
// finished (its hook runs just before it is written).
const checkpointDelay = 100 * time.Millisecond

// checkpointAgain is how long after a checkpoint the checkpointer checks
// the log once more when no commit woke it in between: the hook runs
// before a commit is written, and a slow disk may take longer than
// checkpointDelay to write it.
const checkpointAgain = time.Second

// checkpointer copies the write-ahead log into the database file on a
// goroutine and a connection of its own, shortly after each burst of
// commits, for a store opened with synchronous NORMAL. SQLite would
// otherwise do it inside a commit, every 1,000 pages of log (its
// automatic checkpoint, turned off on the writer connection): the commit
// that crossed the mark waited while the pages were copied and the
// database file synced, the tail of the latency of every write (a reply
// stored by HandleInbound: p99 2.4 ms against a median of 0.17 ms; 0.75
// ms with the checkpointer). With FULL or EXTRA, where every commit syncs
// the log, a checkpoint syncing the database file at the same time slowed
// the commits more than it spared them (HandleInbound's median 0.6 ms
// against 0.4): SQLite's automatic checkpoint stays. A checkpoint here is
// PASSIVE, so it never blocks a writer or a reader; what it could not
// copy (a reader still uses it) is copied by the next one.
type checkpointer struct {
	db   *sql.DB
	wake chan struct{} // a commit happened (capacity 1)
	stop chan struct{}
	done chan struct{}
}

// openCheckpointed opens the writer pool, on dsn(writer) with its
// automatic checkpoint off, and a checkpointer on dsn(nil) that its
// commits wake.
func openCheckpointed(dsn func(extra url.Values) string, writer url.Values) (*sql.DB, *checkpointer, error) {
	off := maps.Clone(writer)
	off["_pragma"] = append(slices.Clone(off["_pragma"]), "wal_autocheckpoint(0)")
	wc, err := sqlite.NewConnector(dsn(off))
	if err != nil {
		return nil, nil, err
	}
	db, err := sql.Open("sqlite", dsn(nil))
	if err != nil {
		return nil, nil, err
	}
	db.SetMaxOpenConns(1)
	ck := newCheckpointer(db)
	return sql.OpenDB(hookedConnector{Connector: wc, onCommit: ck.committed}), ck, nil
}

func newCheckpointer(db *sql.DB) *checkpointer {
	c := &checkpointer{db: db, wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go c.run()
	return c
}

// committed is the writer connection's commit hook: it wakes the
// checkpointer and lets the commit go on.
func (c *checkpointer) committed() int32 {
	select {
	case c.wake <- struct{}{}:
	default:
	}
	return 0
}

func (c *checkpointer) run() {
	defer close(c.done)
	t := time.NewTimer(checkpointDelay)
	t.Stop()
	// After a burst of commits: a checkpoint checkpointDelay after its
	// first, then another checkpointAgain later, for a commit that was
	// still being written at the first.
	const (
		idle = iota
		soon
		later
	)
	state := idle
	for {
		select {
		case <-c.stop:
			t.Stop()
			return
		case <-c.wake:
			if state != soon {
				state = soon
				t.Reset(checkpointDelay)
			}
		case <-t.C:
			// An error (the database closed under it, a disk error) is
			// left to the next checkpoint and to the writes, which meet
			// the same cause and report it.
			_, _ = c.db.ExecContext(context.Background(), `PRAGMA wal_checkpoint(PASSIVE)`)
			if state == soon {
				state = later
				t.Reset(checkpointAgain)
			} else {
				state = idle
			}
		}
	}
}

// close stops the goroutine and closes its connection. (The last
// connection to close checkpoints whatever is left.) A nil checkpointer
// has nothing to close.
func (c *checkpointer) close() error {
	if c == nil {
		return nil
	}
	close(c.stop)
	<-c.done
	return c.db.Close()
}

// hookedConnector opens the connections of the driver's Connector and
// gives each the commit hook onCommit.
type hookedConnector struct {
	driver.Connector
	onCommit sqlite.CommitHookFn
}

func (h hookedConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := h.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	hr, ok := conn.(sqlite.HookRegisterer)
	if !ok {
		conn.Close()
		return nil, fmt.Errorf("sqlitestore: the driver's connection %T takes no commit hook", conn)
	}
	hr.RegisterCommitHook(h.onCommit)
	return conn, nil
}
