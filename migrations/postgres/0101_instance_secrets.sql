-- Secrets every server on this database shares (several replicas on PostgreSQL): the first one
-- to start makes each, the others read it.
create table instance_secrets (
    name text primary key,
    secret text not null
);
