package csvio

import (
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"
)

// benchFile returns a recipients file of n rows with phones written the
// ways people write them, in four area codes, and an extra column.
func benchFile(n int) string {
	areas := []string{"440", "208", "602", "808"}
	formats := []string{"(%s) %03d-%04d", "%s.%03d.%04d", "+1 %s %03d %04d", "%s-%03d-%04d", "1%s%03d%04d"}
	var b strings.Builder
	b.WriteString("patient_id,patient_first_name,patient_phone,clinic\r\n")
	for i := range n {
		phone := fmt.Sprintf(formats[i%len(formats)], areas[i%len(areas)], 200+i/10000%700, i%10000)
		fmt.Fprintf(&b, "MRN%07d,Name%d,%s,Clinic %d\r\n", i, i, phone, i%7)
	}
	return b.String()
}

// BenchmarkDecode decodes, normalises and validates a 100,000-row file
// held in memory.
func BenchmarkDecode(b *testing.B) {
	const rows = 100_000
	in := benchFile(rows)
	b.SetBytes(int64(len(in)))
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for b.Loop() {
		rr, err := NewRecipientReader(strings.NewReader(in), Options{})
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for {
			row, err := rr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			if !row.OK() {
				b.Fatalf("line %d: %v", row.Line, row.Errors)
			}
			n++
		}
		if n != rows {
			b.Fatalf("%d rows, want %d", n, rows)
		}
	}
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(b.N*rows)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(b.N*rows), "allocs/row")
}
