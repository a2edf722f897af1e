package verify_test

import (
	"context"

	"github.com/patient-outreach/sms/outreach/sqlitestore"
)

func sqlitestoreOpen(path string) (*sqlitestore.Store, error) {
	return sqlitestore.Open(context.Background(), path)
}
