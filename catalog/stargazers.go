package catalog

import "time"

// Stargazers are the users who starred an app, newest star first.
type Stargazers struct {
	Repository string `json:"repository"`
	// StarCount is every star of the app; Users may hold fewer (the
	// newest Limit).
	StarCount int64      `json:"star_count"`
	Users     []Starring `json:"users"`
}

// Starring is one user's star of an app.
type Starring struct {
	User      string    `json:"user"`
	StarredAt time.Time `json:"starred_at"`
}

// Limits of a page of stargazers.
const (
	DefaultStargazersLimit = 100
	MaxStargazersLimit     = 1000
)
