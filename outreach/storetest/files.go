package storetest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/iotest"
	"time"

	"github.com/patient-outreach/sms/outreach"
)

// ExerciseFiles runs the behaviours of a [outreach.FileStore], one parallel
// subtest each, with ctx, on a fresh store from newStore (which closes
// it itself, in t's cleanup). Every time passed is a fixed instant of
// 2025 plus offsets, never the wall clock.
//
//   - A file of several chunks (over 2 MiB, written through a reader
//     that returns little at a time) reads back the same, with its
//     metadata, size and times; a new file of the same name replaces it.
//   - A missing file is an error matching outreach.ErrNotFound for every
//     method that names one.
//   - A file is never seen before it is completely written: not while
//     its reader is midway, and not at all when its reader fails (the
//     error is returned wrapped, and an older file of that name stays).
//   - TakeFile: of concurrent takes of one name exactly one succeeds; a
//     taken file is out of view but its reader works; PutBackFile makes
//     it takeable again; DeleteFile removes it.
//   - Expiry: an expired file is not found nor listed, and PurgeFiles
//     deletes it (taken or not) and nothing else.
//   - ListFiles lists by byte prefix (no wildcards), in name order.
func ExerciseFiles(ctx context.Context, t *testing.T, newStore func(t *testing.T) outreach.FileStore) {
	t0 := time.Date(2025, time.June, 2, 15, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		fn   func(ctx context.Context, t *testing.T, s outreach.FileStore, t0 time.Time)
	}{
		{"RoundTrip", testFileRoundTrip},
		{"Replace", testFileReplace},
		{"NotFound", testFileNotFound},
		{"Meta", testFileMeta},
		{"HalfWritten", testFileHalfWritten},
		{"Take", testFileTake},
		{"ConcurrentTake", testFileConcurrentTake},
		{"Expiry", testFileExpiry},
		{"List", testFileList},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(ctx, t, newStore(t), t0)
		})
	}
}

// content is n bytes that do not repeat by chunk.
func content(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func put(ctx context.Context, t *testing.T, s outreach.FileStore, name string, data []byte, meta string, created, expires time.Time) outreach.FileInfo {
	t.Helper()
	var m json.RawMessage
	if meta != "" {
		m = json.RawMessage(meta)
	}
	f, err := s.PutFile(ctx, outreach.FileInfo{Name: name, Meta: m, Created: created, Expires: expires}, bytes.NewReader(data))
	if err != nil {
		t.Fatalf("PutFile %q: %v", name, err)
	}
	return f
}

// readFile opens name at now and reads it whole.
func readFile(ctx context.Context, t *testing.T, s outreach.FileStore, name string, now time.Time) (outreach.FileInfo, []byte) {
	t.Helper()
	f, rc, err := s.OpenFile(ctx, name, now)
	if err != nil {
		t.Fatalf("OpenFile %q: %v", name, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("reading %q: %v", name, err)
	}
	return f, b
}

func sameInfo(t *testing.T, what string, got, want outreach.FileInfo) {
	t.Helper()
	if got.Name != want.Name || got.Size != want.Size || !got.Created.Equal(want.Created) || !got.Expires.Equal(want.Expires) || !sameJSON(got.Meta, want.Meta) {
		t.Errorf("%s: %+v (meta %s); want %+v (meta %s)", what, got, got.Meta, want, want.Meta)
	}
}

func sameJSON(a, b json.RawMessage) bool {
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return bytes.Equal(xa, ya)
}

func testFileRoundTrip(ctx context.Context, t *testing.T, s outreach.FileStore, t0 time.Time) {
	data := content(2<<20+12345, 1) // over 2 MiB: several chunks of any size up to 1 MiB
	meta := `{"file_name": "members.csv", "rows": 3, "nested": {"ok": true}}`
	f, err := s.PutFile(ctx, outreach.FileInfo{Name: "uploads/a", Meta: json.RawMessage(meta), Created: t0, Expires: t0.Add(time.Hour)},
		iotest.HalfReader(bytes.NewReader(data)))
	if err != nil {
		t.Fatal(err)
	}
	want := outreach.FileInfo{Name: "uploads/a", Meta: json.RawMessage(meta), Size: int64(len(data)), Created: t0, Expires: t0.Add(time.Hour)}
	sameInfo(t, "PutFile's result", f, want)
	got, b := readFile(ctx, t, s, "uploads/a", t0.Add(time.Minute))
	sameInfo(t, "OpenFile", got, want)
	if !bytes.Equal(b, data) {
		t.Fatalf("read back %d bytes, not the %d written (or not the same)", len(b), len(data))
	}
	st, err := s.StatFile(ctx, "uploads/a", t0)
	if err != nil {
		t.Fatal(err)
	}
	sameInfo(t, "StatFile", st, want)

	// Small reads, and an empty file that never expires.
	_, rc, err := s.OpenFile(ctx, "uploads/a", t0)
	if err != nil {
		t.Fatal(err)
	}
	if err := iotest.TestReader(rc, data); err != nil {
		t.Errorf("iotest.TestReader: %v", err)
	}
	rc.Close()
	put(ctx, t, s, "empty", nil, "", t0, time.Time{})
	ef, eb := readFile(ctx, t, s, "empty", t0.Add(100*365*24*time.Hour))
	if len(eb) != 0 || ef.Size != 0 || ef.Meta != nil || !ef.Expires.IsZero() {
		t.Errorf("empty file: %+v, %d bytes; want size 0, no meta, no expiry", ef, len(eb))
	}
}

func testFileReplace(ctx context.Context, t *testing.T, s outreach.FileStore, t0 time.Time) {
	put(ctx, t, s, "flows/x.json", content(1<<20+1, 2), `{"v":1}`, t0, time.Time{})
	second := content(100, 3)
	put(ctx, t, s, "flows/x.json", second, `{"v":2}`, t0.Add(time.Second), time.Time{})
	f, b := readFile(ctx, t, s, "flows/x.json", t0.Add(time.Minute))
	if !bytes.Equal(b, second) || !sameJSON(f.Meta, json.RawMessage(`{"v":2}`)) || !f.Created.Equal(t0.Add(time.Second)) {
		t.Errorf("after a replace: %+v, %d bytes; want the second file", f, len(b))
	}
	list, err := s.ListFiles(ctx, "", t0)
	if err != nil || len(list) != 1 {
		t.Errorf("ListFiles after a replace = %+v, %v; want one file", list, err)
	}
	// A taken file is replaced too.
	if _, rc, err := s.TakeFile(ctx, "flows/x.json", t0); err != nil {
		t.Fatal(err)
	} else {
		rc.Close()
	}
	put(ctx, t, s, "flows/x.json", []byte("third"), "", t0, time.Time{})
	if _, b := readFile(ctx, t, s, "flows/x.json", t0); string(b) != "third" {
		t.Errorf("after replacing a taken file: %q", b)
	}
}

func testFileNotFound(ctx context.Context, t *testing.T, s outreach.FileStore, t0 time.Time) {
	put(ctx, t, s, "other", []byte("x"), "", t0, time.Time{})
	check := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, outreach.ErrNotFound) {
			t.Errorf("%s of a missing file: %v; want ErrNotFound", what, err)
		}
	}
	_, err := s.StatFile(ctx, "missing", t0)
	check("StatFile", err)
	_, _, err = s.OpenFile(ctx, "missing", t0)
	check("OpenFile", err)
	_, _, err = s.TakeFile(ctx, "missing", t0)
	check("TakeFile", err)
	check("PutBackFile", s.PutBackFile(ctx, "missing"))
	check("PutBackFile of a file not taken", s.PutBackFile(ctx, "other"))
	check("DeleteFile", s.DeleteFile(ctx, "missing"))
	check("SetFileMeta", s.SetFileMeta(ctx, "missing", json.RawMessage(`{}`), t0))
	if err := s.DeleteFile(ctx, "other"); err != nil {
		t.Fatal(err)
	}
	_, err = s.StatFile(ctx, "other", t0)
	check("StatFile after DeleteFile", err)
	check("DeleteFile twice", s.DeleteFile(ctx, "other"))

	// A file deleted while it is read fails the read.
	put(ctx, t, s, "big", content(2<<20, 4), "", t0, time.Time{})
	_, rc, err := s.OpenFile(ctx, "big", t0)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if _, err := rc.Read(make([]byte, 10)); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteFile(ctx, "big"); err != nil {
		t.Fatal(err)
	}
	_, err = io.Copy(io.Discard, rc)
	check("reading on after DeleteFile", err)
}

func testFileMeta(ctx context.Context, t *testing.T, s outreach.FileStore, t0 time.Time) {
	if _, err := s.PutFile(ctx, outreach.FileInfo{Name: "bad", Meta: json.RawMessage(`{not json`), Created: t0}, bytes.NewReader(nil)); err == nil {
		t.Error("PutFile took metadata that is not JSON")
	}
	if _, err := s.PutFile(ctx, outreach.FileInfo{Created: t0}, bytes.NewReader(nil)); err == nil {
		t.Error("PutFile took an empty name")
	}
	put(ctx, t, s, "m", []byte("data"), `{"a":1}`, t0, t0.Add(time.Hour))
	if err := s.SetFileMeta(ctx, "m", json.RawMessage(`{"a":2,"summary":{"rows":5}}`), t0); err != nil {
		t.Fatal(err)
	}
	f, b := readFile(ctx, t, s, "m", t0)
	if string(b) != "data" || !sameJSON(f.Meta, json.RawMessage(`{"a":2,"summary":{"rows":5}}`)) {
		t.Errorf("after SetFileMeta: %+v (meta %s), %q", f, f.Meta, b)
	}
	if err := s.SetFileMeta(ctx, "m", json.RawMessage(`nope`), t0); err == nil {
		t.Error("SetFileMeta took metadata that is not JSON")
	}
	if err := s.SetFileMeta(ctx, "m", json.RawMessage(`{}`), t0.Add(time.Hour)); !errors.Is(err, outreach.ErrNotFound) {
		t.Errorf("SetFileMeta of an expired file: %v; want ErrNotFound", err)
	}
}

// failingReader gives n bytes, then err.
type failingReader struct {
	r   io.Reader
	err error
}

func (f *failingReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		return n, f.err
	}
	return n, err
}

// gateReader gives the bytes of first, then waits for release before it
// gives rest.
type gateReader struct {
	first, rest io.Reader
	reached     chan struct{}
	release     chan struct{}
	once        sync.Once
}

func (g *gateReader) Read(p []byte) (int, error) {
	n, err := g.first.Read(p)
	if err != io.EOF {
		return n, err
	}
	g.once.Do(func() {
		close(g.reached)
		<-g.release
	})
	return g.rest.Read(p)
}

func testFileHalfWritten(ctx context.Context, t *testing.T, s outreach.FileStore, t0 time.Time) {
	old := []byte("the older file")
	put(ctx, t, s, "up/1", old, `{"old":true}`, t0, time.Time{})

	// A reader that fails midway: nothing is stored, the older file stays.
	boom := errors.New("the client went away")
	_, err := s.PutFile(ctx, outreach.FileInfo{Name: "up/1", Created: t0}, &failingReader{r: bytes.NewReader(content(1<<20+300<<10, 5)), err: boom})
	if !errors.Is(err, boom) {
		t.Fatalf("PutFile with a failing reader: %v; want its error, wrapped", err)
	}
	_, err = s.PutFile(ctx, outreach.FileInfo{Name: "up/2", Created: t0}, &failingReader{r: bytes.NewReader(content(1<<20+300<<10, 5)), err: boom})
	if !errors.Is(err, boom) {
		t.Fatalf("PutFile with a failing reader: %v; want its error, wrapped", err)
	}
	if f, b := readFile(ctx, t, s, "up/1", t0); !bytes.Equal(b, old) || !sameJSON(f.Meta, json.RawMessage(`{"old":true}`)) {
		t.Errorf("the older file after a failed replace: %+v, %q; want it unchanged", f, b)
	}
	if _, err := s.StatFile(ctx, "up/2", t0); !errors.Is(err, outreach.ErrNotFound) {
		t.Errorf("StatFile of a file whose write failed: %v; want ErrNotFound", err)
	}
	if list, err := s.ListFiles(ctx, "", t0); err != nil || len(list) != 1 || list[0].Name != "up/1" {
		t.Errorf("ListFiles after failed writes = %+v, %v; want up/1 alone", list, err)
	}
	// Nothing is left behind to purge, even a long time later.
	if n, err := s.PurgeFiles(ctx, t0.Add(48*time.Hour)); err != nil || n != 0 {
		t.Errorf("PurgeFiles after failed writes = %d, %v; want 0 (they were removed at once)", n, err)
	}

	// A file midway is not seen.
	data := content(2<<20+7, 6)
	g := &gateReader{first: bytes.NewReader(data[:1<<20+5]), rest: bytes.NewReader(data[1<<20+5:]),
		reached: make(chan struct{}), release: make(chan struct{})}
	done := make(chan error, 1)
	go func() {
		_, err := s.PutFile(ctx, outreach.FileInfo{Name: "up/3", Created: t0}, g)
		done <- err
	}()
	select {
	case <-g.reached:
	case err := <-done:
		t.Fatalf("PutFile returned before its reader was done: %v", err)
	}
	if _, err := s.StatFile(ctx, "up/3", t0); !errors.Is(err, outreach.ErrNotFound) {
		t.Errorf("StatFile of a file midway: %v; want ErrNotFound", err)
	}
	if _, _, err := s.TakeFile(ctx, "up/3", t0); !errors.Is(err, outreach.ErrNotFound) {
		t.Errorf("TakeFile of a file midway: %v; want ErrNotFound", err)
	}
	if list, err := s.ListFiles(ctx, "up/", t0); err != nil || len(list) != 1 {
		t.Errorf("ListFiles with a file midway = %+v, %v; want up/1 alone", list, err)
	}
	close(g.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, b := readFile(ctx, t, s, "up/3", t0); !bytes.Equal(b, data) {
		t.Errorf("the file written in two goes reads back %d bytes, not the %d written", len(b), len(data))
	}
}

func testFileTake(ctx context.Context, t *testing.T, s outreach.FileStore, t0 time.Time) {
	data := content(1<<20+99, 7)
	put(ctx, t, s, "uploads/k", data, `{"user":"ann"}`, t0, t0.Add(time.Hour))
	f, rc, err := s.TakeFile(ctx, "uploads/k", t0)
	if err != nil {
		t.Fatal(err)
	}
	if f.Name != "uploads/k" || f.Size != int64(len(data)) || !sameJSON(f.Meta, json.RawMessage(`{"user":"ann"}`)) {
		t.Errorf("TakeFile = %+v; want the file", f)
	}
	// Out of view, for everyone.
	if _, _, err := s.TakeFile(ctx, "uploads/k", t0); !errors.Is(err, outreach.ErrNotFound) {
		t.Errorf("second TakeFile: %v; want ErrNotFound", err)
	}
	if _, err := s.StatFile(ctx, "uploads/k", t0); !errors.Is(err, outreach.ErrNotFound) {
		t.Errorf("StatFile of a taken file: %v; want ErrNotFound", err)
	}
	if _, _, err := s.OpenFile(ctx, "uploads/k", t0); !errors.Is(err, outreach.ErrNotFound) {
		t.Errorf("OpenFile of a taken file: %v; want ErrNotFound", err)
	}
	if list, err := s.ListFiles(ctx, "uploads/", t0); err != nil || len(list) != 0 {
		t.Errorf("ListFiles with the file taken = %+v, %v; want none", list, err)
	}
	// Its reader works.
	b, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(b, data) {
		t.Fatalf("reading the taken file: %d bytes, %v; want the %d written", len(b), err, len(data))
	}
	// Put back, it can be taken again.
	if err := s.PutBackFile(ctx, "uploads/k"); err != nil {
		t.Fatal(err)
	}
	if _, b := readFile(ctx, t, s, "uploads/k", t0); !bytes.Equal(b, data) {
		t.Error("the file put back does not read the same")
	}
	_, rc, err = s.TakeFile(ctx, "uploads/k", t0)
	if err != nil {
		t.Fatalf("TakeFile after PutBackFile: %v", err)
	}
	rc.Close()
	if err := s.DeleteFile(ctx, "uploads/k"); err != nil {
		t.Fatalf("DeleteFile of a taken file: %v", err)
	}
	if err := s.PutBackFile(ctx, "uploads/k"); !errors.Is(err, outreach.ErrNotFound) {
		t.Errorf("PutBackFile after DeleteFile: %v; want ErrNotFound", err)
	}
	// An expired file cannot be taken.
	put(ctx, t, s, "uploads/old", []byte("x"), "", t0, t0.Add(time.Hour))
	if _, _, err := s.TakeFile(ctx, "uploads/old", t0.Add(time.Hour)); !errors.Is(err, outreach.ErrNotFound) {
		t.Errorf("TakeFile of an expired file: %v; want ErrNotFound", err)
	}
}

func testFileConcurrentTake(ctx context.Context, t *testing.T, s outreach.FileStore, t0 time.Time) {
	const takers = 8
	for round := range 5 {
		name := "uploads/race-" + string(rune('a'+round))
		put(ctx, t, s, name, content(600<<10, uint64(round)), `{}`, t0, t0.Add(time.Hour))
		var (
			wins    atomic.Int32
			wg      sync.WaitGroup
			start   = make(chan struct{})
			errs    = make(chan error, takers)
			readErr = make(chan error, takers)
		)
		for range takers {
			wg.Go(func() {
				<-start
				_, rc, err := s.TakeFile(ctx, name, t0)
				if err != nil {
					errs <- err
					return
				}
				wins.Add(1)
				_, err = io.Copy(io.Discard, rc)
				rc.Close()
				readErr <- err
			})
		}
		close(start)
		wg.Wait()
		close(errs)
		close(readErr)
		if n := wins.Load(); n != 1 {
			t.Fatalf("round %d: %d of %d concurrent takes succeeded; want exactly one", round, n, takers)
		}
		for err := range errs {
			if !errors.Is(err, outreach.ErrNotFound) {
				t.Errorf("a losing TakeFile: %v; want ErrNotFound", err)
			}
		}
		for err := range readErr {
			if err != nil {
				t.Errorf("the winner's read: %v", err)
			}
		}
	}
}

func testFileExpiry(ctx context.Context, t *testing.T, s outreach.FileStore, t0 time.Time) {
	put(ctx, t, s, "uploads/short", content(1<<20+1, 8), "", t0, t0.Add(time.Hour))
	put(ctx, t, s, "uploads/taken", []byte("t"), "", t0, t0.Add(time.Hour))
	put(ctx, t, s, "uploads/later", []byte("l"), "", t0, t0.Add(3*time.Hour))
	put(ctx, t, s, "flows/forever", []byte("f"), "", t0, time.Time{})
	if _, rc, err := s.TakeFile(ctx, "uploads/taken", t0); err != nil {
		t.Fatal(err)
	} else {
		rc.Close()
	}
	if _, err := s.StatFile(ctx, "uploads/short", t0.Add(59*time.Minute)); err != nil {
		t.Errorf("StatFile before its expiry: %v", err)
	}
	if _, err := s.StatFile(ctx, "uploads/short", t0.Add(time.Hour)); !errors.Is(err, outreach.ErrNotFound) {
		t.Errorf("StatFile at its expiry: %v; want ErrNotFound", err)
	}
	if _, _, err := s.OpenFile(ctx, "uploads/short", t0.Add(2*time.Hour)); !errors.Is(err, outreach.ErrNotFound) {
		t.Errorf("OpenFile after its expiry: %v; want ErrNotFound", err)
	}
	list, err := s.ListFiles(ctx, "", t0.Add(2*time.Hour))
	if names := fileNames(list); err != nil || !slices.Equal(names, []string{"flows/forever", "uploads/later"}) {
		t.Errorf("ListFiles after an expiry = %v, %v; want flows/forever and uploads/later", names, err)
	}
	if n, err := s.PurgeFiles(ctx, t0.Add(30*time.Minute)); err != nil || n != 0 {
		t.Errorf("PurgeFiles before any expiry = %d, %v; want 0", n, err)
	}
	if n, err := s.PurgeFiles(ctx, t0.Add(2*time.Hour)); err != nil || n != 2 {
		t.Errorf("PurgeFiles = %d, %v; want 2 (the expired file, and the expired taken one)", n, err)
	}
	// Purged, they are gone even as of an earlier time.
	if _, err := s.StatFile(ctx, "uploads/short", t0); !errors.Is(err, outreach.ErrNotFound) {
		t.Errorf("StatFile of a purged file: %v; want ErrNotFound", err)
	}
	if err := s.DeleteFile(ctx, "uploads/taken"); !errors.Is(err, outreach.ErrNotFound) {
		t.Errorf("DeleteFile of a purged taken file: %v; want ErrNotFound", err)
	}
	list, err = s.ListFiles(ctx, "", t0)
	if names := fileNames(list); err != nil || !slices.Equal(names, []string{"flows/forever", "uploads/later"}) {
		t.Errorf("ListFiles after the purge = %v, %v; want flows/forever and uploads/later", names, err)
	}
}

func fileNames(fs []outreach.FileInfo) []string {
	var names []string
	for _, f := range fs {
		names = append(names, f.Name)
	}
	return names
}

func testFileList(ctx context.Context, t *testing.T, s outreach.FileStore, t0 time.Time) {
	for _, name := range []string{"b/1", "a/2", "ab/3", "a/1", "a%/x", "a_/y", "A/1", "a"} {
		put(ctx, t, s, name, []byte(name), `{"n":"`+name+`"}`, t0, time.Time{})
	}
	for _, tc := range []struct {
		prefix string
		want   []string
	}{
		{"a/", []string{"a/1", "a/2"}},
		{"a", []string{"a", "a%/x", "a/1", "a/2", "a_/y", "ab/3"}},
		{"a%", []string{"a%/x"}},
		{"a_", []string{"a_/y"}},
		{"", []string{"A/1", "a", "a%/x", "a/1", "a/2", "a_/y", "ab/3", "b/1"}},
		{"c", nil},
	} {
		list, err := s.ListFiles(ctx, tc.prefix, t0)
		if err != nil {
			t.Fatal(err)
		}
		if names := fileNames(list); !slices.Equal(names, tc.want) {
			t.Errorf("ListFiles(%q) = %q; want %q", tc.prefix, names, tc.want)
		}
		for _, f := range list {
			if f.Size != int64(len(f.Name)) || !sameJSON(f.Meta, json.RawMessage(`{"n":"`+f.Name+`"}`)) {
				t.Errorf("ListFiles: %+v (meta %s); want its size and metadata", f, f.Meta)
			}
		}
	}
}
