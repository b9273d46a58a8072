package cli

import (
	"fmt"
	"slices"
	"strings"

	"github.com/appstore-dev/appstore/client"
)

// printConfigLines prints what the app declares it reads and what sets
// each, then the variables and secrets it does not declare. On a terminal:
//
//	config:
//	  OPENAI_API_KEY  required secret   missing: appstore secret set rag OPENAI_API_KEY
//	  GREETING        optional          default (hello)
//	  MODEL           optional          set (variable)
//
// in a pipe one line each:
// "config:<TAB>name<TAB>set by (variable, secret, default) or missing or unset<TAB>required or optional<TAB>secret or empty<TAB>source".
func printConfigLines(ios *IOStreams, slug string, cfg *client.AppConfig) {
	type row struct {
		name, state, need, secret, source, desc string
	}
	var rows []row
	declared := map[string]bool{}
	for _, d := range cfg.Declared {
		declared[d.Name] = true
		r := row{name: d.Name, need: "optional", source: d.Source, desc: d.Description}
		if d.Required {
			r.need = "required"
		}
		if d.Secret {
			r.secret = "secret"
		}
		switch {
		case d.SetBy != "":
			r.state = d.SetBy
		case slices.Contains(cfg.Missing, d.Name):
			r.state = "missing"
		default:
			r.state = "unset"
		}
		rows = append(rows, r)
	}
	for _, v := range cfg.Variables {
		if !declared[v.Name] {
			rows = append(rows, row{name: v.Name, state: "variable", need: "optional"})
		}
	}
	for _, s := range cfg.Secrets {
		if !declared[s.Name] {
			rows = append(rows, row{name: s.Name, state: "secret", need: "optional", secret: "secret"})
		}
	}
	if len(rows) == 0 {
		return
	}
	if !ios.IsStdoutTTY() {
		for _, r := range rows {
			fmt.Fprintf(ios.Out, "config:\t%s\t%s\t%s\t%s\t%s\n", r.name, r.state, r.need, r.secret, r.source)
		}
		return
	}
	width := 0
	for _, r := range rows {
		width = max(width, len(r.name))
	}
	fmt.Fprintln(ios.Out, "config:")
	for _, r := range rows {
		kind := strings.TrimSpace(r.need + " " + r.secret)
		var state string
		switch r.state {
		case "missing":
			how := fmt.Sprintf("appstore env set %s %s=…", slug, r.name)
			if r.secret != "" {
				how = fmt.Sprintf("appstore secret set %s %s", slug, r.name)
			}
			state = ios.Yellow("missing: " + how)
		case "unset":
			state = ios.Gray("not set")
		case "default":
			state = "default"
		default:
			state = "set (" + r.state + ")"
		}
		line := fmt.Sprintf("  %-*s  %-16s  %s", width, r.name, kind, state)
		if r.desc != "" {
			line += "  " + ios.Gray(plainText(r.desc))
		}
		fmt.Fprintln(ios.Out, line)
	}
}
