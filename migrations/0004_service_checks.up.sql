-- 0004: health-check scheduling of the service registry.
-- next_check_at is both the schedule and the lease of a service's health
-- check: a poller claims due services (next_check_at NULL or past) with
-- FOR UPDATE SKIP LOCKED and pushes next_check_at past the check's timeout,
-- so several appstored processes never check one service at the same time;
-- recording the result sets it to the next due time (interval, with backoff
-- while the service fails). NULL means "check as soon as possible": new
-- services and services whose health URL changed.
ALTER TABLE services ADD COLUMN next_check_at timestamptz;
CREATE INDEX services_next_check_idx ON services (next_check_at NULLS FIRST);
