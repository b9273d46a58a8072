package store

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/appstore-dev/appstore/catalog"
)

// UsageCount is what one batch adds to one app's usage of one day.
type UsageCount struct {
	Slug string
	// Day is the UTC day counted (its time of day is ignored).
	Day time.Time
	// Launches also add to the repository's launch count. The preview
	// counter sends none (BeginLaunch counts launches); imports and tests
	// of a history do.
	Launches        int64
	PreviewRequests int64
	// Visitors are the keyed hashes of the clients seen (UsageKeys): each
	// counts once per app and day, whichever batch brings it.
	Visitors [][]byte
	// Minutes are the minutes of the day (0–1439) with a preview request.
	Minutes []int
}

const minutesPerDay = 24 * 60

// RecordUsage adds a batch of usage counts in one transaction and
// rewrites the trending score of every repository whose launches or
// visitors grew. Counts of a repository that no longer exists are dropped.
// Rows are written in (slug, day) order, so that two processes flushing at
// once cannot deadlock.
func (s *Store) RecordUsage(ctx context.Context, counts []UsageCount) error {
	counts = slices.Clone(counts)
	slices.SortFunc(counts, func(a, b UsageCount) int {
		return cmp.Or(strings.Compare(a.Slug, b.Slug), a.Day.Compare(b.Day))
	})
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var trending []int64
		for _, c := range counts {
			day := catalog.UsageDayOf(c.Day)
			bits := []byte(strings.Repeat("0", minutesPerDay))
			for _, m := range c.Minutes {
				if m >= 0 && m < minutesPerDay {
					bits[m] = '1'
				}
			}
			var id int64
			err := tx.QueryRow(ctx, `
				INSERT INTO usage_days AS u (repository_id, day, launches, preview_requests, minutes)
				SELECT id, $2, $3, $4, $5::bit(1440) FROM repositories WHERE slug = $1
				ON CONFLICT (repository_id, day) DO UPDATE SET
					launches = u.launches + excluded.launches,
					preview_requests = u.preview_requests + excluded.preview_requests,
					minutes = u.minutes | excluded.minutes
				RETURNING repository_id`, c.Slug, day, c.Launches, c.PreviewRequests, string(bits)).Scan(&id)
			if errors.Is(err, pgx.ErrNoRows) {
				continue // removed since
			}
			if err != nil {
				return fmt.Errorf("%s on %s: %w", c.Slug, day.Format(time.DateOnly), mapError(err))
			}
			grew := c.Launches > 0
			if c.Launches > 0 {
				if _, err := tx.Exec(ctx, `UPDATE repositories SET launch_count = launch_count + $2 WHERE id = $1`, id, c.Launches); err != nil {
					return mapError(err)
				}
			}
			if len(c.Visitors) > 0 {
				tag, err := tx.Exec(ctx, `
					INSERT INTO usage_visitors (repository_id, day, visitor)
					SELECT $1, $2, v FROM unnest($3::bytea[]) v
					ON CONFLICT DO NOTHING`, id, day, c.Visitors)
				if err != nil {
					return mapError(err)
				}
				if n := tag.RowsAffected(); n > 0 {
					grew = true
					if _, err := tx.Exec(ctx, `UPDATE usage_days SET visitors = visitors + $3 WHERE repository_id = $1 AND day = $2`, id, day, n); err != nil {
						return mapError(err)
					}
				}
			}
			if grew && !slices.Contains(trending, id) {
				trending = append(trending, id)
			}
		}
		return updateTrends(ctx, tx, trending)
	})
	if err != nil {
		return fmt.Errorf("record usage: %w", err)
	}
	return nil
}

// countLaunch counts a launch of the repository: its launch count, today's
// usage and its trending score.
func countLaunch(ctx context.Context, tx pgx.Tx, repoID int64) error {
	if _, err := tx.Exec(ctx, `UPDATE repositories SET launch_count = launch_count + 1 WHERE id = $1`, repoID); err != nil {
		return mapError(err)
	}
	if _, err := tx.Exec(ctx, `
		INSERT INTO usage_days AS u (repository_id, day, launches)
		VALUES ($1, (now() AT TIME ZONE 'UTC')::date, 1)
		ON CONFLICT (repository_id, day) DO UPDATE SET launches = u.launches + 1`, repoID); err != nil {
		return mapError(err)
	}
	return updateTrends(ctx, tx, []int64{repoID})
}

// trendContributions lists, for the repository r.id, each contribution to
// its trending score: x, when it happened in half-lives since the Unix
// epoch, and w, its weight. The score is log2 of the sum of w·2^x: every
// contribution halves each half-life, all at the same rate, so scores
// written at different times compare as they would if all were written
// now. Days count from their start.
const trendContributions = `
	SELECT extract(epoch FROM u.day::timestamp) / $2 AS x,
	       ($3 * u.launches + $4 * u.visitors)::float8 AS w
	FROM usage_days u WHERE u.repository_id = r.id AND (u.launches > 0 OR u.visitors > 0)
	UNION ALL
	SELECT extract(epoch FROM s.created_at) / $2, $5::float8 FROM stars s WHERE s.repository_id = r.id`

// updateTrends rewrites the trending score (repositories.trend) of the
// repositories ids from their history: usage_days and stars. The sum is
// taken relative to the newest contribution so that 2^x never overflows.
func updateTrends(ctx context.Context, tx pgx.Tx, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	slices.Sort(ids)
	_, err := tx.Exec(ctx, `
		UPDATE repositories r SET trend = coalesce((
			WITH c AS (`+trendContributions+`)
			SELECT m.m + ln(sum(c.w * power(2::float8, c.x - m.m))) / ln(2::float8)
			FROM c, (SELECT max(x) AS m FROM c) m
			WHERE c.w > 0
			GROUP BY m.m), '-Infinity')
		WHERE r.id = ANY($1::bigint[])`,
		ids, catalog.TrendHalfLife.Seconds(), catalog.TrendLaunchWeight, catalog.TrendVisitorWeight, catalog.TrendStarWeight)
	if err != nil {
		return fmt.Errorf("trending score: %w", mapError(err))
	}
	return nil
}

// UsageKeys returns the keys of the visitor hashes of the given days (UTC),
// creating those that do not exist yet: every process that counts previews
// hashes a visitor with the same key on the same day. A key is deleted with
// the day's visitor hashes (PruneUsage), after which no hash of that day
// can be linked to an address again.
func (s *Store) UsageKeys(ctx context.Context, days ...time.Time) (map[time.Time][]byte, error) {
	out := make(map[time.Time][]byte, len(days))
	for _, d := range days {
		day := catalog.UsageDayOf(d)
		key := make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, fmt.Errorf("usage key: %w", err)
		}
		var got []byte
		err := s.pool.QueryRow(ctx, `
			WITH ins AS (INSERT INTO usage_keys (day, key) VALUES ($1, $2) ON CONFLICT (day) DO NOTHING RETURNING key)
			SELECT key FROM ins UNION ALL SELECT key FROM usage_keys WHERE day = $1 LIMIT 1`, day, key).Scan(&got)
		if err != nil {
			return nil, fmt.Errorf("usage key of %s: %w", day.Format(time.DateOnly), mapError(err))
		}
		out[day] = got
	}
	return out, nil
}

// UsageStats returns the usage of the repository slug on each of its last
// days (UTC, today included), oldest first.
func (s *Store) UsageStats(ctx context.Context, slug string, days int, now time.Time) (*catalog.UsageStats, error) {
	if err := catalog.ValidateStatsDays(days); err != nil {
		return nil, err
	}
	out := &catalog.UsageStats{Slug: slug, Days: []catalog.UsageDay{}}
	var id int64
	err := s.pool.QueryRow(ctx, `SELECT id, launch_count, star_count FROM repositories WHERE slug = $1`, slug).
		Scan(&id, &out.LaunchCount, &out.StarCount)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, &catalog.NotFoundError{Kind: "repository", Key: slug}
	}
	if err != nil {
		return nil, fmt.Errorf("stats of %s: %w", slug, mapError(err))
	}
	last := catalog.UsageDayOf(now)
	first := last.AddDate(0, 0, -(days - 1))
	rows, err := s.pool.Query(ctx, `
		SELECT d::date, coalesce(u.launches, 0), coalesce(u.preview_requests, 0), coalesce(u.visitors, 0),
		       coalesce(bit_count(u.minutes), 0)
		FROM generate_series($2::date, $3::date, interval '1 day') d
		LEFT JOIN usage_days u ON u.repository_id = $1 AND u.day = d::date
		ORDER BY d`, id, first, last)
	if err != nil {
		return nil, fmt.Errorf("stats of %s: %w", slug, mapError(err))
	}
	defer rows.Close()
	for rows.Next() {
		var d catalog.UsageDay
		var day time.Time
		if err := rows.Scan(&day, &d.Launches, &d.PreviewRequests, &d.Visitors, &d.ActiveMinutes); err != nil {
			return nil, fmt.Errorf("stats of %s: %w", slug, err)
		}
		d.Day = day.Format(time.DateOnly)
		out.Days = append(out.Days, d)
		out.Total.Launches += d.Launches
		out.Total.PreviewRequests += d.PreviewRequests
		out.Total.Visitors += d.Visitors
		out.Total.ActiveMinutes += d.ActiveMinutes
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("stats of %s: %w", slug, mapError(err))
	}
	return out, nil
}

// usagePruneBatch is how many usage rows one pruning statement deletes.
const usagePruneBatch = 10000

// PruneUsage deletes the daily usage older than retention, and the visitor
// hashes and their keys of every day before yesterday (UTC): once a day is
// over and late batches had their chance, only its counts remain. It
// returns how many daily rows it deleted. The trending scores of the
// repositories that lost rows are rewritten in the same transaction, so a
// score never counts history that is gone (an app whose only use was
// pruned has no score again, as if never used).
func (s *Store) PruneUsage(ctx context.Context, retention time.Duration, now time.Time) (int64, error) {
	if retention <= 0 {
		return 0, fmt.Errorf("prune usage: retention %s: want a positive duration", retention)
	}
	yesterday := catalog.UsageDayOf(now).AddDate(0, 0, -1)
	if _, err := s.deleteInBatches(ctx, "prune visitor hashes", usagePruneBatch, `
		DELETE FROM usage_visitors WHERE ctid IN (SELECT ctid FROM usage_visitors WHERE day < $1 LIMIT $2)`, yesterday); err != nil {
		return 0, err
	}
	if _, err := s.pool.Exec(ctx, `DELETE FROM usage_keys WHERE day < $1`, yesterday); err != nil {
		return 0, fmt.Errorf("prune usage keys: %w", mapError(err))
	}
	cutoff := catalog.UsageDayOf(now.Add(-retention))
	var total int64
	for {
		var n int64
		err := s.inTx(ctx, func(tx pgx.Tx) error {
			ids, err := column[int64](ctx, tx, `
				WITH gone AS (
					DELETE FROM usage_days WHERE ctid IN (SELECT ctid FROM usage_days WHERE day < $1 LIMIT $2)
					RETURNING repository_id)
				SELECT repository_id FROM gone`, cutoff, usagePruneBatch)
			if err != nil {
				return err
			}
			n = int64(len(ids))
			slices.Sort(ids)
			return updateTrends(ctx, tx, slices.Compact(ids))
		})
		if err != nil {
			return total, fmt.Errorf("prune usage: %w", err)
		}
		total += n
		if n < usagePruneBatch {
			return total, nil
		}
	}
}
