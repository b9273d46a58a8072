package apitype

// Sizes of GET /api/v1/repositories/{slug}/thumbnail?size=.
const (
	ThumbnailSize1x = "1x" // the card's size, 320×200 (the default)
	ThumbnailSize2x = "2x" // twice that, 640×400, for dense screens
)

// ThumbnailRefresh is the answer of POST /api/v1/repositories/{slug}/thumbnail:
// a new thumbnail is being taken of the app's running launch, which was
// started for it when the app was not running (Launched). The outcome
// arrives as an event: repository.updated (changed: thumbnail) when the
// picture is stored, ingestion.warning (source: thumbnail) when it could
// not be taken.
type ThumbnailRefresh struct {
	Repository string `json:"repository"`
	LaunchID   int64  `json:"launch_id"`
	Launched   bool   `json:"launched"`
	// Status is "queued".
	Status string `json:"status"`
}
