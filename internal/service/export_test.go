package service

// HotLoadWaits is how many submits waited for another's load of their
// record's hot document.
func HotLoadWaits(s *Service) int64 { return s.hot.waits.Load() }

// HotRest is how long a record whose hot document was dropped soon after
// its load first rests.
const HotRest = hotRest

// KeepHotDocs takes the hot documents of a table as they are now; the
// returned func puts them back, live, even if a write dropped them
// meanwhile: as if a submit had prepared on them before that write
// committed, the race the store's checks must catch.
func KeepHotDocs(s *Service, tableID int64) (restore func()) {
	s.hot.mu.Lock()
	kept := map[hotKey]*hotDoc{}
	for k, d := range s.hot.docs {
		if k.table == tableID {
			kept[k] = d
		}
	}
	s.hot.mu.Unlock()
	return func() {
		s.hot.mu.Lock()
		defer s.hot.mu.Unlock()
		for k, d := range kept {
			d.dead.Store(false)
			s.hot.docs[k] = d
		}
	}
}

// QueuedWrites is how many writes wait for the next group commit batch.
func QueuedWrites(s *Service) int {
	s.group.mu.Lock()
	defer s.group.mu.Unlock()
	return len(s.group.queue)
}

// QueuedTableWrites is how many writes wait for the next batch of a
// table's group (commit_table.go); 0 when the table has none.
func QueuedTableWrites(s *Service, tableID int64) int {
	s.tables.mu.Lock()
	c := s.tables.groups[tableID]
	s.tables.mu.Unlock()
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.queue)
}

// TableGroups is how many tables have a group (commit_table.go).
func TableGroups(s *Service) int { return s.tables.len() }
