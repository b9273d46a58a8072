package store

import (
	"context"
	"fmt"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/jackc/pgx/v5"
)

// QueuedBuild describes a build to record.
type QueuedBuild struct {
	RepositoryID   int64
	Slug           string // for the event subject
	CommitSHA      string
	DockerfilePath string
	ContextPath    string
	NoCache        bool
}

// InsertQueuedBuild records a queued build in tx and writes build.queued.
// Ingestion calls it in the transaction that marks a repository ready, so a
// ready repository always has its build; the caller enqueues the build job
// after commit (the reconciler re-enqueues it if that fails).
func InsertQueuedBuild(ctx context.Context, tx pgx.Tx, b QueuedBuild) (int64, error) {
	var id int64
	err := tx.QueryRow(ctx, `
		INSERT INTO builds (repository_id, commit_sha, dockerfile_path, context_path, no_cache)
		VALUES ($1, $2, $3, $4, $5) RETURNING id`,
		b.RepositoryID, b.CommitSHA, b.DockerfilePath, b.ContextPath, b.NoCache).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("record build: %w", mapError(err))
	}
	_, err = insertEvent(ctx, tx, EventSpec{Type: "build.queued", Subject: b.Slug, Data: map[string]any{
		"build_id": id, "repository_id": b.RepositoryID, "slug": b.Slug, "commit_sha": b.CommitSHA,
		"status": catalog.BuildQueued, "no_cache": b.NoCache,
	}})
	return id, err
}
