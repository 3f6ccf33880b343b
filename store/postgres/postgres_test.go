package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"sync/atomic"
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
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return openSchema(t, "incidentbot_test_"+hex.EncodeToString(b))
}

// openSchema opens a store on schema, which it drops when the test ends.
func openSchema(t *testing.T, schema string) *postgres.Store {
	t.Helper()
	url := testURL(t)
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

// replicas is one store made of two, on the same schema, as two replicas
// see the database: Updates and Views take turns between them, so every
// case of the suite runs transactions of both at once (each replica's own
// Updates are serialized by its writer; the two replicas' are not).
type replicas struct {
	s    [2]*postgres.Store
	next atomic.Uint32
}

func (r *replicas) pick() *postgres.Store { return r.s[r.next.Add(1)%2] }

func (r *replicas) Update(ctx context.Context, fn func(tx bot.Tx) error) error {
	return r.pick().Update(ctx, fn)
}

func (r *replicas) View(ctx context.Context, fn func(tx bot.Tx) error) error {
	return r.pick().View(ctx, fn)
}

func (r *replicas) PeekGroup(ctx context.Context, receiver, groupKey string) (bot.GroupState, bool, bool, error) {
	return r.pick().PeekGroup(ctx, receiver, groupKey)
}

// twoReplicas opens a store in a schema of its own and a second one on the
// same schema, as two replicas of one deployment would be.
func twoReplicas(t *testing.T) (a, b *postgres.Store) {
	t.Helper()
	a = open(t)
	var schema string
	if err := a.Pool().QueryRow(context.Background(), "SELECT current_schema()").Scan(&schema); err != nil {
		t.Fatal(err)
	}
	b, err := postgres.Open(context.Background(), testURL(t), postgres.Options{Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return a, b
}

func TestConformanceTwoReplicas(t *testing.T) {
	testURL(t)
	storetest.Run(t, func(t *testing.T) bot.Store {
		a, b := twoReplicas(t)
		return &replicas{s: [2]*postgres.Store{a, b}}
	})
}
