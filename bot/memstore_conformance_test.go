package bot_test

import (
	"testing"

	"github.com/incidentbot/incidentbot/bot"
	"github.com/incidentbot/incidentbot/store/storetest"
)

// TestMemStoreConformance: the in-memory store the worker, ingest and
// engine tests run on keeps the same contract as the real stores, so that
// what those tests prove holds on bbolt and PostgreSQL too.
func TestMemStoreConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) bot.Store { return bot.NewMemStore() })
}
