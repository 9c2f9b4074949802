-- Committed changes to the tables that processes cache (use cases, prompts and labels, sources, users and teams)
-- are announced on the channel tarmac_changes with the table's name, so every process drops what it cached.
-- NOTIFY is transactional: listeners hear of a change only once it is committed.
create function tarmac_announce_change() returns trigger language plpgsql as $$
begin
  perform pg_notify('tarmac_changes', tg_table_name);
  return null;
end
$$;

do $$
declare
  t text;
begin
  foreach t in array array['use_cases', 'prompts', 'prompt_versions', 'prompt_labels', 'sources', 'users', 'teams', 'team_members'] loop
    execute format('create trigger %I after insert or update or delete or truncate on %I for each statement execute function tarmac_announce_change()', t || '_announce', t);
  end loop;
end
$$;
