-- Answer relevance of a run: whether the answer and the context that grounds it address the question.
alter table runs add column relevance jsonb;
