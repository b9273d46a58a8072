package store

import (
	"context"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/appstore-dev/appstore/catalog"
)

// checkOverrides checks the port, context, profile and reset of an update.
func checkOverrides(u *RepositoryUpdate) error {
	if u.Port != nil {
		if err := catalog.ValidatePort(*u.Port); err != nil {
			return err
		}
	}
	if u.Context != nil {
		c, err := catalog.CleanContextPath(*u.Context)
		if err != nil {
			return err
		}
		u.Context = &c
	}
	if u.Profile != nil {
		if err := catalog.ValidateProfileName(*u.Profile); err != nil {
			return err
		}
	}
	if u.Target != nil {
		if err := catalog.CheckBuildTarget(*u.Target); err != nil {
			return err
		}
	}
	reset, err := catalog.CheckResetFields(u.Reset)
	if err != nil {
		return err
	}
	u.Reset = reset
	given := map[string]bool{"name": u.Name != nil, "description": u.Description != nil, "homepage": u.Homepage != nil,
		"branch": u.Branch != nil, "dockerfile": u.Dockerfile != nil, "context": u.Context != nil, "port": u.Port != nil, "profile": u.Profile != nil, "target": u.Target != nil}
	for _, f := range reset {
		if given[f] {
			return catalog.Invalid("reset", "%s is both set and reset: give one or the other", f)
		}
	}
	return nil
}

// resetColumns are the columns a reset puts back to their defaults: the
// requests ingestion would otherwise follow, and the branch ("" is the
// remote's HEAD). Name, description and homepage keep their value until
// the next ingestion writes what it finds.
var resetColumns = map[string]string{
	"branch": "branch = ''", "dockerfile": "requested_dockerfile = ''", "context": "requested_context = ''",
	"port": "requested_port = NULL", "profile": "requested_profile = ''", "target": "requested_target = ''",
}

// applyOverrides writes the port override and the resets of u in tx, and
// returns the fields it changed.
func applyOverrides(ctx context.Context, tx pgx.Tx, id int64, u RepositoryUpdate) ([]string, error) {
	var changed []string
	if u.Port != nil {
		_, err := tx.Exec(ctx, `UPDATE repositories SET requested_port = $2,
			manual_fields = CASE WHEN 'requested_port' = ANY(manual_fields) THEN manual_fields ELSE array_append(manual_fields, 'requested_port') END
			WHERE id = $1`, id, *u.Port)
		if err != nil {
			return nil, mapError(err)
		}
		changed = append(changed, "requested_port")
	}
	for _, f := range u.Reset {
		stored := catalog.StoredManualField(f)
		set := "manual_fields = array_remove(manual_fields, $2)"
		if c, ok := resetColumns[f]; ok {
			set += ", " + c
		}
		if _, err := tx.Exec(ctx, `UPDATE repositories SET `+set+` WHERE id = $1`, id, stored); err != nil {
			return nil, mapError(err)
		}
		changed = append(changed, "reset:"+f)
	}
	return slices.Clip(changed), nil
}
