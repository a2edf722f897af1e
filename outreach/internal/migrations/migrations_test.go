package migrations

import (
	"strings"
	"testing"
	"testing/fstest"
)

func TestRead(t *testing.T) {
	ms, err := Read(fstest.MapFS{
		"m/0002_more.sql": {Data: []byte("B")},
		"m/0001_init.sql": {Data: []byte("A")},
	}, "m")
	if err != nil || len(ms) != 2 || ms[0].Version != 1 || ms[0].SQL != "A" || ms[1].Name != "0002_more.sql" {
		t.Fatalf("Read = %+v, %v", ms, err)
	}
	for _, tc := range []struct {
		fs   fstest.MapFS
		want string
	}{
		{fstest.MapFS{"m/init.sql": {}}, "not named NNNN_description.sql"},
		{fstest.MapFS{"m/0001_a.sql": {}, "m/0003_c.sql": {}}, "expected version 2"},
	} {
		if _, err := Read(tc.fs, "m"); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Read: %v, want %q", err, tc.want)
		}
	}
}
