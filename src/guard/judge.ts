// The LLM-as-judge groundedness check: its prompt and the parsing of its verdict.

/** What a judge answered, once parsed: a score and the numbers (1-based) of the claims it found unsupported. */
export interface JudgeVerdict {
  score: number;
  unsupported: number[];
}

const INSTRUCTIONS = `You check whether claims are supported by a context. A claim is supported only when the context states it, with the same numbers, dates and names.
Answer with JSON only, no other text: {"score": <share of supported claims, from 0 to 1>, "unsupported": [<numbers of the unsupported claims>]}`;

/**
 * The messages asking a judge model whether each claim rests on the context.
 *
 * @example
 * const messages = judgeMessages(['Roofs up to 20 years are accepted.'], '[1] guide.md\nRoofs up to 20 years…');
 */
export function judgeMessages(claims: string[], context: string): { role: 'system' | 'user'; content: string }[] {
  const list = claims.length > 0 ? claims.map((c, i) => `${i + 1}. ${c.replace(/\s+/g, ' ').trim()}`).join('\n') : '(the answer makes no claim)';
  return [
    { role: 'system', content: INSTRUCTIONS },
    { role: 'user', content: `Context:\n${context}\n\nClaims:\n${list}` },
  ];
}

/**
 * Reads a judge's verdict: the first JSON object of its reply (a code fence around it is fine), with a
 * `score` from 0 to 1. Throws with the reason when the reply is not such a verdict.
 *
 * @example
 * parseJudgeVerdict('{"score": 0.5, "unsupported": [2]}'); // { score: 0.5, unsupported: [2] }
 */
export function parseJudgeVerdict(reply: string): JudgeVerdict {
  const start = reply.indexOf('{');
  const end = reply.lastIndexOf('}');
  // Reasons never quote the reply: it may restate an answer that is being withheld.
  if (start < 0 || end < start) throw new Error(`the judge did not answer JSON (${reply.length} characters)`);
  let value: unknown;
  try {
    value = JSON.parse(reply.slice(start, end + 1));
  } catch {
    throw new Error(`the judge answered malformed JSON (${reply.length} characters)`);
  }
  const { score, unsupported } = (value ?? {}) as { score?: unknown; unsupported?: unknown };
  if (typeof score !== 'number' || !Number.isFinite(score) || score < 0 || score > 1) throw new Error(`the judge's score is not a number from 0 to 1 (${typeof score})`);
  const claims = Array.isArray(unsupported) ? unsupported.filter((n): n is number => Number.isInteger(n) && n > 0) : [];
  return { score, unsupported: claims };
}
