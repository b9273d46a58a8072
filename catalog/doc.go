// Package catalog holds the domain of appstore: repositories, tags, builds,
// launches, services and events, their validation rules and the errors the
// stores return. It is pure (standard library only) so that the CLI, the TUI
// and the client can share these types with the daemon; the PostgreSQL
// implementation lives in catalog/store.
package catalog
