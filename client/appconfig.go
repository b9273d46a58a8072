package client

import (
	"context"
	"errors"
	"net/http"

	"github.com/appstore-dev/appstore/apitype"
)

// An app's variables and secrets.
type (
	AppConfig      = apitype.AppConfig
	EnvVar         = apitype.EnvVar
	EnvChange      = apitype.EnvChange
	SecretInfo     = apitype.SecretInfo
	SecretList     = apitype.SecretList
	SecretValue    = apitype.SecretValue
	DeclaredEnv    = apitype.DeclaredEnv
	DeclaredConfig = apitype.DeclaredConfig
)

// CodeConfigMissing: a launch was refused because a required variable or
// secret is not set.
const CodeConfigMissing = apitype.CodeConfigMissing

// IsConfigMissing reports whether a launch was refused because the app's
// required configuration is not set (the message says what to run).
func IsConfigMissing(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Code == CodeConfigMissing
}

// AppConfig returns the app's variables (with values), its secrets' names,
// what it declares and what is missing.
func (c *Client) AppConfig(ctx context.Context, slug string) (*AppConfig, error) {
	return doJSON[AppConfig](ctx, c, http.MethodGet, apiPath("repositories", slug, "env"), nil, nil)
}

// SetEnv sets variables of the app, all or none; they apply from its next
// launch.
func (c *Client) SetEnv(ctx context.Context, slug string, vars map[string]string) (*AppConfig, error) {
	return doJSON[AppConfig](ctx, c, http.MethodPatch, apiPath("repositories", slug, "env"), nil, EnvChange{Set: vars})
}

// UnsetEnv removes variables of the app; the answer's NotSet names those
// that were not set.
func (c *Client) UnsetEnv(ctx context.Context, slug string, names []string) (*AppConfig, error) {
	return doJSON[AppConfig](ctx, c, http.MethodPatch, apiPath("repositories", slug, "env"), nil, EnvChange{Unset: names})
}

// Secrets returns the names and update times of the app's secrets.
func (c *Client) Secrets(ctx context.Context, slug string) (*SecretList, error) {
	return doJSON[SecretList](ctx, c, http.MethodGet, apiPath("repositories", slug, "secrets"), nil, nil)
}

// SetSecret sets the app's secret name to value (encrypted at rest, never
// answered back); it applies from the app's next launch and build.
func (c *Client) SetSecret(ctx context.Context, slug, name, value string) (*SecretInfo, error) {
	return doJSON[SecretInfo](ctx, c, http.MethodPut, apiPath("repositories", slug, "secrets", name), nil, SecretValue{Value: value})
}

// DeleteSecret removes the app's secret name.
func (c *Client) DeleteSecret(ctx context.Context, slug, name string) error {
	_, err := doJSON[struct{}](ctx, c, http.MethodDelete, apiPath("repositories", slug, "secrets", name), nil, nil)
	return err
}
