package main

import (
	"os"

	"github.com/appstore-dev/appstore/daemon"
	"github.com/appstore-dev/appstore/daemon/registry"
)

// registryFlags reads --registry, its credentials and --swarm-constraint.
func registryFlags(cfg *daemon.Config, reg, authFile, constraints string) error {
	r, err := registry.Parse(reg)
	if err != nil {
		return err
	}
	if err := r.LoadCredentials(authFile, os.Getenv); err != nil {
		return err
	}
	cfg.Registry = r
	cfg.SwarmConstraints = splitList(constraints)
	return nil
}
