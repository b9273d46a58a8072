package metadata

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestDetectLicense(t *testing.T) {
	files := map[string]string{
		"Apache-2.0": "apache-2.0",
		"GPL-2":      "gpl-2.0",
		"GPL-3":      "gpl-3.0",
		"LGPL-2":     "lgpl-2.0",
		"LGPL-2.1":   "lgpl-2.1",
		"LGPL-3":     "lgpl-3.0",
		"MPL-2.0":    "mpl-2.0",
		"BSD":        "bsd-3-clause",
		"CC0-1.0":    "cc0-1.0",
	}
	for name, want := range files {
		b, err := os.ReadFile(filepath.Join("testdata", "licenses", name))
		if err != nil {
			t.Fatal(err)
		}
		if got := detectLicense(string(b)); got != want {
			t.Errorf("%s: detected %q, want %q", name, got, want)
		}
	}
	texts := map[string]string{
		"mit": `Copyright (c) 2024 Acme

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction.`,
		"isc": `ISC License

Copyright (c) 2024 Acme

Permission to use, copy, modify, and/or distribute this software for any
purpose with or without fee is hereby granted, provided that the above
copyright notice and this permission notice appear in all copies.`,
		"bsd-2-clause": `BSD 2-Clause License

Redistribution and use in source and binary forms, with or without
modification, are permitted provided that the following conditions are met:

1. Redistributions of source code must retain the above copyright notice, this
   list of conditions and the following disclaimer.

2. Redistributions in binary form must reproduce the above copyright notice,
   this list of conditions and the following disclaimer in the documentation
   and/or other materials provided with the distribution.`,
		"unlicense": `This is free and unencumbered software released into the public domain.

Anyone is free to copy, modify, publish, use, compile, sell, or
distribute this software.`,
		"agpl-3.0": `                    GNU AFFERO GENERAL PUBLIC LICENSE
                       Version 3, 19 November 2007

 Copyright (C) 2007 Free Software Foundation, Inc. <https://fsf.org/>
 Everyone is permitted to copy and distribute verbatim copies
 of this license document, but changing it is not allowed.

                            Preamble

  The GNU Affero General Public License is a free, copyleft license for
software and other kinds of works, specifically designed to ensure
cooperation with the community in the case of network server software.
  ... under version 3 of the GNU General Public License ...`,
		"gpl-3.0": `# Acme

This program is free software: you can redistribute it and/or modify
it under the terms of the GNU General Public License as published by
the Free Software Foundation, either version 3 of the License, or
(at your option) any later version.`,
		"bsl-1.0": "Boost Software License - Version 1.0 - August 17th, 2003\n\nPermission is hereby granted, free of charge, to any person or organization",
		"":        "All rights reserved. Do not copy.",
	}
	for want, text := range texts {
		if got := detectLicense(text); got != want {
			t.Errorf("detected %q, want %q for %.60q", got, want, text)
		}
	}
}

func TestRuntimeOf(t *testing.T) {
	cases := map[string]string{
		"node:20-alpine":                        "node",
		"scratch":                               "scratch",
		"docker.io/library/python:3.12-slim":    "python",
		"ghcr.io/acme/base@sha256:abcdef":       "base",
		"localhost:5000/team/app:1.0@sha256:ab": "app",
		"golang":                                "golang",
		"$BASE":                                 "",
		"":                                      "",
	}
	for in, want := range cases {
		if got := runtimeOf(in); got != want {
			t.Errorf("runtimeOf(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestExposedPort(t *testing.T) {
	good := map[string]int{"80": 80, "8080/tcp": 8080, "53/udp": 53, "3000-3005": 3000, "65535": 65535}
	for in, want := range good {
		if got, err := exposedPort(in); err != nil || got != want {
			t.Errorf("exposedPort(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "70000", "http", "-1", "${PORT}"} {
		if _, err := exposedPort(in); err == nil {
			t.Errorf("exposedPort(%q): no error", in)
		}
	}
}

func TestParseDockerfileStages(t *testing.T) {
	df := `ARG BASE=alpine:3.20
FROM ${BASE} AS base
EXPOSE 9000
HEALTHCHECK CMD true
USER app

FROM golang:1.22 AS build
EXPOSE 7000

FROM base AS final
HEALTHCHECK NONE
EXPOSE 9000 9001
`
	info, warnings, err := parseDockerfile("Dockerfile", []byte(df))
	if err != nil {
		t.Fatal(err)
	}
	// The final stage derives from "base": its base image is alpine, it
	// inherits EXPOSE and USER from it, and turns the health check off.
	want := DockerfileInfo{BaseImage: "alpine:3.20", Stages: 3, Expose: []int{9000, 9001}, User: "app", Healthcheck: false}
	if info.BaseImage != want.BaseImage || info.Stages != want.Stages || !slices.Equal(info.Expose, want.Expose) || info.User != want.User || info.Healthcheck {
		t.Errorf("info %+v, want %+v", info, want)
	}
	if len(warnings) != 0 {
		t.Errorf("warnings %q", warnings)
	}
	_, warnings, err = parseDockerfile("sub/Dockerfile", []byte("FROM a\nRUN a \\\n\n  b\nEXPOSE http\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 2 || !strings.HasPrefix(warnings[0], "sub/Dockerfile:4: Empty continuation line") || !strings.HasPrefix(warnings[1], "sub/Dockerfile:5: EXPOSE http") {
		t.Errorf("warnings %q", warnings)
	}
}

func TestLicenseIDs(t *testing.T) {
	cases := map[string][]string{
		"MIT":                        {"mit"},
		"(MIT OR Apache-2.0)":        {"mit", "apache-2.0"},
		"MIT/Apache-2.0":             {"mit", "apache-2.0"},
		"GPL-3.0-or-later":           {"gpl-3.0"},
		"LGPL-2.1-only":              {"lgpl-2.1"},
		"UNLICENSED":                 nil,
		"SEE LICENSE IN LICENSE.txt": nil,
		"other":                      nil,
	}
	for in, want := range cases {
		if got := licenseIDs(in); !slices.Equal(got, want) {
			t.Errorf("licenseIDs(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestScanTOML(t *testing.T) {
	src := `# top
title = "x # not a comment"
[package]
name = "svc"   # trailing
description = 'literal \n kept'
long = """
name = "not this"
"""
keywords = [
  "a", # one
  'b',
  ["nested", "c"],
]
[dependencies]
axum = { version = "0.7", features = ["macros"] }
"quoted-key" = "1"
[dependencies.rocket]
version = "0.5"
`
	got := map[string]tomlEntry{}
	for _, e := range scanTOML([]byte(src)) {
		got[e.Section+"|"+e.Key] = e
	}
	check := func(key, str string, list []string) {
		t.Helper()
		e, ok := got[key]
		if !ok {
			t.Errorf("entry %s missing", key)
			return
		}
		if e.Str != str || !slices.Equal(e.List, list) {
			t.Errorf("entry %s = %q %q, want %q %q", key, e.Str, e.List, str, list)
		}
	}
	check("|title", "x # not a comment", nil)
	check("package|name", "svc", nil)
	check("package|description", `literal \n kept`, nil)
	check("package|keywords", "", []string{"a", "b", "nested", "c"})
	check("dependencies|axum", "", nil)
	check("dependencies|quoted-key", "1", nil)
	check("dependencies.rocket|", "", nil)
	if e := got["package|name"]; e.Line != 4 {
		t.Errorf("name on line %d, want 4", e.Line)
	}
	m := parseCargo([]byte(src))
	if m.Name != "svc" || !slices.Equal(m.Frameworks, []string{"axum", "rocket"}) {
		t.Errorf("cargo manifest %+v", m)
	}
}

func TestParsePoetry(t *testing.T) {
	m := parsePyproject([]byte(`[tool.poetry]
name = "bot"
description = "A chat bot"

[tool.poetry.dependencies]
python = "^3.11"
Django = "^5.0"

[tool.poetry.group.dev.dependencies]
flask = "*"
`))
	if m.Name != "bot" || m.Description != "A chat bot" || !slices.Equal(m.Frameworks, []string{"django"}) {
		t.Errorf("manifest %+v", m)
	}
}

func TestRequirementName(t *testing.T) {
	cases := map[string]string{
		"Flask_SQLAlchemy==3.0":      "flask-sqlalchemy",
		"uvicorn[standard]>=0.29":    "uvicorn",
		"  streamlit ; python>'3.8'": "streamlit",
		"-r base.txt":                "",
		"--index-url https://x/":     "",
		"https://x.org/pkg.whl":      "",
		"zope.interface":             "zope-interface",
		"":                           "",
	}
	for in, want := range cases {
		if got := requirementName(in); got != want {
			t.Errorf("requirementName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSplitFrontMatter(t *testing.T) {
	fm, body, found, closed := splitFrontMatter([]byte("\ufeff---\r\na: 1\r\n...\r\nbody\n"))
	if !found || !closed || string(fm) != "a: 1\r\n" || string(body) != "body\n" {
		t.Errorf("fm %q body %q found %v closed %v", fm, body, found, closed)
	}
	_, body, found, _ = splitFrontMatter([]byte("# Title\n---\n"))
	if found || string(body) != "# Title\n---\n" {
		t.Errorf("no front matter: body %q found %v", body, found)
	}
	fm, body, found, closed = splitFrontMatter([]byte("---\ntitle: x\n---"))
	if !found || !closed || string(fm) != "title: x\n" || len(body) != 0 {
		t.Errorf("fm %q body %q", fm, body)
	}
}

func TestCleanBody(t *testing.T) {
	if got := cleanBody("é\x00\xffx", 2); got != "é" {
		t.Errorf("cleanBody = %q", got)
	}
}

func TestHumanSize(t *testing.T) {
	cases := map[int64]string{100: "100 bytes", 1024: "1 KiB", 64 << 10: "64 KiB", 5452595: "5.2 MiB", 1 << 20: "1 MiB"}
	for in, want := range cases {
		if got := humanSize(in); got != want {
			t.Errorf("humanSize(%d) = %q, want %q", in, got, want)
		}
	}
}

func TestParseDockerfileBounds(t *testing.T) {
	var b strings.Builder
	for i := 0; i <= maxStages; i++ {
		b.WriteString("FROM alpine\n")
	}
	_, _, err := parseDockerfile("Dockerfile", []byte(b.String()))
	var e *Error
	if !errors.As(err, &e) || e.Line != maxStages+1 || !strings.Contains(e.Msg, "more than 128 build stages") {
		t.Fatalf("error %v", err)
	}
	// A 1 MiB Dockerfile of variables and ports keeps a bounded number of
	// ports; how long it takes is BenchmarkParseLargeDockerfile's.
	info, _, err := parseDockerfile("Dockerfile", largeDockerfile())
	if err != nil {
		t.Fatal(err)
	}
	if len(info.Expose) != maxExpose {
		t.Errorf("%d ports kept, want %d", len(info.Expose), maxExpose)
	}
}

// largeDockerfile is 1 MiB of ENV lines that refer to each other and EXPOSE
// lines: what a hostile repository sends to make parsing slow.
func largeDockerfile() []byte {
	var b strings.Builder
	b.WriteString("FROM alpine AS s0\n")
	for i := 0; b.Len() < 1<<20; i++ {
		fmt.Fprintf(&b, "ENV V%d=$V%d\nEXPOSE %d\n", i, i/2, 1+i%60000)
	}
	return []byte(b.String())
}

// BenchmarkParseLargeDockerfile: parsing stays linear in the file's size
// (a 1 MiB hostile Dockerfile took well under a second on 2 cores).
func BenchmarkParseLargeDockerfile(b *testing.B) {
	data := largeDockerfile()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, _, err := parseDockerfile("Dockerfile", data); err != nil {
			b.Fatal(err)
		}
	}
}
