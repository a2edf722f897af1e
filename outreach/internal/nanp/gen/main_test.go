package main

import (
	"bytes"
	"os"
	"testing"
)

// TestTableUpToDate fails when table.go is not what the phonenumbers
// version in go.mod gives: run go generate in outreach/internal/nanp.
func TestTableUpToDate(t *testing.T) {
	want, err := generate()
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("../table.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Error("outreach/internal/nanp/table.go is out of date: run go generate ./outreach/internal/nanp")
	}
}
