package cli

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/appstore-dev/appstore/client"
)

// notFoundRepoRE matches the daemon's message for an unknown slug.
var notFoundRepoRE = regexp.MustCompile(`^repository "([^"]+)" not found`)

// slugHint is "; did you mean hello?" for an unknown slug that is close to
// registered ones (a typo), or "".
func slugHint(ctx context.Context, f *Factory, err error) string {
	var ae *client.APIError
	if !errors.As(err, &ae) || ae.Code != client.CodeNotFound {
		return ""
	}
	m := notFoundRepoRE.FindStringSubmatch(ae.Message)
	if m == nil || f.Client == nil {
		return ""
	}
	c, cerr := f.Client()
	if cerr != nil {
		return ""
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	var slugs []string
	for r, err := range c.AllRepositories(ctx, client.ListRepositoriesOptions{Limit: 500}) {
		if err != nil || len(slugs) >= 5000 {
			break
		}
		slugs = append(slugs, r.Slug)
	}
	near := closest(m[1], slugs)
	if len(near) == 0 {
		return "; `appstore list` shows the apps"
	}
	return "; did you mean " + strings.Join(near, " or ") + "?"
}

// closest returns up to three words at the smallest edit distance from w
// (1 for words of up to 4 letters, 2 up to 8, then a quarter of the
// length), or with w as prefix.
func closest(w string, words []string) []string {
	limit := 1
	switch {
	case len(w) > 8:
		limit = len(w)/4 + 1
	case len(w) > 4:
		limit = 2
	}
	best := limit + 1
	var out []string
	for _, c := range words {
		d := editDistance(w, c)
		if strings.HasPrefix(c, w) && d > 1 {
			d = 1
		}
		switch {
		case d < best:
			best, out = d, []string{c}
		case d == best && len(out) < 3:
			out = append(out, c)
		}
	}
	if best > limit {
		return nil
	}
	return out
}

// editDistance is the Levenshtein distance of a and b (bytes: slugs are
// ASCII), with adjacent transpositions counted as one edit.
func editDistance(a, b string) int {
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}

// flagErrorRE picks pflag's "invalid argument" errors apart.
var flagErrorRE = regexp.MustCompile(`^invalid argument "(.*)" for "(.+?)" flag: (.*)$`)

// flagError turns pflag's parse errors (strconv.ParseInt: parsing "abc":
// invalid syntax) into a sentence that says what the flag wants.
func flagError(err error) error {
	m := flagErrorRE.FindStringSubmatch(err.Error())
	if m == nil {
		return err
	}
	value, flag, why := m[1], m[2], m[3]
	if i := strings.Index(flag, ", "); i >= 0 {
		flag = flag[i+2:] // "-L, --limit" → "--limit"
	}
	switch {
	case strings.Contains(why, "time: "):
		return fmt.Errorf("%s %q is not a duration: give a number with a unit, e.g. 30s, 10m or 2h", flag, value)
	case strings.Contains(why, "strconv.ParseInt"), strings.Contains(why, "strconv.ParseUint"):
		if strings.Contains(why, "value out of range") {
			return fmt.Errorf("%s %q is too large a number", flag, value)
		}
		return fmt.Errorf("%s %q is not a whole number: give digits only, e.g. %s 10", flag, value, flag)
	case strings.Contains(why, "strconv.ParseFloat"):
		return fmt.Errorf("%s %q is not a number, e.g. %s 1.5", flag, value, flag)
	case strings.Contains(why, "strconv.ParseBool"):
		return fmt.Errorf("%s %q: want true or false", flag, value)
	}
	return err
}

// noBuildAdvice says why slug has no build and what can work about it: a
// build cannot start before ingestion succeeded (it needs the Dockerfile
// ingestion found), so a failed ingestion gets `appstore refresh`, one under
// way gets patience, and only a ready repository gets `appstore build`.
func noBuildAdvice(ctx context.Context, c *client.Client, slug string) string {
	r, err := c.Repository(ctx, slug)
	if err != nil {
		return fmt.Sprintf("%s has no builds yet", slug)
	}
	switch r.IngestStatus {
	case "failed":
		why := r.IngestError
		if i := strings.IndexByte(why, '\n'); i >= 0 {
			why = why[:i]
		}
		if why == "" {
			why = "see `appstore show " + slug + "`"
		}
		return fmt.Sprintf("%s has no builds: its ingestion failed (%s), so nothing can be built; fix the repository, then `appstore refresh %s`", slug, why, slug)
	case "queued", "processing":
		return fmt.Sprintf("%s has no builds yet: it is still being ingested (%s), and its build starts after that; `appstore refresh %s --wait` follows it", slug, r.IngestStatus, slug)
	}
	return fmt.Sprintf("%s has no builds yet: start one with `appstore build %s`", slug, slug)
}
