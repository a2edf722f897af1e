package lineset

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"
)

func TestAdd(t *testing.T) {
	var s Set
	steps := []struct {
		key       uint64
		line      int32
		wantFirst int32
		wantDup   bool
	}{
		{key: 14406443709, line: 2},
		{key: 14406443710, line: 3},
		{key: 14406443709, line: 4, wantFirst: 2, wantDup: true},
		{key: 0, line: 5}, // mixes to 0: kept aside
		{key: 0, line: 6, wantFirst: 5, wantDup: true},
		{key: ^uint64(0), line: 7},
		{key: ^uint64(0), line: 8, wantFirst: 7, wantDup: true},
		{key: 14406443710, line: 9, wantFirst: 3, wantDup: true},
	}
	for i, st := range steps {
		first, dup := s.Add(st.key, st.line)
		if first != st.wantFirst || dup != st.wantDup {
			t.Errorf("step %d: Add(%d, %d) = %d, %v; want %d, %v", i, st.key, st.line, first, dup, st.wantFirst, st.wantDup)
		}
	}
	if s.Len() != 4 {
		t.Errorf("Len() = %d, want 4", s.Len())
	}
}

// TestLikeMap adds keys of several shapes, many times over the table's
// growth, and checks every answer against a map.
func TestLikeMap(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	shapes := map[string]func(i int) uint64{
		"random":     func(int) uint64 { return rng.Uint64() },
		"sequential": func(i int) uint64 { return 14400000000 + uint64(i) },
		"few":        func(int) uint64 { return uint64(rng.IntN(5000)) },
		"high bits":  func(i int) uint64 { return uint64(i) << 40 },
	}
	for name, key := range shapes {
		t.Run(name, func(t *testing.T) {
			var s Set
			want := map[uint64]int32{}
			for i := range 200_000 {
				addLikeMap(t, &s, want, key(i), int32(i))
			}
			if s.n*10 > len(s.keys)*maxLoad {
				t.Errorf("%d keys in %d slots: over %d0%% full", s.n, len(s.keys), maxLoad)
			}
		})
	}
}

// FuzzLikeMap checks a Set against a map on the keys the fuzzer makes,
// 8 bytes each (a short key small enough to collide in the table).
func FuzzLikeMap(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte("the same key,the same key,"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var s Set
		want := map[uint64]int32{}
		for i := 0; len(data) > 0; i++ {
			var b [8]byte
			n := copy(b[:], data)
			data = data[n:]
			addLikeMap(t, &s, want, binary.LittleEndian.Uint64(b[:])%97, int32(i))
		}
	})
}

// addLikeMap adds k with line to s and to want, and fails unless s
// answers as the map does and has as many keys.
func addLikeMap(t *testing.T, s *Set, want map[uint64]int32, k uint64, line int32) {
	t.Helper()
	first, dup := s.Add(k, line)
	w, wdup := want[k]
	if dup != wdup || (dup && first != w) {
		t.Fatalf("Add(%d, %d) = %d, %v; the map has %d, %v", k, line, first, dup, w, wdup)
	}
	if !wdup {
		want[k] = line
	}
	if s.Len() != len(want) {
		t.Fatalf("Len() = %d, want %d", s.Len(), len(want))
	}
}

// BenchmarkAdd adds a million random keys, as a recipients file's
// patient ids are, to a Set and to a map.
func BenchmarkAdd(b *testing.B) {
	keys := make([]uint64, 1_000_000)
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range keys {
		keys[i] = rng.Uint64()
	}
	b.Run("Set", func(b *testing.B) {
		for b.Loop() {
			var s Set
			for i, k := range keys {
				s.Add(k, int32(i))
			}
		}
	})
	b.Run("map", func(b *testing.B) {
		for b.Loop() {
			m := map[uint64]int32{}
			for i, k := range keys {
				if _, ok := m[k]; !ok {
					m[k] = int32(i)
				}
			}
		}
	})
}
