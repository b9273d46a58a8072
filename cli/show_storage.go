package cli

import (
	"encoding/json"
	"fmt"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/client"
)

// hasStorage says whether the app declares a data directory.
func hasStorage(r *client.Repository) bool {
	var meta catalog.RepositoryMetadata
	return len(r.Metadata) > 0 && json.Unmarshal(r.Metadata, &meta) == nil && meta.Storage != nil
}

// printStorageUse prints the space the app's data volume takes next to the
// size it declares: on a terminal "storage used: 1.2 MiB of 64 MiB", marked
// when over (its next launch or wake is refused); in a pipe "storage
// used:\t<used bytes, -1 unknown>\t<declared bytes, 0 none>". Nothing
// before the app's first launch made the volume.
func printStorageUse(ios *IOStreams, slug string, vols []client.Volume) {
	for _, v := range vols {
		if v.Repository != slug || v.Orphaned {
			continue
		}
		if !ios.IsStdoutTTY() {
			fmt.Fprintf(ios.Out, "storage used:\t%d\t%d\n", v.UsedBytes, v.SizeLimitBytes)
			return
		}
		line := "unknown (the engine did not say)"
		if v.UsedBytes >= 0 {
			line = catalog.FormatSize(v.UsedBytes)
		}
		if v.SizeLimitBytes > 0 {
			line += " of " + catalog.FormatSize(v.SizeLimitBytes)
			if v.UsedBytes > v.SizeLimitBytes {
				line += ios.Yellow(fmt.Sprintf(" (over its size: its next launch or wake is refused; free space with `appstore volume rm %s`, or raise size under storage: in its tags.yaml)", slug))
			}
		}
		fmt.Fprintf(ios.Out, "%-14s %s\n", "storage used:", line)
		return
	}
}
