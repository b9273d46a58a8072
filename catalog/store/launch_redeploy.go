package store

import (
	"context"
	"fmt"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/jackc/pgx/v5"
)

// RedeployRefused writes launch.redeploy_refused for the running launch l:
// the redeploy of its app's build was refused before anything started
// (message says why and what to do); l keeps serving, and the runner tries
// the redeploy again once the cause may have gone away.
func (s *Store) RedeployRefused(ctx context.Context, l *catalog.Launch, build int64, message string) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		e := launchEvent(l, map[string]any{"refused_build_id": build, "message": message})
		e.Type = "launch.redeploy_refused"
		if _, err := insertEvent(ctx, tx, e); err != nil {
			return fmt.Errorf("record a refused redeploy: %w", err)
		}
		return nil
	})
}
