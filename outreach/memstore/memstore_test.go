package memstore_test

import (
	"context"
	"testing"

	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/memstore"
	"github.com/patient-outreach/sms/outreach/storetest"
)

func TestStore(t *testing.T) {
	storetest.Exercise(context.Background(), t, func(*testing.T) outreach.Store { return memstore.New() })
}
