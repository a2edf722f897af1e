package fhirio_test

import (
	"sync"
	"testing"

	"github.com/google/fhir/go/fhirversion"
	"github.com/google/fhir/go/jsonformat"
)

// The Go-side validator of what fhirio writes: google/fhir's R4
// jsonformat, a test dependency only (fhirio's own code decodes and
// encodes with samply's models, see doc.go). NewUnmarshaller turns its
// extended validation on (NewUnmarshallerWithoutValidation would check
// primitives only). As it parses JSON into R4 protos it refuses unknown
// elements, values of the wrong JSON type, two value[x] of one choice,
// codes outside a required value set (status, item type, request
// method), malformed primitives (date, dateTime, instant, decimal,
// integer ranges; id, code, oid, uuid by the spec's regexes; uri, url
// and canonical that do not parse; strings with control characters or
// over 1 MB), missing required elements (min cardinality 1), and
// references to resource types the element does not allow; a Bundle
// entry's resource is parsed and validated the same way. It does not
// evaluate the spec's FHIRPath invariants (que-*, bdl-*, ...) nor
// extensible bindings.

var goUnmarshaller = sync.OnceValues(func() (*jsonformat.Unmarshaller, error) {
	return jsonformat.NewUnmarshaller("UTC", fhirversion.R4)
})

// goValidate parses one resource with google/fhir's R4 jsonformat and
// returns what it rejects (every error, each with its element's path).
func goValidate(data []byte) error {
	u, err := goUnmarshaller()
	if err != nil {
		return err
	}
	_, err = u.Unmarshal(data)
	return err
}

// TestWrittenResourcesValidateGo parses every kind of resource the
// package writes (see written) with google/fhir's R4 jsonformat, its
// validation on; any error fails the test. It needs nothing installed,
// so it always runs (TestWrittenResourcesValidate is the npm side).
func TestWrittenResourcesValidateGo(t *testing.T) {
	for _, r := range written(t) {
		if err := goValidate(r.data); err != nil {
			t.Errorf("jsonformat rejects %s: %v\n%s", r.what, err, r.data)
		}
	}
}
