/**
 * Moat's TypeScript SDK (Node.js 18+ or any runtime with `fetch`).
 *
 * The types (`schema.ts`) are generated from Moat's OpenAPI document by openapi-typescript
 * (`sdk/generate.sh`); this module adds one client with a resource per area, pagination that
 * follows cursors, retries on 429/503 honouring `Retry-After`, and `MoatError` carrying the
 * fields of the API's RFC 9457 problem documents.
 *
 *     const moat = new Moat("https://moat.example.net", "moat_live_...");
 *     const feed = await moat.threats.list({ severity: "critical", limit: 10 });
 *     for (const t of feed.threats) console.log(t.type, t.from, t.action);
 */
import type { components, operations } from "./schema.js";

export type Schemas = components["schemas"];
type QueryOf<Op extends keyof operations> = operations[Op]["parameters"] extends {
  query?: infer Q;
}
  ? NonNullable<Q>
  : never;

/** An error answer of the API (a problem document), or a failure to reach it (`status` 0). */
export class MoatError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly title: string,
    readonly detail: string,
    readonly retryAfter?: number,
    readonly problem: Record<string, unknown> = {},
  ) {
    super(`${status} ${code}: ${detail || title}`);
    this.name = "MoatError";
  }
}

export interface MoatOptions {
  /** 429 and 503 answers waited out before `MoatError` is thrown (default 3). */
  maxRetries?: number;
  /** The longest single wait for `Retry-After`, in seconds (default 60). */
  maxWaitSeconds?: number;
  /** Per-request time limit in milliseconds (default 30 000). */
  timeoutMs?: number;
  fetch?: typeof fetch;
}

type Query = Record<string, string | number | boolean | undefined | null>;

function retryAfter(headers: Headers): number | undefined {
  const v = headers.get("retry-after");
  if (v === null) return undefined;
  const n = Number(v);
  return Number.isFinite(n) && n >= 0 ? n : undefined;
}

export class Moat {
  private readonly base: string;
  private readonly maxRetries: number;
  private readonly maxWait: number;
  private readonly timeoutMs: number;
  private readonly fetchFn: typeof fetch;

  constructor(
    baseUrl: string,
    private readonly token: string,
    options: MoatOptions = {},
  ) {
    this.base = baseUrl.replace(/\/+$/, "");
    this.maxRetries = options.maxRetries ?? 3;
    this.maxWait = options.maxWaitSeconds ?? 60;
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.fetchFn = options.fetch ?? fetch;
  }

  /** One request; the parsed JSON answer, or `MoatError`. */
  async request<T>(
    method: string,
    path: string,
    opts: { query?: Query; body?: unknown } = {},
  ): Promise<T> {
    const url = new URL(this.base + path);
    for (const [k, v] of Object.entries(opts.query ?? {})) {
      if (v !== undefined && v !== null) url.searchParams.set(k, String(v));
    }
    for (let attempt = 0; ; attempt++) {
      let res: Response;
      try {
        res = await this.fetchFn(url, {
          method,
          headers: {
            Authorization: `Bearer ${this.token}`,
            Accept: "application/json",
            ...(opts.body !== undefined ? { "Content-Type": "application/json" } : {}),
          },
          body: opts.body !== undefined ? JSON.stringify(opts.body) : undefined,
          signal: AbortSignal.timeout(this.timeoutMs),
        });
      } catch (e) {
        throw new MoatError(0, "unreachable", "Moat did not answer", String(e));
      }
      if ((res.status === 429 || res.status === 503) && attempt < this.maxRetries) {
        const wait = Math.min(this.maxWait, retryAfter(res.headers) ?? 1);
        await res.arrayBuffer();
        await new Promise((r) => setTimeout(r, wait * 1000));
        continue;
      }
      const text = await res.text();
      if (res.status >= 400) {
        let problem: Record<string, unknown> = {};
        try {
          const parsed: unknown = JSON.parse(text);
          if (parsed && typeof parsed === "object") problem = parsed as Record<string, unknown>;
        } catch {
          /* not a problem document */
        }
        throw new MoatError(
          res.status,
          String(problem.code ?? "http_error"),
          String(problem.title ?? res.statusText),
          String(problem.detail ?? text.slice(0, 200)),
          retryAfter(res.headers),
          problem,
        );
      }
      return (text ? JSON.parse(text) : undefined) as T;
    }
  }

  /** Every page of a listing, following `next_cursor` until the last. */
  async *pages<T extends { next_cursor?: string | null }>(
    path: string,
    query: Query = {},
  ): AsyncGenerator<T> {
    let q: Query = { ...query };
    for (;;) {
      const page = await this.request<T>("GET", path, { query: q });
      yield page;
      if (!page.next_cursor) return;
      q = { ...q, cursor: page.next_cursor };
    }
  }

  me(): Promise<Schemas["Me"]> {
    return this.request("GET", "/v1/me");
  }

  readonly threats = {
    list: (q: QueryOf<"list_threats"> = {}) =>
      this.request<Schemas["ThreatFeed"]>("GET", "/v1/threats", { query: q }),
    iter: async function* (this: Moat, q: QueryOf<"list_threats"> = {}) {
      for await (const page of this.pages<Schemas["ThreatFeed"]>("/v1/threats", q)) {
        yield* page.threats;
      }
    }.bind(this),
  };

  readonly quarantine = {
    list: (q: QueryOf<"list_quarantine"> = {}) =>
      this.request<Schemas["QuarantinePage"]>("GET", "/v1/quarantine", { query: q }),
    iter: async function* (this: Moat, q: QueryOf<"list_quarantine"> = {}) {
      for await (const page of this.pages<Schemas["QuarantinePage"]>("/v1/quarantine", q)) {
        yield* page.data;
      }
    }.bind(this),
    get: (id: string) =>
      this.request<Schemas["QuarantineOut"]>("GET", `/v1/quarantine/${encodeURIComponent(id)}`),
    /** Delivers a quarantined message to its recipients' real server. */
    release: (id: string) =>
      this.request<Schemas["QuarantineOut"]>(
        "POST",
        `/v1/quarantine/${encodeURIComponent(id)}/release`,
      ),
  };

  readonly verdicts = {
    list: (q: QueryOf<"list_verdicts"> = {}) =>
      this.request<Schemas["VerdictPage"]>("GET", "/v1/verdicts", { query: q }),
    iter: async function* (this: Moat, q: QueryOf<"list_verdicts"> = {}) {
      for await (const page of this.pages<Schemas["VerdictPage"]>("/v1/verdicts", q)) {
        yield* page.data;
      }
    }.bind(this),
  };

  readonly domains = {
    list: async () =>
      (await this.request<Schemas["DomainList"]>("GET", "/v1/domains")).data,
    create: (body: Schemas["NewDomain"]) =>
      this.request<Schemas["DomainOut"]>("POST", "/v1/domains", { body }),
    get: (id: string) =>
      this.request<Schemas["DomainOut"]>("GET", `/v1/domains/${encodeURIComponent(id)}`),
    delete: (id: string) =>
      this.request<void>("DELETE", `/v1/domains/${encodeURIComponent(id)}`),
  };

  readonly policies = {
    list: async () =>
      (await this.request<Schemas["PolicyList"]>("GET", "/v1/policies")).data,
    create: (body: Schemas["NewPolicy"]) =>
      this.request<Schemas["PolicyOut"]>("POST", "/v1/policies", { body }),
    delete: (id: string) =>
      this.request<void>("DELETE", `/v1/policies/${encodeURIComponent(id)}`),
  };
}
