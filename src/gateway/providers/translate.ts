import type { ChatMessage } from './provider.js';

/** A string field of an untyped object, or ''. */
export const str = (value: unknown): string => (typeof value === 'string' ? value : typeof value === 'number' ? String(value) : '');

/** One part of an OpenAI message content: text or an image. */
export type ContentPart = { kind: 'text'; text: string } | { kind: 'image'; url: string; mediaType: string | null; data: string | null };

/** An OpenAI assistant tool call. */
export interface ToolCall {
  id: string;
  name: string;
  arguments: string;
}

/** The parts of an OpenAI message content (a string, or text and image_url parts). */
export function contentParts(content: unknown): ContentPart[] {
  if (typeof content === 'string') return content === '' ? [] : [{ kind: 'text', text: content }];
  if (!Array.isArray(content)) return [];
  const parts: ContentPart[] = [];
  for (const part of content as Record<string, unknown>[]) {
    if (part.type === 'text' && typeof part.text === 'string') parts.push({ kind: 'text', text: part.text });
    if (part.type === 'image_url') {
      const image = part.image_url as { url?: unknown } | undefined;
      const url = typeof image?.url === 'string' ? image.url : '';
      const data = /^data:([^;]+);base64,(.*)$/s.exec(url);
      parts.push({ kind: 'image', url, mediaType: data?.[1] ?? null, data: data?.[2] ?? null });
    }
  }
  return parts;
}

export const textOf = (content: unknown): string =>
  contentParts(content)
    .map((p) => (p.kind === 'text' ? p.text : ''))
    .join('\n');

export function toolCallsOf(message: ChatMessage): ToolCall[] {
  if (!Array.isArray(message.tool_calls)) return [];
  return (message.tool_calls as { id?: unknown; function?: { name?: unknown; arguments?: unknown } }[]).map((c) => ({
    id: str(c.id),
    name: str(c.function?.name),
    arguments: typeof c.function?.arguments === 'string' ? c.function.arguments : '{}',
  }));
}

/** Tool arguments as an object (providers other than OpenAI take objects, not JSON text). */
export function parseArguments(text: string): Record<string, unknown> {
  try {
    const value = JSON.parse(text) as unknown;
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : { value };
  } catch {
    return { input: text };
  }
}

/** OpenAI's function tools of a request. */
export function functionTools(tools: unknown): { name: string; description?: string; parameters: Record<string, unknown> }[] {
  if (!Array.isArray(tools)) return [];
  return (tools as { type?: unknown; function?: { name?: unknown; description?: unknown; parameters?: unknown } }[])
    .filter((t) => t.type === 'function' && t.function)
    .map((t) => ({
      name: str(t.function?.name),
      ...(typeof t.function?.description === 'string' ? { description: t.function.description } : {}),
      parameters: (t.function?.parameters as Record<string, unknown> | undefined) ?? { type: 'object', properties: {} },
    }));
}

/** Stop sequences as a list. */
export function stopList(stop: unknown): string[] | undefined {
  if (typeof stop === 'string') return [stop];
  if (Array.isArray(stop)) return stop.filter((s): s is string => typeof s === 'string');
  return undefined;
}

export const nowSeconds = () => Math.floor(Date.now() / 1000);
