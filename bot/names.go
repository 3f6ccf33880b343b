package bot

import "context"

// Names returns how to write the people with these user IDs for readers
// outside the chat, as the postmortem draft writes them (the Directory's
// display names), by ID; IDs it cannot name are left out. Without a
// Directory it names nobody. Lookups are bounded as for the draft.
func (s *Service) Names(ctx context.Context, ids []string) map[string]string {
	return ResolveNames(ctx, s.directory, ids)
}
