package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/appstore-dev/appstore/catalog"
)

// StorageOver writes launch.storage_over: the data volume of the running
// launch l holds used bytes, over the size its app declares. The launch
// keeps running (the engine cannot cap a local volume); message says what
// happens next and what to do.
func (s *Store) StorageOver(ctx context.Context, l *catalog.Launch, used, size int64, message string) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		e := launchEvent(l, map[string]any{"used_bytes": used, "size_bytes": size, "message": message})
		e.Type = "launch.storage_over"
		if _, err := insertEvent(ctx, tx, e); err != nil {
			return fmt.Errorf("record storage over its size: %w", err)
		}
		return nil
	})
}
