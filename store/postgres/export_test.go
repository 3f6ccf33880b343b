package postgres

// Queued is how many Updates wait for a writer, for tests that need
// requests to share a batch.
func Queued(s *Store) int { return len(s.b.queue) }
