-- The audit page and a flag's history are newest first by time, and entries are not always
-- written in time order (imports and the demo record back-dated changes): an index on the time,
-- with the sequence number to break ties, serves that order and its pages.
create index if not exists audit_at on audit_log (at, seq);
