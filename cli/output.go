package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/itchyny/gojq"
)

// OutputOptions are the global output flags, copied into each command's
// Options when it runs.
type OutputOptions struct {
	// JSON prints the API objects (arrays for lists) instead of text.
	JSON bool
	// JQ filters the JSON output through a jq expression (implies JSON).
	JQ string
	// Quiet prints only identifiers, one per line.
	Quiet bool
}

// Machine reports whether output is JSON (possibly filtered by --jq).
func (o OutputOptions) Machine() bool { return o.JSON || o.JQ != "" }

// compileJQ parses and compiles a jq expression. A mistake in it is a usage
// error, found before the command changes anything.
func compileJQ(expr string) (*gojq.Code, error) {
	q, err := gojq.Parse(expr)
	if err != nil {
		return nil, usageErrorf("--jq %q: %v", expr, err)
	}
	code, err := gojq.Compile(q)
	if err != nil {
		return nil, usageErrorf("--jq %q: %v", expr, err)
	}
	return code, nil
}

// writeJSON prints v as the command's JSON output: indented JSON, or the
// results of the --jq expression, one per line (strings raw, like jq -r and
// gh --jq, so they can be fed to xargs).
func writeJSON(ctx context.Context, ios *IOStreams, o OutputOptions, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if o.JQ == "" {
		enc.SetIndent("", "  ")
	}
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("encode JSON output: %w", err)
	}
	if o.JQ == "" {
		_, err := ios.Out.Write(buf.Bytes())
		return err
	}
	code, err := compileJQ(o.JQ)
	if err != nil {
		return err
	}
	// gojq works on plain JSON values; json.Number keeps 64-bit ids exact.
	dec := json.NewDecoder(&buf)
	dec.UseNumber()
	var input any
	if err := dec.Decode(&input); err != nil {
		return fmt.Errorf("decode JSON output for --jq: %w", err)
	}
	iter := code.RunWithContext(ctx, input)
	for {
		res, ok := iter.Next()
		if !ok {
			return nil
		}
		if err, isErr := res.(error); isErr {
			var halt *gojq.HaltError
			if errors.As(err, &halt) && halt.Value() == nil {
				return nil
			}
			return fmt.Errorf("--jq %q: %w", o.JQ, err)
		}
		if s, isStr := res.(string); isStr {
			if _, err := fmt.Fprintln(ios.Out, s); err != nil {
				return err
			}
			continue
		}
		out, err := gojq.Marshal(res)
		if err != nil {
			return fmt.Errorf("--jq %q: encode result: %w", o.JQ, err)
		}
		if ios.IsStdoutTTY() {
			var ind bytes.Buffer
			if json.Indent(&ind, out, "", "  ") == nil {
				out = ind.Bytes()
			}
		}
		if _, err := fmt.Fprintf(ios.Out, "%s\n", out); err != nil {
			return err
		}
	}
}

// writeList prints what a list command prints instead of its table: the
// items as JSON (--json, --jq), or with -q the id of each, one a line, for
// xargs. It reports whether it printed; when not, the caller prints the
// table.
func writeList[T any](ctx context.Context, ios *IOStreams, o OutputOptions, items []T, id func(T) string) (bool, error) {
	switch {
	case o.Machine():
		if items == nil {
			items = []T{} // "[]", never "null": --json always prints JSON a script can iterate
		}
		return true, writeJSON(ctx, ios, o, items)
	case o.Quiet:
		for _, it := range items {
			fmt.Fprintln(ios.Out, id(it))
		}
		return true, nil
	}
	return false, nil
}

// writeObject is writeList for a command that shows one object: v as
// JSON, or with -q its id.
func writeObject(ctx context.Context, ios *IOStreams, o OutputOptions, v any, id string) (bool, error) {
	switch {
	case o.Machine():
		return true, writeJSON(ctx, ios, o, v)
	case o.Quiet:
		_, err := fmt.Fprintln(ios.Out, id)
		return true, err
	}
	return false, nil
}
