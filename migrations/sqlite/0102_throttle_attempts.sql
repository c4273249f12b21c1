-- Password guesses counted where every replica sees them: one row per attempt still inside its
-- throttle's window (a sign-in per account or per address, a current password per user).
create table throttle_attempts (
    id integer primary key autoincrement,
    throttle text not null,
    key text not null,
    at text not null
);
create index throttle_attempts_by_key on throttle_attempts (throttle, key, at);
create index throttle_attempts_by_time on throttle_attempts (throttle, at);
