package simphone

import (
	"cmp"
	"slices"
	"time"
)

// entry is a queued value due at a time; seq breaks ties in the order the
// values were queued.
type entry[T any] struct {
	at  time.Time
	seq uint64
	v   T
}

func compareEntries[T any](a, b entry[T]) int {
	if c := a.at.Compare(b.at); c != 0 {
		return c
	}
	return cmp.Compare(a.seq, b.seq)
}

// queue holds values in due order. The Network's mutex guards it.
type queue[T any] struct {
	items []entry[T]
}

// push adds e and reports whether it became the head.
func (q *queue[T]) push(e entry[T]) bool {
	i, _ := slices.BinarySearchFunc(q.items, e, compareEntries[T])
	q.items = slices.Insert(q.items, i, e)
	return i == 0
}

// next returns the due time of the head.
func (q *queue[T]) next() (time.Time, bool) {
	if len(q.items) == 0 {
		return time.Time{}, false
	}
	return q.items[0].at, true
}

// popDue removes and returns the entries due at or before now, in order.
func (q *queue[T]) popDue(now time.Time) []entry[T] {
	n := 0
	for n < len(q.items) && !q.items[n].at.After(now) {
		n++
	}
	if n == 0 {
		return nil
	}
	out := slices.Clone(q.items[:n])
	q.items = slices.Delete(q.items, 0, n)
	return out
}

func values[T any](es []entry[T]) []T {
	if len(es) == 0 {
		return nil
	}
	vs := make([]T, len(es))
	for i, e := range es {
		vs[i] = e.v
	}
	return vs
}
