package store

import (
	"context"
	"fmt"
)

// RecordLaunchAddress stores where an active launch's app now answers: a
// Swarm task rescheduled to another node (or port) keeps its launch. It is
// not a status change and writes no event; it reports false when the launch
// is no longer starting or running.
func (s *Store) RecordLaunchAddress(ctx context.Context, id int64, hostPort int, instanceURL string) (bool, error) {
	tag, err := s.pool.Exec(ctx, `
		UPDATE launches SET host_port = nullif($2, 0), instance_url = $3
		WHERE id = $1 AND status IN ('starting', 'running')`, id, hostPort, instanceURL)
	if err != nil {
		return false, fmt.Errorf("record address of launch %d: %w", id, mapError(err))
	}
	return tag.RowsAffected() == 1, nil
}
