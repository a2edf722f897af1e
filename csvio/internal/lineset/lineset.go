// Package lineset provides a compact set of 64-bit keys, each with the
// line of the file that first held it: what a recipients file's duplicate
// checks remember of every row.
//
// A Go map[uint64]int32 takes about 29 bytes an entry at a million
// entries, and a lookup walks its directory, control words and slots. A
// Set is one open-addressing table with linear probing in two flat
// arrays, 12 bytes a slot, at most 80% full and grown by half again: about
// 18 bytes an entry on average, none of them pointers for the garbage
// collector to scan.
package lineset

import "math/bits"

// maxLoad is the fill, in tenths, past which a Set grows.
const maxLoad = 8

// Set maps 64-bit keys to the line first added with them. The zero value
// is an empty set, ready to use. It is not safe for concurrent use.
type Set struct {
	// keys holds each slot's key, mixed (see mix) and with 0 meaning an
	// empty slot; the key whose mix is 0 is kept aside, in zero.
	keys  []uint64
	lines []int32
	n     int // keys in the table, zero's not counted
	zero  bool
	zline int32
}

// Add adds key with line, unless the set has key already: then it
// returns the line key was added with and true, and leaves the set as
// it was.
func (s *Set) Add(key uint64, line int32) (first int32, dup bool) {
	h := mix(key)
	if h == 0 {
		if s.zero {
			return s.zline, true
		}
		s.zero, s.zline = true, line
		return 0, false
	}
	if (s.n+1)*10 > len(s.keys)*maxLoad {
		s.grow()
	}
	i := s.slot(h)
	for {
		switch s.keys[i] {
		case h:
			return s.lines[i], true
		case 0:
			s.keys[i], s.lines[i] = h, line
			s.n++
			return 0, false
		}
		if i++; i == len(s.keys) {
			i = 0
		}
	}
}

// Len returns how many keys the set has.
func (s *Set) Len() int {
	if s.zero {
		return s.n + 1
	}
	return s.n
}

// slot returns the first slot to probe for the mixed key h: h scaled to
// the table's size, which need not be a power of two.
func (s *Set) slot(h uint64) int {
	i, _ := bits.Mul64(h, uint64(len(s.keys)))
	return int(i)
}

// grow moves the keys to a table half again as large (64 slots at least).
func (s *Set) grow() {
	old, oldLines := s.keys, s.lines
	size := max(64, len(old)+len(old)/2)
	s.keys, s.lines = make([]uint64, size), make([]int32, size)
	for j, h := range old {
		if h == 0 {
			continue
		}
		i := s.slot(h)
		for s.keys[i] != 0 {
			if i++; i == len(s.keys) {
				i = 0
			}
		}
		s.keys[i], s.lines[i] = h, oldLines[j]
	}
}

// mix spreads the bits of a key over all 64 (the finaliser of
// SplitMix64, a bijection): keys such as phone numbers, which differ only
// in their low digits, then land all over the table rather than in one
// run of slots.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
