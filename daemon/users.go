package daemon

import (
	"context"
	"log/slog"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/catalog/store"
)

// AddUser creates an account in the catalog of cfg without a running
// daemon (appstored users add: the first admin of a server), applying the
// migrations first, and returns its personal token: the only time it is
// seen.
func AddUser(ctx context.Context, cfg Config, name string, role catalog.Role) (string, error) {
	token, hash := catalog.NewUserToken()
	err := offline(ctx, cfg, func(st *store.Store, logger *slog.Logger) error {
		if _, err := store.Migrate(ctx, st.Pool(), logger); err != nil {
			return err
		}
		_, err := st.CreateUser(ctx, store.NewUser{Name: name, Role: role, TokenHash: hash})
		return err
	})
	if err != nil {
		return "", err
	}
	return token, nil
}

// ReplaceUserToken gives an account a new personal token without a
// running daemon (appstored users token: an admin who lost theirs) and
// returns it.
func ReplaceUserToken(ctx context.Context, cfg Config, name string) (string, error) {
	token, hash := catalog.NewUserToken()
	err := offline(ctx, cfg, func(st *store.Store, logger *slog.Logger) error {
		if _, err := store.Migrate(ctx, st.Pool(), logger); err != nil {
			return err
		}
		_, err := st.ReplaceUserToken(ctx, name, hash)
		return err
	})
	if err != nil {
		return "", err
	}
	return token, nil
}
