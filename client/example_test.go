package client_test

import (
	"context"
	"fmt"

	"github.com/appstore-dev/appstore/client"
	"github.com/appstore-dev/appstore/client/clienttest"
)

// A Client needs no set-up: its zero value talks to appstored on
// http://127.0.0.1:7070. Here it talks to an in-memory stand-in.
func Example() {
	daemon := clienttest.Start()
	defer daemon.Close()
	c := &client.Client{BaseURL: daemon.URL}
	ctx := context.Background()

	repo, err := c.AddRepository(ctx, client.AddRepositoryRequest{
		GitURL: "https://github.com/acme/dash.git",
		Tags:   []string{"category:dashboard"},
	})
	if err != nil {
		fmt.Println("add:", err)
		return
	}
	fmt.Println("registered", repo.Slug, "status", repo.IngestStatus)

	// The same repository under another spelling is a conflict that names
	// the existing slug.
	_, err = c.AddRepository(ctx, client.AddRepositoryRequest{GitURL: "git@github.com:acme/dash.git"})
	if client.IsConflict(err) {
		fmt.Println("conflict:", err)
	}

	// AllRepositories walks every page.
	for r, err := range c.AllRepositories(ctx, client.ListRepositoriesOptions{Tags: []string{"category:dashboard"}}) {
		if err != nil {
			fmt.Println("list:", err)
			return
		}
		fmt.Println("listed", r.Slug, r.Tags[0].String(), r.Tags[0].Source)
	}

	_, err = c.Repository(ctx, "nope")
	fmt.Println("not found:", client.IsNotFound(err), err)

	// Output:
	// registered dash status queued
	// conflict: git@github.com:acme/dash.git is already registered as "dash"
	// listed dash category:dashboard manual
	// not found: true repository "nope" not found
}
