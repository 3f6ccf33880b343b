package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"

	"github.com/incidentbot/incidentbot/bot"
	"github.com/incidentbot/incidentbot/store/postgres"
	"github.com/incidentbot/incidentbot/store/storetest"
	"github.com/jackc/pgx/v5"
)

// open returns a store in a schema of its own, dropped when the test ends,
// so that tests and packages running at once never share tables. Without
// INCIDENTBOT_TEST_POSTGRES the test is skipped.
func open(t *testing.T) *postgres.Store {
	t.Helper()
	url := testURL(t)
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	schema := "incidentbot_test_" + hex.EncodeToString(b)
	s, err := postgres.Open(context.Background(), url, postgres.Options{Schema: schema})
	if err != nil {
		t.Fatalf("Open(%s): %v", url, err)
	}
	t.Cleanup(func() {
		_, err := s.Pool().Exec(context.Background(), "DROP SCHEMA "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
		if err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
		s.Close()
	})
	return s
}

// testURL is the database the tests use; without one the test is
// skipped with a one-line reason.
func testURL(t *testing.T) string {
	t.Helper()
	url := os.Getenv("INCIDENTBOT_TEST_POSTGRES")
	if url == "" {
		t.Skip("INCIDENTBOT_TEST_POSTGRES is not set (a postgres:// URL): PostgreSQL store not tested")
	}
	return url
}

func TestConformance(t *testing.T) {
	testURL(t)
	storetest.Run(t, func(t *testing.T) bot.Store { return open(t) })
}
