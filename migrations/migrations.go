// Package migrations holds the versioned SQL schema of the catalog, embedded
// in the daemon binary. Files are named NNNN_name.up.sql; the runner in
// catalog/store applies them in order, each in its own transaction.
package migrations

import "embed"

// FS holds every *.up.sql file of this directory.
//
//go:embed *.up.sql
var FS embed.FS
