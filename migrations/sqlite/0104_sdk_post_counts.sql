-- Each replica's count of each token's SDK metric and registration posts in a minute, so the
-- per-token allowance holds across replicas (src/feed/usage/writer.rs): a replica writes its
-- own counts every second and reads the others' sums back. Minutes are Unix minutes.
create table sdk_post_counts (
    minute integer not null,
    token_id integer not null,
    replica text not null,
    posts integer not null,
    primary key (minute, token_id, replica)
);
-- The replicas sharing the allowance: each renews its row every second, so a stopped one
-- drops out of the division when its row expires (on the database's clock).
create table sdk_post_replicas (
    replica text primary key,
    expires text not null
);
