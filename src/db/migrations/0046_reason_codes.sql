-- A run's reasons become {code, message}: the code from the closed set (docs/use-cases.md), the old text as message.
update runs set reasons = (
  select coalesce(jsonb_agg(jsonb_build_object(
    'code',
    case
      when r = 'sampled_for_review' then 'sampled_for_review'
      when r like 'groundedness %' then 'groundedness_below_threshold'
      when r = 'review: review timed out' then 'review_timed_out'
      when r like 'review: %' then 'review_rejected'
      else split_part(r, ':', 1)
    end,
    'message', r) order by n), '[]'::jsonb)
  from jsonb_array_elements_text(runs.reasons) with ordinality as x(r, n)
)
where jsonb_array_length(reasons) > 0 and jsonb_typeof(reasons -> 0) = 'string';
