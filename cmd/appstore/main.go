// Command appstore is the command line of appstore: it registers, lists,
// shows and removes apps through the appstored API. See docs/cli.md.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/appstore-dev/appstore/cli"
	_ "github.com/appstore-dev/appstore/internal/termbg" // before Bubble Tea's init: see the package
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, cli.NewFactory(cli.System(), os.Getenv), os.Args[1:])
	stop()
	os.Exit(code)
}
