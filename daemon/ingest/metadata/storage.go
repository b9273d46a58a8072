package metadata

import (
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/internal/textutil"
)

// storageValue reads tags.yaml's storage field: a path,
//
//	storage: /data
//
// or a mapping with the path and the size the app needs,
//
//	storage:
//	  path: /data
//	  size: 1g
//
// A storage declaration that cannot be used is an error: an app that
// counts on keeping its data must not run without it unnoticed.
func storageValue(file string, v *yaml.Node) (*catalog.Storage, []string, error) {
	v = deref(v)
	var warnings []string
	var p, size string
	sizeLine := v.Line
	switch v.Kind {
	case yaml.ScalarNode:
		if v.Tag == "!!null" {
			return nil, nil, nil
		}
		p = v.Value
	case yaml.MappingNode:
		for i := 0; i+1 < len(v.Content); i += 2 {
			k, val := v.Content[i], v.Content[i+1]
			s, ok := scalarString(val)
			switch strings.ToLower(k.Value) {
			case "path":
				if !ok {
					return nil, warnings, fileError(file, val.Line, "storage path must be a directory such as /data, found %s", kindName(val))
				}
				p = s
			case "size":
				if !ok {
					return nil, warnings, fileError(file, val.Line, "storage size must be a size such as 1g, found %s", kindName(val))
				}
				size, sizeLine = s, val.Line
			default:
				warnings = append(warnings, fileError(file, k.Line, "storage: unknown field %q ignored (known fields: path, size)", textutil.Truncate(k.Value, 40)).Error())
			}
		}
		if strings.TrimSpace(p) == "" {
			return nil, warnings, fileError(file, v.Line, "storage has no path: give the directory the app keeps its data in (path: /data)")
		}
	default:
		return nil, warnings, fileError(file, v.Line, "storage must be a directory (storage: /data) or a mapping with path and size, found %s", kindName(v))
	}
	clean, err := catalog.ValidateStoragePath(p)
	if err != nil {
		return nil, warnings, fileError(file, v.Line, "%s", err.Error())
	}
	st := &catalog.Storage{Path: clean}
	if strings.TrimSpace(size) != "" {
		n, err := catalog.ParseSize(size)
		if err != nil {
			return nil, warnings, fileError(file, sizeLine, "storage %v", err)
		}
		st.SizeBytes = n
	}
	return st, warnings, nil
}
