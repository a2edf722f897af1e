package main

import (
	"reflect"
	"testing"
)

func TestParseBench(t *testing.T) {
	out := []byte(`goos: linux
goarch: amd64
pkg: github.com/patient-outreach/sms/e2e
cpu: AMD EPYC
BenchmarkDispatch-2   	       5	 230962973 ns/op	     17319 msgs/s
BenchmarkHandleInbound/sync=FULL-2         	    3000	    412345 ns/op	       398.0 p50-µs	      1160 p99-µs	      2100 p99.9-µs
BenchmarkClaimCommit/sync=NORMAL/batch=500         	   20000	     70862 ns/op	     14383 msgs/s	   14699 B/op	     160 allocs/op
BenchmarkBroken-2 notanumber
PASS
ok  	github.com/patient-outreach/sms/e2e	12.3s
`)
	want := map[string]map[string]float64{
		"BenchmarkDispatch":                          {"ns/op": 230962973, "msgs/s": 17319},
		"BenchmarkHandleInbound/sync=FULL":           {"ns/op": 412345, "p50-µs": 398, "p99-µs": 1160, "p99.9-µs": 2100},
		"BenchmarkClaimCommit/sync=NORMAL/batch=500": {"ns/op": 70862, "msgs/s": 14383, "B/op": 14699, "allocs/op": 160},
	}
	if got := parseBench(out); !reflect.DeepEqual(got, want) {
		t.Errorf("parseBench:\n got %v\nwant %v", got, want)
	}
}
