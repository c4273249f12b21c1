-- The segments list counts each segment's uses from the strategies that name one
-- (`targeting::store::strategies_using_segments`). At 10,000 flags (30,000 flag environments, 5 %
-- of them with segments) reading every row's strategies took most of the page; this partial index
-- holds only the rows that may name a segment, so the list reads those. Its condition must stay
-- the query's, word for word, or SQLite no longer uses it (a test in that store checks the plan).
create index if not exists flag_environments_using_segments on flag_environments (flag_id)
  where replace(strategies, '"segments":[]', '') like '%"segments"%';
