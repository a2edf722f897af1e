// Package benchdata generates the deterministic inputs of the benchmark
// suite (scripts/bench.sh): recipient files with phone numbers written
// the ways people write them, a few bad rows and duplicates. Nothing it
// makes is committed; the same seed gives the same bytes.
package benchdata

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
)

// Mix says how a generated file is made; the zero value of each rate
// means none of that kind.
type Mix struct {
	// Seed makes the output reproducible.
	Seed uint64
	// Bad is the share of rows whose phone no parser accepts.
	Bad float64
	// Duplicate is the share of rows that repeat an earlier row.
	Duplicate float64
	// International is the share of numbers outside North America.
	International float64
}

// DefaultMix is the mix of the benchmark suite: 1% bad rows, 0.5%
// duplicates, 3% international numbers.
var DefaultMix = Mix{Seed: 1, Bad: 0.01, Duplicate: 0.005, International: 0.03}

// Counts tells what a generated file holds.
type Counts struct {
	Rows, Bad, Duplicates, International int
}

// Area codes of the United States, Canada and the Caribbean (+1).
var areas = []string{
	"440", "208", "602", "808", "212", "312", "415", "617", "713", "305",
	"404", "503", "206", "303", "612", "216", "614", "702", "801", "919",
	"416", "604", "514", "403", // Canada
	"876", "868", "246", // Jamaica, Trinidad and Tobago, Barbados
}

// NANP formats, as seen in real patient lists (the performance issue's
// examples first).
var formats = []func(a, e, s string, ext int) string{
	func(a, e, s string, _ int) string { return "(" + a + ") " + e + "-" + s },
	func(a, e, s string, _ int) string { return a + "." + e + "." + s },
	func(a, e, s string, _ int) string { return "+1" + a + e + s },
	func(a, e, s string, ext int) string { return fmt.Sprintf("1-%s-%s-%s ext %d", a, e, s, ext) },
	func(a, e, s string, _ int) string { return a + "-" + e + "-" + s },
	func(a, e, s string, _ int) string { return "+1 " + a + " " + e + " " + s },
	func(a, e, s string, _ int) string { return a + e + s },
}

// International numbers, each a format with the subscriber digits left
// to fill.
var international = []string{
	"+44 20 7946 %04d", // London
	"+49 30 %08d",      // Berlin
	"+52 55 %04d %04d", // Mexico City
	"+61 2 %04d %04d",  // Sydney
}

// Bad phones: too short, letters, an area code starting with 1, empty.
var bad = []string{"555-123", "call me", "123-456-7890", "", "+1 (212) 55"}

// phone draws a phone as written, and its kind.
func phone(rng *rand.Rand, mix Mix) (raw string, kind int) {
	switch x := rng.Float64(); {
	case x < mix.Bad:
		return bad[rng.IntN(len(bad))], kindBad
	case x < mix.Bad+mix.International:
		switch i := rng.IntN(len(international)); i {
		case 0:
			return fmt.Sprintf(international[i], rng.IntN(10000)), kindIntl
		case 1:
			return fmt.Sprintf(international[i], rng.IntN(100000000)), kindIntl
		default:
			return fmt.Sprintf(international[i], rng.IntN(10000), rng.IntN(10000)), kindIntl
		}
	}
	a := areas[rng.IntN(len(areas))]
	e := 200 + rng.IntN(800)
	if e%100 == 11 { // N11 is no exchange
		e++
	}
	s := fmt.Sprintf("%04d", rng.IntN(10000))
	return formats[rng.IntN(len(formats))](a, fmt.Sprint(e), s, 1+rng.IntN(99)), kindNANP
}

const (
	kindNANP = iota
	kindIntl
	kindBad
)

// WriteRecipients writes a recipients CSV of n rows (patient_id,
// patient_first_name, patient_phone, clinic) to w.
func WriteRecipients(w io.Writer, n int, mix Mix) (Counts, error) {
	rng := rand.New(rand.NewPCG(mix.Seed, 0x9e3779b97f4a7c15))
	bw := bufio.NewWriterSize(w, 1<<16)
	var c Counts
	fmt.Fprintf(bw, "patient_id,patient_first_name,patient_phone,clinic\r\n")
	var last []string
	for i := range n {
		if len(last) > 0 && rng.Float64() < mix.Duplicate {
			fmt.Fprintf(bw, "%s\r\n", last[rng.IntN(len(last))])
			c.Duplicates++
			c.Rows++
			continue
		}
		raw, kind := phone(rng, mix)
		switch kind {
		case kindBad:
			c.Bad++
		case kindIntl:
			c.International++
		}
		row := fmt.Sprintf("MRN%08d,Name%d,\"%s\",Clinic %d", i, i%5000, raw, i%7)
		if len(last) < 1000 {
			last = append(last, row)
		} else {
			last[rng.IntN(len(last))] = row
		}
		bw.WriteString(row)
		bw.WriteString("\r\n")
		c.Rows++
	}
	return c, bw.Flush()
}

// Phones returns n phones as written, with the same mix as
// WriteRecipients (and its bad ones), for the normalisation benchmarks.
func Phones(n int, mix Mix) []string {
	rng := rand.New(rand.NewPCG(mix.Seed, 0x9e3779b97f4a7c15))
	out := make([]string, n)
	for i := range out {
		out[i], _ = phone(rng, mix)
	}
	return out
}
