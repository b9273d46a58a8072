package apitype

import "github.com/appstore-dev/appstore/catalog"

// Stargazers is the answer of GET /api/v1/repositories/{slug}/stargazers:
// who starred the app, newest star first.
type (
	Stargazers = catalog.Stargazers
	Starring   = catalog.Starring
)
