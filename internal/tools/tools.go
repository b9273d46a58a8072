//go:build tools

// Package tools pins the modules the project is built from, so that work on
// different packages can go on in parallel without each one editing go.mod.
// Remove an import here once a real package imports the module.
package tools

import (
	_ "github.com/charmbracelet/bubbles/textinput"
	_ "github.com/charmbracelet/bubbletea"
	_ "github.com/charmbracelet/lipgloss"
	_ "github.com/charmbracelet/x/exp/teatest"
	_ "github.com/chromedp/chromedp"
	_ "github.com/coder/websocket"
	_ "github.com/docker/docker/client"
	_ "github.com/go-git/go-git/v5"
	_ "github.com/hibiken/asynq"
	_ "github.com/itchyny/gojq"
	_ "github.com/jackc/pgx/v5/pgxpool"
	_ "github.com/moby/buildkit/frontend/dockerfile/parser"
	_ "github.com/moby/go-archive"
	_ "github.com/moby/patternmatcher"
	_ "github.com/redis/go-redis/v9"
	_ "github.com/spf13/cobra"
	_ "go.yaml.in/yaml/v3"
	_ "golang.org/x/sync/errgroup"
)
