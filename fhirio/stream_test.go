package fhirio_test

import (
	"fmt"
	"io"
	"runtime"
	"testing"

	"github.com/patient-outreach/sms/fhirio"
)

// genNDJSON is an io.Reader of n generated patients, made as they are
// read: nothing of the whole file is held.
type genNDJSON struct {
	n, i int
	buf  []byte
}

func (g *genNDJSON) Read(p []byte) (int, error) {
	for len(g.buf) == 0 {
		if g.i == g.n {
			return 0, io.EOF
		}
		g.buf = fmt.Appendf(g.buf[:0], `{"resourceType":"Patient","id":"p%d","identifier":[{"system":"%s","value":"MRN%08d"}],"name":[{"use":"official","given":["Pat"]}],"telecom":[{"system":"phone","value":"440-644-%04d","use":"mobile"}]}`+"\n", g.i, mrn, g.i, g.i%10000)
		g.i++
	}
	n := copy(p, g.buf)
	g.buf = g.buf[n:]
	return n, nil
}

// readHeap reads n generated patients and returns the live heap after
// and the allocations per patient.
func readHeap(t *testing.T, n int) (heap uint64, perRow float64) {
	t.Helper()
	pr, err := fhirio.NewNDJSONReader(&genNDJSON{n: n}, fhirio.Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	rows := 0
	for {
		row, err := pr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if !row.OK() {
			t.Fatalf("line %d: %v", row.Line, row.Errors)
		}
		rows++
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(pr)
	return after.HeapAlloc, float64(after.Mallocs-before.Mallocs) / float64(rows)
}

// TestNDJSONMemoryFlat: reading 20 times as many patients allocates as
// much per patient and keeps about as much alive (the only state that
// grows is the set of ids seen, for duplicates: about 50 bytes an id).
// It runs under the race detector too (slower, not differently: the
// detector's own memory is not the Go heap), which spares CI a build of
// fhirio's tests, and of google/fhir's R4 protos, without it; under the
// detector it reads 10 times as many rather than 20 (200,000 took 12 to
// 25 s of the race run).
func TestNDJSONMemoryFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("reads 200,000 patients: not with -short")
	}
	big := 200_000
	if raceEnabled {
		big = 100_000
	}
	smallHeap, smallRow := readHeap(t, 10_000)
	bigHeap, bigRow := readHeap(t, big)
	if bigRow > smallRow*1.1+1 {
		t.Errorf("allocations per patient grow: %.1f at 10k, %.1f at %d", smallRow, bigRow, big)
	}
	perID := float64(int64(bigHeap)-int64(smallHeap)) / float64(big-10_000)
	if perID > 120 {
		t.Errorf("live heap grows %.0f bytes a patient (%d -> %d)", perID, smallHeap, bigHeap)
	}
	t.Logf("%.1f allocations a patient; live heap %d KB at 10k, %d KB at 200k (%.0f B per id kept)", bigRow, smallHeap/1024, bigHeap/1024, perID)
}
