-- The one-time first-admin setup links that servers printed while the database had no user: only
-- their hashes, so a link printed by one replica works through any other. Emptied in the
-- transaction that creates the first admin, so every printed link stops working at once.
create table setup_tokens (
    hash text primary key,
    created_at text not null
);
