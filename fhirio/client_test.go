package fhirio_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/samply/golang-fhir-models/fhir-models/fhir"

	"github.com/patient-outreach/sms/fhirio"
)

// fhirServer answers the Bundles posted to it with the statuses given,
// in turn (the last one again once they run out).
type fhirServer struct {
	mu       sync.Mutex
	answers  []answer
	requests int
	token    string
	ctype    string
}

type answer struct {
	status     int
	retryAfter string
	body       string
}

func (s *fhirServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	a := s.answers[min(s.requests, len(s.answers)-1)]
	s.requests++
	s.token, s.ctype = r.Header.Get("Authorization"), r.Header.Get("Content-Type")
	s.mu.Unlock()
	_, _ = io.Copy(io.Discard, r.Body)
	if a.retryAfter != "" {
		w.Header().Set("Retry-After", a.retryAfter)
	}
	w.WriteHeader(a.status)
	_, _ = io.WriteString(w, a.body)
}

const outcome = `{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"invalid","diagnostics":"Questionnaire not found"}]}`

func TestClientPost(t *testing.T) {
	okBundle := `{"resourceType":"Bundle","type":"transaction-response","entry":[{"response":{"status":"201 Created"}},{"response":{"status":"200 OK"}}]}`
	batch := `{"resourceType":"Bundle","type":"batch-response","entry":[{"response":{"status":"201 Created"}},{"response":{"status":"400 Bad Request","outcome":` + outcome + `}}]}`
	for _, tc := range []struct {
		name     string
		answers  []answer
		requests int
		sleeps   []time.Duration
		check    func(error) bool
	}{
		{"accepted", []answer{{200, "", okBundle}}, 1, nil, func(err error) bool { return err == nil }},
		{"429, 500, then accepted", []answer{{429, "7", ""}, {500, "", outcome}, {200, "", okBundle}}, 3,
			[]time.Duration{7 * time.Second, 2 * time.Second}, func(err error) bool { return err == nil }},
		{"an entry refused", []answer{{200, "", batch}}, 1, nil, func(err error) bool {
			var be *fhirio.BundleError
			return errors.As(err, &be) && len(be.Entries) == 1 && be.Entries[0].Index == 1 &&
				be.Entries[0].Status == "400 Bad Request" && be.Entries[0].Diagnostics == "Questionnaire not found"
		}},
		{"refused whole: not retried", []answer{{422, "", outcome}}, 1, nil, func(err error) bool {
			var se *fhirio.StatusError
			return errors.As(err, &se) && se.Status == 422 && se.Diagnostics == "Questionnaire not found"
		}},
		{"unavailable after the retries", []answer{{503, "", "down"}}, 4, []time.Duration{time.Second, 2 * time.Second, 4 * time.Second}, func(err error) bool {
			var se *fhirio.StatusError
			return errors.As(err, &se) && se.Status == 503
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &fhirServer{answers: tc.answers}
			srv := httptest.NewServer(s)
			defer srv.Close()
			var sleeps []time.Duration
			c := &fhirio.Client{BaseURL: srv.URL + "/fhir/", Token: "t0k3n", HTTPClient: srv.Client(),
				Sleep: func(_ context.Context, d time.Duration) error { sleeps = append(sleeps, d); return nil }}
			_, err := c.Post(context.Background(), fhir.Bundle{Type: fhir.BundleTypeTransaction})
			if !tc.check(err) {
				t.Errorf("err %v", err)
			}
			if s.requests != tc.requests || len(sleeps) != len(tc.sleeps) {
				t.Fatalf("%d requests, sleeps %v; want %d, %v", s.requests, sleeps, tc.requests, tc.sleeps)
			}
			for i := range sleeps {
				if sleeps[i] != tc.sleeps[i] {
					t.Errorf("sleeps %v, want %v", sleeps, tc.sleeps)
				}
			}
			if s.token != "Bearer t0k3n" || !strings.HasPrefix(s.ctype, "application/fhir+json") {
				t.Errorf("headers: Authorization %q, Content-Type %q", s.token, s.ctype)
			}
		})
	}
}
