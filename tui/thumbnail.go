package tui

import (
	"context"
	"image"

	"github.com/appstore-dev/appstore/client"
	"github.com/appstore-dev/appstore/internal/termimage"
)

// ThumbnailSource is a Source that can give an app's thumbnail (the
// image bytes at the card's size). ClientSource is one.
type ThumbnailSource interface {
	Thumbnail(ctx context.Context, slug string) ([]byte, error)
}

// Thumbnail returns the app's thumbnail at the card's size (320×200 WebP).
func (s ClientSource) Thumbnail(ctx context.Context, slug string) ([]byte, error) {
	th, err := s.C.Thumbnail(ctx, slug, client.ThumbnailSize1x)
	if err != nil {
		return nil, err
	}
	return th.Data, nil
}

// thumbnailColumns is the widest the detail view draws a thumbnail.
const thumbnailColumns = 40

// loadThumbnail reads and decodes r's thumbnail unless it is the one
// shown already (then it returns its URL and no picture). A thumbnail
// that cannot be read is left out: it is decoration.
func loadThumbnail(ctx context.Context, src Source, r *client.Repository, shown string) (string, image.Image) {
	ts, ok := src.(ThumbnailSource)
	if !ok || r == nil || r.ThumbnailURL == "" {
		return "", nil
	}
	if r.ThumbnailURL == shown {
		return shown, nil
	}
	data, err := ts.Thumbnail(ctx, r.Slug)
	if err != nil {
		return "", nil
	}
	img, err := termimage.Decode(data)
	if err != nil {
		return "", nil
	}
	return r.ThumbnailURL, img
}

// ThumbnailURL is the thumbnail the detail view shows ("" for none).
func (d *Detail) ThumbnailURL() string { return d.thumbURL }

// thumbnail draws the app's thumbnail in half blocks, as wide as the
// view allows up to thumbnailColumns; "" when there is none.
func (d *Detail) thumbnail() string {
	if d.thumb == nil || d.width < 8 {
		return ""
	}
	pic, err := termimage.Render(d.thumb, min(thumbnailColumns, d.width-2), termimage.HalfBlocks)
	if err != nil {
		return ""
	}
	return pic
}
