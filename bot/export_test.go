package bot

import "context"

// NewMemStore hands the external tests (package bot_test) the in-memory
// store the worker and engine tests run on, so that it runs the
// conformance suite in store/storetest like every other store.
func NewMemStore() Store { return newMemStore() }

// Tick runs the engine once: every timer due on its clock fires.
func (e *Engine) Tick(ctx context.Context) { e.tick(ctx) }
