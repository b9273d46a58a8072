package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/client"
)

// eventTopics are the topics of the daemon's event types (docs/api.md,
// "Event types"): the part of the type before the dot.
var eventTopics = []string{"repository", "ingestion", "build", "launch", "service", "user", "comment"}

// EventsOptions are the inputs of "appstore events".
type EventsOptions struct {
	IO     *IOStreams
	Client func() (*client.Client, error)
	Output OutputOptions

	// Since is the id after which to start; client.SinceNow follows only
	// new events.
	Since   int64
	Topics  []string
	Subject string
}

// NewCmdEvents builds "appstore events".
func NewCmdEvents(f *Factory) *cobra.Command {
	opts := &EventsOptions{}
	cmd := &cobra.Command{
		Use:   "events",
		Short: "Follow the event stream: one JSON object per line, until interrupted",
		Long: `Print appstored's events as they happen, one JSON object per line
({"id","type","subject","data","time","actor"}; the actor is the user who
caused the event, or appstored:<cause> for the daemon's own work, such as
appstored:idle), and keep following until
interrupted (Ctrl-C exits 130). Without --since only new events are printed;
--since ID first prints the stored events after ID (0: every event still
retained), then follows. Events are printed once each and in id order, even
across a restart of appstored: the stream reconnects and resumes after the
last id printed.

--topic keeps the events of a topic, the part of the type before the dot
(repository, ingestion, build, launch, service); repeat it or separate
topics with commas. --subject keeps the events of one subject, usually a
repository slug. --jq filters each event, -q prints ids only.

If events after --since were already pruned (--event-retention of the
daemon), a {"type":"stream.truncated",…} line says so first.`,
		Example: `  appstore events
  appstore events --since 0 --topic build --subject dash
  appstore events --topic ingestion --jq 'select(.type == "ingestion.failed") | .subject'
  appstore events --since "$(cat last-id)" | while read -r line; do …; done`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.IO, opts.Client, opts.Output = f.IO, f.Client, f.Output()
			if !cmd.Flags().Changed("since") {
				opts.Since = client.SinceNow
			} else if opts.Since < 0 {
				return usageErrorf("--since %d: want an event id, 0 for every retained event", opts.Since)
			}
			return runEvents(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.Int64Var(&opts.Since, "since", 0, "print the stored events after this `id` first (0: all retained); default: only new events")
	fl.StringArrayVarP(&opts.Topics, "topic", "t", nil, "only events of this `topic` (repeatable, or comma-separated)")
	fl.StringVarP(&opts.Subject, "subject", "s", "", "only events of this subject (a repository `slug`)")
	return cmd
}

func runEvents(ctx context.Context, opts *EventsOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	var topics []string
	for _, t := range opts.Topics {
		for _, p := range strings.Split(t, ",") {
			if p = strings.TrimSpace(p); p != "" {
				topics = append(topics, p)
			}
		}
	}
	for _, t := range topics {
		if !catalog.ValidTopic(t) {
			return usageErrorf("--topic %q is not a topic: want one of %s", t, strings.Join(eventTopics, ", "))
		}
	}
	for _, t := range topics { // all well-formed: warn about unknown ones before following
		if !slices.Contains(eventTopics, t) {
			// The daemon accepts any well-formed topic (its own tests use
			// others), so a typo such as "builds" would follow nothing,
			// silently, forever: say so, and go on in case a newer daemon
			// has the topic.
			hint := ""
			if s := strings.TrimSuffix(t, "s"); s != t && slices.Contains(eventTopics, s) {
				hint = fmt.Sprintf(" (did you mean %q?)", s)
			}
			fmt.Fprintf(opts.IO.ErrOut, "appstore: no event type has the topic %q%s; the topics are %s. Following anyway.\n",
				t, hint, strings.Join(eventTopics, ", "))
		}
	}
	enc := json.NewEncoder(opts.IO.Out)
	enc.SetEscapeHTML(false)
	stream := c.Events(ctx, client.EventsOptions{
		Since:   opts.Since,
		Topics:  topics,
		Subject: opts.Subject,
		// Follow until interrupted: a daemon that is away is waited for.
		ReconnectFor: -1,
		OnReconnect: func(err error, wait time.Duration) {
			fmt.Fprintf(opts.IO.ErrOut, "appstore: lost the event stream (%s); reconnecting in %s\n", ErrorMessage(err), wait.Round(time.Millisecond))
		},
	})
	for e, err := range stream {
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err() // interrupted: exit 130, like every command that follows
			}
			// The daemon names its query parameter; the user typed a flag.
			var ae *client.APIError
			if errors.As(err, &ae) && ae.Field == "since" {
				return usageErrorf("--since %d: %s", opts.Since, strings.TrimPrefix(ae.Message, "since: "))
			}
			return err
		}
		if e.Type == client.EventStreamTruncated {
			var td client.StreamTruncated
			_ = json.Unmarshal(e.Data, &td)
			fmt.Fprintf(opts.IO.ErrOut, "appstore: events %d to %d were pruned (older than the daemon's --event-retention); continuing after %d\n",
				td.Since+1, td.PrunedThrough, td.PrunedThrough)
		}
		switch {
		case opts.Output.JQ != "":
			err = writeJSON(ctx, opts.IO, opts.Output, e)
		case opts.Output.Quiet:
			if e.ID == 0 {
				continue
			}
			_, err = fmt.Fprintln(opts.IO.Out, e.ID)
		default:
			err = enc.Encode(e)
		}
		if err != nil {
			return fmt.Errorf("write event: %w", err)
		}
	}
	return nil
}

// waitFor follows the events that opts selects and hands each to fn until
// fn reports done (waitFor returns nil) or an error (returned), or the
// stream fails. To wait for the outcome of an action without missing it,
// take opts.Since from c.LastEventID BEFORE the action: every event of the
// action then comes after it.
func waitFor(ctx context.Context, c *client.Client, opts client.EventsOptions, fn func(client.Event) (done bool, err error)) error {
	for e, err := range c.Events(ctx, opts) {
		if err != nil {
			return err
		}
		done, err := fn(e)
		if err != nil || done {
			return err
		}
	}
	return errors.New("the event stream ended") // Events ends with an error, so this is not reached
}

// watchEvents follows the events that opts selects in the background, for
// waits that look at the state of things when something happened: changed
// receives a value after each event (coalesced: it holds one), failed the
// stream's error, once. stop ends the watch and waits for it. As for
// waitFor, take opts.Since before the action that is waited for.
func watchEvents(ctx context.Context, c *client.Client, opts client.EventsOptions) (changed <-chan struct{}, failed <-chan error, stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	ch := make(chan struct{}, 1)
	errc := make(chan error, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		err := waitFor(ctx, c, opts, func(client.Event) (bool, error) {
			select {
			case ch <- struct{}{}:
			default:
			}
			return false, nil
		})
		if ctx.Err() == nil {
			errc <- err
		}
	}()
	return ch, errc, func() { cancel(); <-done }
}
