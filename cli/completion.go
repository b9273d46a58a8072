package cli

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/client"
)

// NewCmdCompletion builds "appstore completion".
func NewCmdCompletion(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "completion bash|zsh|fish|powershell",
		Short: "Print a shell completion script",
		Long: `Print the completion script of a shell. Slugs and tags are completed by
asking the daemon, so completion follows --server and APPSTORE_URL.`,
		Example: `  source <(appstore completion bash)
  appstore completion zsh > "${fpath[1]}/_appstore"
  appstore completion fish > ~/.config/fish/completions/appstore.fish`,
		ValidArgs: []string{"bash", "zsh", "fish", "powershell"},
		Args:      usageArgs(cobra.MatchAll(cobra.ExactArgs(1), cobra.OnlyValidArgs)),
		RunE: func(cmd *cobra.Command, args []string) error {
			root, out := cmd.Root(), f.IO.Out
			switch args[0] {
			case "bash":
				return root.GenBashCompletionV2(out, true)
			case "zsh":
				return root.GenZshCompletion(out)
			case "fish":
				return root.GenFishCompletion(out, true)
			case "powershell":
				return root.GenPowerShellCompletionWithDesc(out)
			}
			return usageErrorf("unknown shell %q: want bash, zsh, fish or powershell", args[0])
		},
	}
}

// completeSlugs completes the first n arguments (all when n < 0) with the
// slugs of registered repositories. Completion must never hang a shell, so
// it asks one page and gives up quietly when the daemon is not there.
func completeSlugs(f *Factory, n int) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		if n >= 0 && len(args) >= n {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		c, err := f.Client()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		page, err := c.Repositories(cmd.Context(), client.ListRepositoriesOptions{Limit: listPageSize})
		if err != nil {
			cobra.CompDebugln(fmt.Sprintf("list repositories: %v", err), true)
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var out []string
		for _, r := range page.Repositories {
			if strings.HasPrefix(r.Slug, toComplete) && !slices.Contains(args, r.Slug) {
				out = append(out, r.Slug+"\t"+r.Name)
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

// completeTagArgs completes "tag add|rm <slug> <key:value>...": slugs
// first, then for rm the repository's manual tags, for add the tags in use.
func completeTagArgs(f *Factory, adding bool) cobra.CompletionFunc {
	slugs := completeSlugs(f, 1)
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		if len(args) == 0 {
			return slugs(cmd, args, toComplete)
		}
		c, err := f.Client()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var out []string
		if adding {
			tl, err := c.Tags(cmd.Context(), client.ListTagsOptions{Prefix: toComplete, Limit: 100})
			if err != nil {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			for _, t := range tl.Tags {
				out = append(out, t.String())
			}
			return out, cobra.ShellCompDirectiveNoFileComp
		}
		r, err := c.Repository(cmd.Context(), args[0])
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		for _, t := range r.Tags {
			if t.Source == catalog.SourceManual {
				out = append(out, t.String())
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

// completeQuery completes the last word of a search query (search, tags)
// with the daemon's autocomplete: keys, tags and values that exist,
// each described with the number of repositories carrying it among those
// the earlier words select. A key ("lang:") is completed without a
// trailing space so that its value can follow. In bash, ':' is a word
// break (COMP_WORDBREAKS); cobra's bash script takes the part of each
// candidate before the last ':' off again, so "lang:g<TAB>" completes to
// "lang:go".
func completeQuery(f *Factory) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		c, err := f.Client()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		q := strings.Join(append(slices.Clone(args), toComplete), " ")
		// A shell waiting on a dead daemon is worse than no completion.
		ctx, cancel := context.WithTimeout(cmd.Context(), 3*time.Second)
		defer cancel()
		sg, err := c.Autocomplete(ctx, client.AutocompleteOptions{Query: q, Pos: -1, Limit: 100})
		if err != nil {
			cobra.CompDebugln(fmt.Sprintf("autocomplete %q: %v", q, err), false)
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var out []string
		keysOnly := true
		for _, s := range sg.Suggestions {
			if !strings.HasPrefix(s.Text, toComplete) {
				continue // a pair found by its value ("fra" → topic:fractal): the shell would drop it
			}
			if repeatsValue(s.Text) {
				continue // "topic:go,g" → "topic:go,go" adds nothing
			}
			count := strconv.FormatInt(s.Count, 10)
			if sg.Approximate {
				count = "~" + count
			}
			noun := " repositories"
			if s.Count == 1 {
				noun = " repository"
			}
			out = append(out, s.Text+"\t"+count+noun)
			keysOnly = keysOnly && strings.HasSuffix(s.Text, ":")
		}
		directive := cobra.ShellCompDirectiveNoFileComp
		if len(out) > 0 && keysOnly {
			directive |= cobra.ShellCompDirectiveNoSpace
		}
		return out, directive
	}
}

// repeatsValue reports whether a completed term lists a value twice
// ("topic:go,go").
func repeatsValue(term string) bool {
	_, vals, ok := strings.Cut(term, ":")
	if !ok || !strings.Contains(vals, ",") {
		return false
	}
	seen := map[string]bool{}
	for _, v := range strings.Split(vals, ",") {
		if v != "" && seen[strings.ToLower(v)] {
			return true
		}
		seen[strings.ToLower(v)] = true
	}
	return false
}

// completeRunning completes the arguments of stop: the slugs of the apps
// that run (their active launches), not every registered app.
func completeRunning(f *Factory) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		c, err := f.Client()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		ctx, cancel := context.WithTimeout(cmd.Context(), 3*time.Second)
		defer cancel()
		page, err := c.Launches(ctx, client.ListLaunchesOptions{Active: true, Limit: 1000})
		if err != nil {
			cobra.CompDebugln(fmt.Sprintf("list launches: %v", err), true)
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var out []string
		seen := map[string]bool{}
		for _, l := range page.Launches {
			if l.Warm || seen[l.Repository] || slices.Contains(args, l.Repository) || !strings.HasPrefix(l.Repository, toComplete) {
				continue
			}
			seen[l.Repository] = true
			out = append(out, fmt.Sprintf("%s\tlaunch %d, %s", l.Repository, l.ID, l.Status))
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}
