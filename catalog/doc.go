// Package catalog holds the domain of appstore: repositories, tags, builds,
// launches, services and events, every rule that says whether an input is
// valid (names, slugs, branches, paths, tags, service declarations and
// manifests), and the errors the store returns. It does no I/O and imports
// only the standard library, golang.org/x/text (to fold accents in slugs)
// and internal/textutil, so that the CLI, the TUI and the client share these
// types and rules with the daemon, and its rules are tested without a
// database. The PostgreSQL store lives in catalog/store.
package catalog
