package client

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/appstore-dev/appstore/apitype"
)

// Thumbnail sizes.
const (
	ThumbnailSize1x = apitype.ThumbnailSize1x
	ThumbnailSize2x = apitype.ThumbnailSize2x
)

// maxThumbnail bounds a thumbnail the client reads.
const maxThumbnail = 4 << 20

// ThumbnailImage is a repository's thumbnail as the daemon serves it.
type ThumbnailImage struct {
	ContentType string // image/webp
	Data        []byte
	ETag        string
}

// Thumbnail returns the thumbnail of the repository slug at size (1x, the
// default, or 2x). A repository without one is an *APIError 404 that
// says how to take one.
func (c *Client) Thumbnail(ctx context.Context, slug, size string) (*ThumbnailImage, error) {
	var q url.Values
	if size != "" {
		q = url.Values{"size": {size}}
	}
	req, err := c.NewRequest(ctx, http.MethodGet, apiPath("repositories", slug, "thumbnail"), q, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "image/webp,image/*")
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxThumbnail+1))
	if err != nil {
		return nil, fmt.Errorf("read the thumbnail of %s: %w", slug, err)
	}
	if len(data) > maxThumbnail {
		return nil, fmt.Errorf("the thumbnail of %s is larger than %d bytes", slug, maxThumbnail)
	}
	return &ThumbnailImage{ContentType: resp.Header.Get("Content-Type"), Data: data, ETag: resp.Header.Get("ETag")}, nil
}

// RefreshThumbnail asks for a new thumbnail of the repository slug, taken
// of its running launch or of one started for it. The daemon answers at
// once; the outcome is an event: repository.updated (changed thumbnail)
// or ingestion.warning (source thumbnail).
func (c *Client) RefreshThumbnail(ctx context.Context, slug string) (*ThumbnailRefresh, error) {
	return doJSON[ThumbnailRefresh](ctx, c, http.MethodPost, apiPath("repositories", slug, "thumbnail"), nil, struct{}{})
}
