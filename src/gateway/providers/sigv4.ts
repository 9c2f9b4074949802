import aws4 from 'aws4';
import { ProviderError } from './provider.js';

/** Where the AWS credentials of a provider come from: environment variable names, read when the provider is built. */
export interface AwsCredentialsEnv {
  region: string;
  accessKeyIdEnv: string;
  secretAccessKeyEnv: string;
  sessionTokenEnv?: string | undefined;
}

/**
 * Signs requests with AWS Signature V4 for one service and region. Credentials are read from the environment
 * once; a missing variable fails each call with a message naming it (never the value).
 *
 * @example
 * const signer = new SigV4Signer('bedrock', 'bedrock', { region: 'eu-west-1', accessKeyIdEnv: 'AWS_ACCESS_KEY_ID', secretAccessKeyEnv: 'AWS_SECRET_ACCESS_KEY' }, process.env);
 * const headers = signer.sign('https://bedrock-runtime.eu-west-1.amazonaws.com/model/m/converse', { 'content-type': 'application/json' }, body);
 */
export class SigV4Signer {
  private readonly credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string } | null;
  private readonly missing: string | null;

  constructor(
    private readonly provider: string,
    private readonly service: string,
    private readonly aws: AwsCredentialsEnv,
    env: NodeJS.ProcessEnv,
  ) {
    const accessKeyId = env[aws.accessKeyIdEnv];
    const secretAccessKey = env[aws.secretAccessKeyEnv];
    const sessionToken = aws.sessionTokenEnv ? env[aws.sessionTokenEnv] : undefined;
    const unset = [!accessKeyId && aws.accessKeyIdEnv, !secretAccessKey && aws.secretAccessKeyEnv, aws.sessionTokenEnv && !sessionToken && aws.sessionTokenEnv].filter(Boolean);
    this.missing = unset.length > 0 ? unset.join(', ') : null;
    this.credentials = accessKeyId && secretAccessKey ? { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) } : null;
  }

  /** The headers to send: `headers` plus host, x-amz-date, x-amz-security-token and authorization. */
  sign(url: string, headers: Record<string, string>, body: string): Record<string, string> {
    if (!this.credentials || this.missing) {
      throw new ProviderError(`${this.provider}: AWS credentials are missing: environment variable ${this.missing ?? '?'} is not set`, 'unsupported', 401);
    }
    const target = new URL(url);
    const signed = aws4.sign(
      { host: target.host, path: target.pathname + target.search, method: 'POST', service: this.service, region: this.aws.region, headers: { ...headers }, body },
      this.credentials,
    );
    // One spelling per header: the HTTP client adds content-length itself.
    const out: Record<string, string> = {};
    for (const [name, value] of Object.entries(signed.headers ?? {})) if (value !== undefined) out[name.toLowerCase()] = String(value);
    return out;
  }
}
