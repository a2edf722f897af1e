// Package chunks writes and reads a file as numbered chunks, the way the
// SQL stores (sqlitestore, pgstore) keep their named files: rows of a
// chunk table, so that neither writing nor reading holds the file in
// memory.
package chunks

import (
	"errors"
	"fmt"
	"io"
)

// Size is the length of every chunk but the last.
const Size = 512 << 10

// Write reads r to its end and passes each chunk of Size bytes (the last
// one shorter, and none for an empty r) to put, numbered from 0. The
// slice passed is reused: put must not keep it. It returns the number
// of bytes read; an error of r or of put ends it and is returned as it
// is.
func Write(r io.Reader, put func(seq int, data []byte) error) (int64, error) {
	buf := make([]byte, Size)
	var total int64
	for seq := 0; ; seq++ {
		n, err := io.ReadFull(r, buf)
		if n > 0 {
			if perr := put(seq, buf[:n]); perr != nil {
				return total, perr
			}
			total += int64(n)
		}
		switch {
		case err == io.EOF || err == io.ErrUnexpectedEOF:
			return total, nil
		case err != nil:
			return total, err
		}
	}
}

// ErrMissing reports a chunk that is not there although the file's size
// says it should be: the file was deleted or replaced while being read.
var ErrMissing = errors.New("a chunk is missing: the file was deleted or replaced while being read")

// NewReader returns a reader of a file of size bytes whose chunks get
// returns, from 0 up, until size bytes were read. get returns
// ErrMissing (or an error wrapping it) for a chunk that is not there.
// After Close, Read fails.
func NewReader(size int64, get func(seq int) ([]byte, error)) io.ReadCloser {
	return &reader{left: size, get: get}
}

type reader struct {
	left   int64 // bytes not yet fetched
	buf    []byte
	seq    int
	get    func(seq int) ([]byte, error)
	closed bool
}

func (r *reader) Read(p []byte) (int, error) {
	if r.closed {
		return 0, errors.New("read of a closed file")
	}
	for len(r.buf) == 0 {
		if r.left <= 0 {
			return 0, io.EOF
		}
		data, err := r.get(r.seq)
		if err != nil {
			return 0, fmt.Errorf("chunk %d: %w", r.seq, err)
		}
		if len(data) == 0 || int64(len(data)) > r.left {
			return 0, fmt.Errorf("chunk %d has %d bytes, with %d left to read: %w", r.seq, len(data), r.left, ErrMissing)
		}
		r.seq++
		r.left -= int64(len(data))
		r.buf = data
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}

func (r *reader) Close() error {
	r.closed = true
	r.buf = nil
	return nil
}
