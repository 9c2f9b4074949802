// An independent check of AWS Signature V4 (written from AWS's specification, not with the signing library):
// recomputes the signature of a received request with the known secret and compares.
import { createHash, createHmac } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

export interface SigV4Expectation {
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
  service: string;
  sessionToken?: string;
}

const sha256 = (data: string) => createHash('sha256').update(data, 'utf8').digest('hex');
const hmac = (key: Buffer | string, data: string) => createHmac('sha256', key).update(data, 'utf8').digest();
// RFC 3986 unreserved characters stay; everything else is %XX, as AWS requires.
const uriEncode = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/** Null when `Authorization` is a valid SigV4 signature of this request, else why not. */
export function sigV4Problem(method: string, rawPath: string, headers: IncomingHttpHeaders, body: string, expected: SigV4Expectation): string | null {
  const auth = headers.authorization ?? '';
  const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$/.exec(auth);
  if (!m) return `malformed authorization header: ${auth}`;
  const [, keyId, day, region, service, signedList, signature] = m as unknown as string[];
  if (keyId !== expected.accessKeyId) return `unknown access key ${keyId}`;
  if (region !== expected.region || service !== expected.service) return `signed for ${region}/${service}`;
  const amzDate = String(headers['x-amz-date'] ?? '');
  if (!/^\d{8}T\d{6}Z$/.test(amzDate) || amzDate.slice(0, 8) !== day) return `bad x-amz-date ${amzDate}`;
  const signed = signedList!.split(';');
  for (const required of ['host', 'x-amz-date', ...(expected.sessionToken ? ['x-amz-security-token'] : [])]) {
    if (!signed.includes(required)) return `${required} is not signed`;
  }
  if (expected.sessionToken && headers['x-amz-security-token'] !== expected.sessionToken) return 'wrong session token';
  const [path = '/', query = ''] = rawPath.split('?');
  // Every service but S3 encodes each path segment of the (already encoded) path once more.
  const canonicalPath = path.split('/').map(uriEncode).join('/');
  const canonicalQuery = query
    .split('&')
    .filter(Boolean)
    .map((pair) => pair.split('=').map((p) => uriEncode(decodeURIComponent(p))).join('='))
    .sort()
    .join('&');
  const canonicalHeaders = signed.map((h) => `${h}:${String(headers[h] ?? '').trim().replace(/\s+/g, ' ')}\n`).join('');
  const canonicalRequest = [method, canonicalPath, canonicalQuery, canonicalHeaders, signedList, sha256(body)].join('\n');
  const scope = `${day}/${region}/${service}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonicalRequest)].join('\n');
  const key = hmac(hmac(hmac(hmac(`AWS4${expected.secretAccessKey}`, day), region), service), 'aws4_request');
  const expectedSignature = createHmac('sha256', key).update(stringToSign, 'utf8').digest('hex');
  return expectedSignature === signature ? null : 'signature does not match';
}
