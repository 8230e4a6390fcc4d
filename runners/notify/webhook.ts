/**
 * Delivering drill results to webhooks. A receiver that is briefly down (a deploy, a 502 from
 * its proxy) must not lose a result, so failed deliveries are retried with exponential
 * backoff; after the last attempt the failure is reported (never thrown: the drill and its
 * evidence are unaffected). Webhook URLs carry their own credentials, so they are named
 * (`env:NAME`, `file:PATH`) and only that name appears in logs.
 */
import { backoffDelay } from '../backoff.js';
import path from 'node:path';
import { resolveSecret } from '../secrets.js';
import { buildNotification, type DrillResultFacts, slackMessage } from './message.js';

export type WebhookFormat = 'json' | 'slack';

export interface WebhookTarget {
  format: WebhookFormat;
  url: string;
  /** How the target is named in logs: `env:NAME`, `file:PATH` or the URL's origin — never a secret. */
  label: string;
}

export interface DeliveryOptions {
  /** Attempts in all, the first included (default 5). */
  attempts?: number;
  /** Wait before the second attempt; doubled for each further one, capped at 5 minutes (default 2 s). */
  backoffMs?: number;
  /** One attempt gives up after this long (default 10 s). */
  timeoutMs?: number;
  sleep?: (ms: number) => Promise<void>;
  fetch?: typeof fetch;
}

export interface DeliveryResult {
  target: string;
  ok: boolean;
  attempts: number;
  status?: number;
  error?: string;
}

const MAX_BACKOFF_MS = 5 * 60_000;

/**
 * Parses `--webhook` / `--slack` values: `env:NAME`, `file:PATH` (relative to `baseDir`) or,
 * for the generic webhook only, a plain http(s) URL. Throws a sentence naming the problem.
 */
export function webhookTarget(format: WebhookFormat, reference: string, baseDir: string = process.cwd()): WebhookTarget {
  const flag = format === 'slack' ? '--slack' : '--webhook';
  let url: string;
  let label: string;
  if (reference.startsWith('env:')) {
    const name = reference.slice(4);
    if (!name) throw new Error(`${flag} env: needs a variable name, e.g. env:${format === 'slack' ? 'SLACK_WEBHOOK_URL' : 'DRILL_WEBHOOK_URL'}`);
    label = `env:${name}`;
    url = resolve({ env: name }, baseDir, flag);
  } else if (reference.startsWith('file:')) {
    const file = reference.slice(5);
    if (!file) throw new Error(`${flag} file: needs a path, e.g. file:./slack-webhook-url`);
    label = `file:${file}`;
    url = resolve({ file }, baseDir, flag).trim();
  } else if (format === 'slack') {
    // A Slack webhook URL is a credential: anyone holding it can post to the channel.
    throw new Error(`${flag} takes env:NAME or file:PATH: a Slack webhook URL is a secret and is never given inline`);
  } else {
    url = reference;
    label = originOf(reference) ?? reference;
  }
  const parsed = parseHttpUrl(url);
  if (!parsed) throw new Error(`${flag} ${label}: not an http(s) URL`);
  if (!reference.startsWith('env:') && !reference.startsWith('file:') && (parsed.username || parsed.password || parsed.search)) {
    throw new Error(`${flag}: this URL carries credentials (user info or a query string); give it as env:NAME or file:PATH instead`);
  }
  return { format, url, label };
}

function resolve(ref: { env: string } | { file: string }, baseDir: string, flag: string): string {
  try {
    const value = resolveSecret(ref, path.resolve(baseDir));
    if (!value) throw new Error('it is empty');
    return value;
  } catch (error) {
    throw new Error(`${flag}: ${(error as Error).message}`);
  }
}

function parseHttpUrl(text: string): URL | undefined {
  try {
    const url = new URL(text);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url : undefined;
  } catch {
    return undefined;
  }
}

function originOf(text: string): string | undefined {
  return parseHttpUrl(text)?.origin;
}

/** POSTs a JSON body, retrying network errors, timeouts, 408, 429 and 5xx with exponential backoff. */
export async function postWithRetry(target: WebhookTarget, body: unknown, options: DeliveryOptions = {}): Promise<DeliveryResult> {
  const attempts = Math.max(1, options.attempts ?? 5);
  const backoffMs = options.backoffMs ?? 2000;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const doFetch = options.fetch ?? fetch;
  const payload = JSON.stringify(body);
  let last: DeliveryResult = { target: target.label, ok: false, attempts: 0 };
  for (let attempt = 1; attempt <= attempts; attempt++) {
    let retryAfterMs: number | undefined;
    try {
      const response = await doFetch(target.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'drillbook-scheduler' },
        body: payload,
        signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
      });
      // Drain the body so the connection can be reused or closed.
      await response.arrayBuffer().catch(() => undefined);
      if (response.ok) return { target: target.label, ok: true, attempts: attempt, status: response.status };
      last = { target: target.label, ok: false, attempts: attempt, status: response.status, error: `HTTP ${response.status}` };
      const retryable = response.status === 408 || response.status === 429 || response.status >= 500;
      if (!retryable) return last; // a 4xx will not change by asking again (wrong URL, revoked hook)
      const retryAfter = Number(response.headers.get('retry-after'));
      if (Number.isFinite(retryAfter) && retryAfter > 0) retryAfterMs = retryAfter * 1000;
    } catch (error) {
      // Never echo the URL: fetch's messages can include it.
      const reason = (error as Error).name === 'TimeoutError' ? 'timed out' : 'could not connect';
      last = { target: target.label, ok: false, attempts: attempt, error: reason };
    }
    if (attempt < attempts) await sleep(Math.min(retryAfterMs ?? backoffDelay(attempt - 1, { initialMs: backoffMs, maxMs: MAX_BACKOFF_MS }), MAX_BACKOFF_MS));
  }
  return last;
}

/** Sends each drill result to every target: generic JSON or Slack, one message per drill per target. */
export class WebhookNotifier {
  constructor(
    readonly targets: WebhookTarget[],
    private readonly options: DeliveryOptions & { log?: (line: string) => void } = {},
  ) {}

  async notify(facts: DrillResultFacts): Promise<DeliveryResult[]> {
    const notification = buildNotification(facts);
    const results = await Promise.all(
      this.targets.map((target) => postWithRetry(target, target.format === 'slack' ? slackMessage(notification) : notification, this.options)),
    );
    for (const result of results) {
      if (result.ok) {
        this.options.log?.(`notified ${result.target}${result.attempts > 1 ? ` (after ${result.attempts} attempts)` : ''}`);
      } else {
        this.options.log?.(
          `ERROR: could not notify ${result.target} about ${facts.scenario.name} after ${result.attempts} attempt${result.attempts === 1 ? '' : 's'}: ${result.error ?? 'failed'}`,
        );
      }
    }
    return results;
  }
}
