package metadata

import (
	"strings"
)

// licenseFilePrefixes name license files at the root (LICENSE, LICENSE.md,
// LICENCE, COPYING, LICENSE-MIT, LICENSE-APACHE...), compared in lower case.
var licenseFilePrefixes = []string{"license", "licence", "copying"}

// maxLicenseFiles bounds how many license files are read (dual-licensed
// Rust crates ship two).
const maxLicenseFiles = 4

// licenseFiles returns the names of license files in the top directory.
func (r *repo) licenseFiles() []string {
	var out []string
	for _, n := range r.rootNames {
		l := strings.ToLower(n)
		for _, p := range licenseFilePrefixes {
			if strings.HasPrefix(l, p) && len(out) < maxLicenseFiles {
				out = append(out, n)
				break
			}
		}
	}
	return out
}

// licenseRule recognises a license by phrases of its normalised text. Rules
// are tried in order and the first whose phrases all appear wins. The GNU
// licenses quote each other (the GPL points to the LGPL, the MPL lists the
// GPL as a secondary license), so they are told apart first by their exact
// title lines ("version 3 29 june 2007") and only then by the usual notice
// ("... as published by the free software foundation either version 3").
type licenseRule struct {
	id  string
	all []string
}

var licenseRules = []licenseRule{
	{id: "agpl-3.0", all: []string{"gnu affero general public license version 3 19 november 2007"}},
	{id: "lgpl-3.0", all: []string{"gnu lesser general public license version 3 29 june 2007"}},
	{id: "lgpl-2.1", all: []string{"gnu lesser general public license version 2 1 february 1999"}},
	{id: "lgpl-2.0", all: []string{"gnu library general public license version 2 june 1991"}},
	{id: "gpl-3.0", all: []string{"gnu general public license version 3 29 june 2007"}},
	{id: "gpl-2.0", all: []string{"gnu general public license version 2 june 1991"}},
	{id: "mpl-2.0", all: []string{"mozilla public license version 2 0"}},
	{id: "apache-2.0", all: []string{"apache license version 2 0"}},
	{id: "agpl-3.0", all: []string{"gnu affero general public license as published by the free software foundation either version 3"}},
	{id: "lgpl-3.0", all: []string{"gnu lesser general public license as published by the free software foundation either version 3"}},
	{id: "lgpl-2.1", all: []string{"gnu lesser general public license as published by the free software foundation either version 2 1"}},
	{id: "gpl-3.0", all: []string{"gnu general public license as published by the free software foundation either version 3"}},
	{id: "gpl-2.0", all: []string{"gnu general public license as published by the free software foundation either version 2"}},
	{id: "unlicense", all: []string{"this is free and unencumbered software released into the public domain"}},
	{id: "bsl-1.0", all: []string{"boost software license version 1 0"}},
	{id: "cc0-1.0", all: []string{"cc0 1 0 universal"}},
	{id: "bsd-3-clause", all: []string{"redistribution and use in source and binary forms", "neither the name"}},
	{id: "bsd-3-clause", all: []string{"redistribution and use in source and binary forms", "may be used to endorse or promote products"}},
	{id: "bsd-2-clause", all: []string{"redistribution and use in source and binary forms"}},
	{id: "isc", all: []string{"permission to use copy modify and or distribute this software for any purpose with or without fee is hereby granted"}},
	{id: "mit", all: []string{"permission is hereby granted free of charge to any person obtaining a copy"}},
}

// detectLicense returns the license: value of a license text, or "".
// Matching runs on a normalised text (lower case, every run of characters
// other than letters and digits turned into one space), so that line
// wrapping, punctuation and Markdown do not matter.
func detectLicense(text string) string {
	norm := normalizeLicenseText(text)
	for _, r := range licenseRules {
		ok := true
		for _, p := range r.all {
			if !strings.Contains(norm, p) {
				ok = false
				break
			}
		}
		if ok {
			return r.id
		}
	}
	return ""
}

func normalizeLicenseText(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	space := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'A' && c <= 'Z':
			b.WriteByte(c + 'a' - 'A')
			space = false
		case c >= 'a' && c <= 'z' || c >= '0' && c <= '9':
			b.WriteByte(c)
			space = false
		default:
			if !space {
				b.WriteByte(' ')
				space = true
			}
		}
	}
	return b.String()
}
