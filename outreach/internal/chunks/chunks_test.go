package chunks

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

// store is an in-memory chunk table.
type store map[int][]byte

func (s store) put(seq int, data []byte) error {
	s[seq] = bytes.Clone(data)
	return nil
}

func (s store) get(seq int) ([]byte, error) {
	if d, ok := s[seq]; ok {
		return d, nil
	}
	return nil, ErrMissing
}

func TestRoundTrip(t *testing.T) {
	for _, n := range []int{0, 1, Size - 1, Size, Size + 1, 3*Size + 17} {
		data := make([]byte, n)
		for i := range data {
			data[i] = byte(i * 7)
		}
		s := store{}
		size, err := Write(iotest.HalfReader(bytes.NewReader(data)), s.put)
		if err != nil || size != int64(n) {
			t.Fatalf("Write of %d bytes = %d, %v", n, size, err)
		}
		if want := (n + Size - 1) / Size; len(s) != want {
			t.Errorf("%d bytes made %d chunks; want %d", n, len(s), want)
		}
		if err := iotest.TestReader(NewReader(size, s.get), data); err != nil {
			t.Errorf("reading %d bytes back: %v", n, err)
		}
	}
}

func TestWriteErrors(t *testing.T) {
	boom := errors.New("boom")
	if _, err := Write(iotest.ErrReader(boom), store{}.put); !errors.Is(err, boom) {
		t.Errorf("Write with a failing reader: %v; want its error", err)
	}
	if _, err := Write(bytes.NewReader([]byte("x")), func(int, []byte) error { return boom }); !errors.Is(err, boom) {
		t.Errorf("Write with a failing put: %v; want its error", err)
	}
}

func TestReaderMissingChunk(t *testing.T) {
	s := store{}
	size, _ := Write(bytes.NewReader(make([]byte, 2*Size+1)), s.put)
	delete(s, 1)
	if _, err := io.Copy(io.Discard, NewReader(size, s.get)); !errors.Is(err, ErrMissing) {
		t.Errorf("reading with chunk 1 gone: %v; want ErrMissing", err)
	}
	// A chunk longer than what is left (the file was replaced).
	r := NewReader(3, store{0: []byte("four")}.get)
	if _, err := io.ReadAll(r); !errors.Is(err, ErrMissing) {
		t.Errorf("reading a chunk longer than the file: %v; want ErrMissing", err)
	}
	r.Close()
	if _, err := r.Read(make([]byte, 1)); err == nil {
		t.Error("Read after Close succeeded")
	}
}
