package store

import (
	"context"
	"fmt"
)

// Counts are how many entities of each kind the catalog holds, by status:
// the figures /metrics exposes as gauges.
type Counts struct {
	Repositories map[string]int64 // by ingest status
	Builds       map[string]int64 // by build status
	Launches     map[string]int64 // by launch status
	Services     map[string]int64 // by health status
	// LastEventID is the id of the newest event in the log (0 when empty).
	LastEventID int64
}

// Counts reads the catalog's counts in one statement. Each table's status
// column is small and indexed or cheap to scan; a scrape every 15 s costs
// a few milliseconds even with 100 000 repositories.
func (s *Store) Counts(ctx context.Context) (*Counts, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT 'repositories', ingest_status, count(*) FROM repositories GROUP BY ingest_status
		UNION ALL SELECT 'builds', status, count(*) FROM builds GROUP BY status
		UNION ALL SELECT 'launches', status, count(*) FROM launches GROUP BY status
		UNION ALL SELECT 'services', status, count(*) FROM services GROUP BY status
		UNION ALL SELECT 'events', '', coalesce(max(id), 0) FROM events`)
	if err != nil {
		return nil, fmt.Errorf("count catalog: %w", mapError(err))
	}
	defer rows.Close()
	c := &Counts{
		Repositories: map[string]int64{}, Builds: map[string]int64{},
		Launches: map[string]int64{}, Services: map[string]int64{},
	}
	for rows.Next() {
		var table, status string
		var n int64
		if err := rows.Scan(&table, &status, &n); err != nil {
			return nil, fmt.Errorf("count catalog: %w", mapError(err))
		}
		switch table {
		case "repositories":
			c.Repositories[status] = n
		case "builds":
			c.Builds[status] = n
		case "launches":
			c.Launches[status] = n
		case "services":
			c.Services[status] = n
		case "events":
			c.LastEventID = n
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("count catalog: %w", mapError(err))
	}
	return c, nil
}
