-- core.deployments: one row per deployment; `generation` becomes the container's SPECTRAL_GENERATION
-- (ADR-049 D5, ADR-109 D5). Rows are never updated or deleted: retention is indefinite (ADR-049 D7).
-- Safe to apply more than once.

create schema if not exists core;

create table if not exists core.deployments (
  generation   bigint generated always as identity primary key,
  stack        text        not null check (stack <> ''),
  service      text        not null check (service <> ''),
  image_digest text        not null check (image_digest ~ 'sha256:[0-9a-f]{64}$'),
  git_sha      text        not null check (git_sha ~ '^[0-9a-f]{7,40}$'),
  -- Digest of every deploy input whose change means a new deployment (image, secrets, container settings).
  fingerprint  text        not null check (fingerprint ~ '^[0-9a-f]{64}$'),
  deployed_by  text        not null check (deployed_by <> ''),
  created_at   timestamptz not null default now()
);

comment on table core.deployments is
  'Deployment generations, allocated by spectral-infra during pulumi up with INSERT ... RETURNING generation.';

-- The deploy role: it may add a row and read back the generation RETURNING hands it, nothing else.
-- Its password is set out of band (ALTER ROLE spectral_deployer PASSWORD ...) and its URL kept in 1Password.
do $$
begin
  if not exists (select from pg_catalog.pg_roles where rolname = 'spectral_deployer') then
    create role spectral_deployer login noinherit;
  end if;
end
$$;

revoke all on schema core from spectral_deployer;
grant usage on schema core to spectral_deployer;

revoke all on core.deployments from spectral_deployer;
grant insert (stack, service, image_digest, git_sha, fingerprint, deployed_by) on core.deployments to spectral_deployer;
-- RETURNING generation needs SELECT on that column, and only on that column.
grant select (generation) on core.deployments to spectral_deployer;
