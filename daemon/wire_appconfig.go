package daemon

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/appstore-dev/appstore/daemon/api"
	"github.com/appstore-dev/appstore/daemon/appconfig"
)

// secretKeyPath is the key file of the apps' secrets: --secret-key-file,
// else secrets.key in the data directory.
func (c Config) secretKeyPath() string {
	if c.SecretKeyFile != "" {
		return c.SecretKeyFile
	}
	return filepath.Join(c.DataDir, appconfig.KeyFileName)
}

// wireAppConfig opens the key of the apps' secrets (creating it in the
// data directory at the first start; a --secret-key-file must exist) and
// serves the apps' variables and secrets. The runner and the builder,
// wired after, get the service. Only the api role (which seals secrets) and
// the runner role (which opens them) need the key.
func (d *Daemon) wireAppConfig(ctx context.Context) error {
	if !d.cfg.HasRole(RoleAPI) && !d.cfg.HasRole(RoleRunner) {
		return nil // a worker never reads a secret: it needs no key
	}
	keys, err := appconfig.OpenKeyring(d.cfg.secretKeyPath(), d.cfg.SecretKeyFile == "", d.logger.With("component", "secrets"))
	if err != nil {
		return fmt.Errorf("secrets: %w", err)
	}
	d.appConfig = &appconfig.Service{Store: d.Store, Keys: keys, Logger: d.logger.With("component", "secrets")}
	d.api.AppConfig = &api.AppConfig{Store: d.Store, Service: d.appConfig}
	return nil
}

// RotateSecretKey moves every app secret to a new key and replaces the key
// file (`appstored secrets rotate-key`). See appconfig.RotateKey.
func RotateSecretKey(ctx context.Context, cfg Config) (*appconfig.Rotation, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	d := &Daemon{cfg: cfg, logger: cfg.Logger}
	defer d.runClosers(context.WithoutCancel(ctx)) //nolint:errcheck
	if err := d.openStore(ctx); err != nil {
		return nil, err
	}
	return appconfig.RotateKey(ctx, d.Store, cfg.secretKeyPath())
}
