package sqlitestore

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/patient-outreach/sms/outreach"
)

// TestCheckpointer checks that with synchronous NORMAL commits leave the
// write-ahead log to the checkpointer: the writer's automatic checkpoint
// is off, and yet the pages of a burst of commits reach the database file
// soon after it, with no commit after them. With FULL, the default, the
// writer checkpoints as SQLite does by default.
func TestCheckpointer(t *testing.T) {
	ctx := t.Context()
	auto := func(s *Store) int {
		var n int
		if err := s.w.QueryRowContext(ctx, "PRAGMA wal_autocheckpoint").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	full, err := Open(ctx, filepath.Join(t.TempDir(), "full.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer full.Close()
	if n := auto(full); n != 1000 || full.ck != nil {
		t.Errorf("synchronous FULL: the writer's wal_autocheckpoint is %d, want SQLite's 1000, and no checkpointer (have %v)", n, full.ck != nil)
	}
	path := filepath.Join(t.TempDir(), "outreach.db")
	s, err := OpenOptions(ctx, path, Options{Synchronous: "NORMAL"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if n := auto(s); n != 0 {
		t.Errorf("synchronous NORMAL: the writer's wal_autocheckpoint is %d, want 0 (the checkpointer's work)", n)
	}
	size := func() int64 {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	before := size()
	now := time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC)
	for b := range 4 { // 4 commits of about 1 MB of log each
		convs := make([]outreach.Conversation, 2500)
		for i := range convs {
			convs[i] = outreach.Conversation{Recipient: outreach.Recipient{
				ID: fmt.Sprintf("p%d-%d", b, i), FirstName: "Pat", Phone: fmt.Sprintf("+1440%07d", b*10000+i)}}
		}
		if _, _, err := s.CreateCampaign(ctx, outreach.Campaign{Name: "c", From: "+15005550006", CreatedAt: now}, convs); err != nil {
			t.Fatal(err)
		}
	}
	// The database file grows only when a checkpoint copies pages into it.
	for start := time.Now(); size() < before+1<<20; {
		if time.Since(start) > 30*time.Second {
			t.Fatalf("the database file is %d bytes 30 s after the commits (%d before): the log was not copied into it", size(), before)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
