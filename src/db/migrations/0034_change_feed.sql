-- Committed changes to the tables that processes cache (use cases, prompts and labels, sources, users and teams)
-- are announced on the channel tarmac_changes with the table's name, so every process drops what it cached.
-- NOTIFY is transactional: listeners hear of a change only once it is committed.
create function tarmac_announce_change() returns trigger language plpgsql as $$
begin
  perform pg_notify('tarmac_changes', tg_table_name);
  return null;
end
$$;

create trigger use_cases_announce after insert or update or delete or truncate on use_cases
  for each statement execute function tarmac_announce_change();
create trigger prompts_announce after insert or update or delete or truncate on prompts
  for each statement execute function tarmac_announce_change();
create trigger prompt_versions_announce after insert or update or delete or truncate on prompt_versions
  for each statement execute function tarmac_announce_change();
create trigger prompt_labels_announce after insert or update or delete or truncate on prompt_labels
  for each statement execute function tarmac_announce_change();
create trigger sources_announce after insert or update or delete or truncate on sources
  for each statement execute function tarmac_announce_change();
create trigger users_announce after insert or update or delete or truncate on users
  for each statement execute function tarmac_announce_change();
create trigger teams_announce after insert or update or delete or truncate on teams
  for each statement execute function tarmac_announce_change();
create trigger team_members_announce after insert or update or delete or truncate on team_members
  for each statement execute function tarmac_announce_change();
