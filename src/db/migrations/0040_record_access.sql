-- Records carry their access lists, as chunks do: a lookup reads only the records its caller may read.
alter table records add column allowed text[] not null default '{}';
-- Every record was written with its document; a record without one stays visible to nobody.
update records r set allowed = d.allowed from documents d where d.source_id = r.source_id and d.doc_id = r.record_key;
