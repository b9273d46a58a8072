-- 0022: the stage and build arguments of a build.
--
-- A compose service that builds from the repository may name the stage of
-- its Dockerfile to build (build.target) and build arguments (build.args).
-- Ingestion records them with the Dockerfile and context it chose, and
-- every build carries its own copy, as it does its Dockerfile and context:
-- '' is the final stage, '{}' no arguments. requested_target is the stage
-- the user set (appstore edit --target), which wins over compose's.
ALTER TABLE repositories
    ADD COLUMN build_target     text  NOT NULL DEFAULT '',
    ADD COLUMN build_args       jsonb NOT NULL DEFAULT '{}',
    ADD COLUMN requested_target text  NOT NULL DEFAULT '';

ALTER TABLE builds
    ADD COLUMN target     text  NOT NULL DEFAULT '',
    ADD COLUMN build_args jsonb NOT NULL DEFAULT '{}';
