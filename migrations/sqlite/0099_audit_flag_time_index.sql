-- A flag's history, newest first: without this, SQLite walks the whole log in time order
-- (audit_at) to find a flag's few entries; 92 ms at 22,000 entries for a flag page's tab.
create index if not exists audit_flag_at on audit_log (flag_key, at, seq);
