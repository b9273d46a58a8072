package cli

import (
	"maps"
	"slices"
	"strings"
)

// buildArgsText prints a build's arguments as KEY=value, by name.
func buildArgsText(args map[string]string) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(args)) {
		parts = append(parts, k+"="+args[k])
	}
	return strings.Join(parts, " ")
}
