-- The command palette (issue 9): one full-text index over what a person looks for by name —
-- projects (key, name, description), flags (key, name, description, tags) and change requests
-- (number, title, reason) — read by `search::store::find` with one MATCH query.
--
-- Triggers keep it in step with every writer (web, API, import, CLI). A row's rowid is its
-- source's id times 4 plus its kind (1 project, 2 flag, 3 change request), so a trigger finds
-- it by rowid instead of scanning the index. Tokens: unicode61 splits keys on '-', '_' and
-- '.', so "checkout" finds "new-checkout-v2"; queries match each word's prefix.
--
-- PostgreSQL has no FTS5: there a generated `tsvector` column (key, name, description, tags)
-- on each table with a GIN index, queried with `to_tsquery('simple', 'word:*')` and UNION ALL
-- across the three, replaces this table and its triggers.
create virtual table search_index using fts5(
    kind unindexed,
    ref_id unindexed,
    project_id unindexed,
    key,
    name,
    body,
    tags,
    tokenize = 'unicode61 remove_diacritics 2'
);

insert into search_index (rowid, kind, ref_id, project_id, key, name, body, tags)
select id * 4 + 1, 'project', id, id, key, name, description, '' from projects;

insert into search_index (rowid, kind, ref_id, project_id, key, name, body, tags)
select f.id * 4 + 2, 'flag', f.id, f.project_id, f.key, f.name, f.description,
       coalesce((select group_concat(t.tag, ' ') from flag_tags t where t.flag_id = f.id), '')
from flags f;

insert into search_index (rowid, kind, ref_id, project_id, key, name, body, tags)
select id * 4 + 3, 'change', id, project_id, '#' || id, title, reason, '' from change_requests;

create trigger search_projects_insert after insert on projects begin
    insert into search_index (rowid, kind, ref_id, project_id, key, name, body, tags)
    values (new.id * 4 + 1, 'project', new.id, new.id, new.key, new.name, new.description, '');
end;
create trigger search_projects_update after update of key, name, description on projects begin
    update search_index set key = new.key, name = new.name, body = new.description
    where rowid = new.id * 4 + 1;
end;
create trigger search_projects_delete after delete on projects begin
    delete from search_index where rowid = old.id * 4 + 1;
end;

create trigger search_flags_insert after insert on flags begin
    insert into search_index (rowid, kind, ref_id, project_id, key, name, body, tags)
    values (new.id * 4 + 2, 'flag', new.id, new.project_id, new.key, new.name, new.description, '');
end;
create trigger search_flags_update after update of key, name, description on flags begin
    update search_index set key = new.key, name = new.name, body = new.description
    where rowid = new.id * 4 + 2;
end;
create trigger search_flags_delete after delete on flags begin
    delete from search_index where rowid = old.id * 4 + 2;
end;

create trigger search_tags_insert after insert on flag_tags begin
    update search_index
    set tags = (select group_concat(tag, ' ') from flag_tags where flag_id = new.flag_id)
    where rowid = new.flag_id * 4 + 2;
end;
create trigger search_tags_delete after delete on flag_tags begin
    update search_index
    set tags = coalesce((select group_concat(tag, ' ') from flag_tags where flag_id = old.flag_id), '')
    where rowid = old.flag_id * 4 + 2;
end;

create trigger search_changes_insert after insert on change_requests begin
    insert into search_index (rowid, kind, ref_id, project_id, key, name, body, tags)
    values (new.id * 4 + 3, 'change', new.id, new.project_id, '#' || new.id, new.title, new.reason, '');
end;
create trigger search_changes_update after update of title, reason on change_requests begin
    update search_index set name = new.title, body = new.reason where rowid = new.id * 4 + 3;
end;
create trigger search_changes_delete after delete on change_requests begin
    delete from search_index where rowid = old.id * 4 + 3;
end;
