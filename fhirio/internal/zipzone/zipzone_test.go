package zipzone

import (
	"testing"
	"time"
	_ "time/tzdata" // the zones of the table, whatever the machine has
)

// Cities on both sides of the zone lines inside states, as their counties
// keep time: El Paso is on Mountain time, Dallas on Central; Florida's
// panhandle west of the Apalachicola on Central; Idaho's panhandle on
// Pacific; Malheur County, Oregon, on Mountain; Michigan's Gogebic County
// on Central (America/Menominee); Evansville, Indiana, on Central;
// Goodland, Kansas, North Dakota's Dickinson and South Dakota's Rapid City
// on Mountain; Nebraska's North Platte on Central; Chattanooga on Eastern
// and Nashville on Central.
func TestOf(t *testing.T) {
	for _, tc := range []struct{ zip, want string }{
		{"79901", "America/Denver"},
		{"75201", "America/Chicago"},
		{"32501", "America/Chicago"},
		{"32301", "America/New_York"},
		{"83814", "America/Los_Angeles"},
		{"83702", "America/Boise"},
		{"97914", "America/Boise"},
		{"49938", "America/Menominee"},
		{"47720", "America/Chicago"},
		{"46201", "America/Indiana/Indianapolis"},
		{"67735", "America/Denver"},
		{"58601", "America/Denver"},
		{"57701", "America/Denver"},
		{"69101", "America/Chicago"},
		{"37402", "America/New_York"},
		{"37201", "America/Chicago"},
		{"37201-1234", "America/Chicago"},
		{"10001", "America/New_York"},
		{"96910", "Pacific/Guam"},
		{"00000", ""},
		{"7990", ""},
		{"799011", ""},
		{"7990A", ""},
		{"37201 1234", ""},
		{"", ""},
	} {
		if got := Of(tc.zip); got != tc.want {
			t.Errorf("Of(%q) = %q, want %q", tc.zip, got, tc.want)
		}
	}
}

// Every zone of the table is one Go knows.
func TestZonesLoad(t *testing.T) {
	seen := map[string]bool{}
	for _, m := range []map[string]string{prefixes, codes} {
		for _, z := range m {
			if seen[z] {
				continue
			}
			seen[z] = true
			if _, err := time.LoadLocation(z); err != nil {
				t.Errorf("zone %q: %v", z, err)
			}
		}
	}
	if len(prefixes) < 800 || len(codes) < 1000 {
		t.Errorf("%d prefixes and %d codes: the table is cut short", len(prefixes), len(codes))
	}
}
