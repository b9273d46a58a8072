package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/appstore-dev/appstore/apitype"
)

// Volume and VolumeList are the wire types of the apps' data volumes.
type (
	Volume     = apitype.Volume
	VolumeList = apitype.VolumeList
)

// Volumes lists the apps' data volumes (GET /api/v1/volumes), of the app
// slug only when slug is not empty.
func (c *Client) Volumes(ctx context.Context, slug string) (*VolumeList, error) {
	q := url.Values{}
	if slug != "" {
		q.Set("repository", slug)
	}
	return doJSON[VolumeList](ctx, c, http.MethodGet, apiPath("volumes"), q, nil)
}

// RemoveVolume deletes the app's data volume and its data (DELETE
// /api/v1/repositories/{slug}/volume); a conflict while the app runs.
func (c *Client) RemoveVolume(ctx context.Context, slug string) error {
	_, err := doJSON[struct{}](ctx, c, http.MethodDelete, apiPath("repositories", slug, "volume"), nil, nil)
	return err
}

// PurgeRepository removes the repository as DeleteRepository does, and
// its data volume with it (?purge=true).
func (c *Client) PurgeRepository(ctx context.Context, slug string) error {
	_, err := doJSON[struct{}](ctx, c, http.MethodDelete, apiPath("repositories", slug), url.Values{"purge": {"true"}}, nil)
	return err
}
