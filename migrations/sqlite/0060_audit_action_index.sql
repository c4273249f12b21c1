-- The audit page offers the actions recorded so far as filter choices (`select distinct action`):
-- without an index that reads every entry, and the log only grows (10,000 imported flags made it
-- 8 ms a page); with it, SQLite reads the distinct keys of the index.
create index if not exists audit_action on audit_log (action);
