-- 0008: a claim token for ingestion. ingest_claim is incremented by every
-- claim and never reset, so (id, ingest_claim) names exactly one attempt: a
-- worker whose attempt was superseded (a refresh while it ran, then a new
-- claim) cannot pass for the new one, as ingest_attempts (reset by each new
-- run) could.
ALTER TABLE repositories ADD COLUMN ingest_claim bigint NOT NULL DEFAULT 0;
