// The part of axios that payout plugins use, on top of fetch: `axios(cfg)`, `.request/.get/.post/
// .put/.delete`, `res.data` (JSON parsed when it parses), and errors carrying
// `response.{status,data,headers}` for non-2xx answers or an axios-style `code` when no answer came.
// The real axios is deliberately not a dependency; the sandbox ships its own shim.

export interface AxiosLikeConfig {
  url?: string;
  method?: string;
  baseURL?: string;
  headers?: Record<string, string>;
  params?: Record<string, string | number | boolean>;
  data?: unknown;
  timeout?: number;
  validateStatus?: (status: number) => boolean;
}

export interface AxiosLikeResponse {
  status: number;
  statusText: string;
  headers: Record<string, string>;
  data: unknown;
  config: AxiosLikeConfig;
}

export class AxiosLikeError extends Error {
  code: string;
  config: AxiosLikeConfig;
  response: AxiosLikeResponse | undefined;
  isAxiosError = true;

  constructor(message: string, code: string, config: AxiosLikeConfig, response?: AxiosLikeResponse) {
    super(message);
    this.name = 'AxiosError';
    this.code = code;
    this.config = config;
    this.response = response;
  }
}

function buildUrl(config: AxiosLikeConfig): string {
  const base = config.baseURL && !/^https?:\/\//i.test(config.url ?? '') ? config.baseURL.replace(/\/+$/, '') + '/' + (config.url ?? '').replace(/^\/+/, '') : config.url ?? '';
  if (!config.params) return base;
  const url = new URL(base);
  for (const [key, value] of Object.entries(config.params)) url.searchParams.append(key, String(value));
  return url.toString();
}

// Like axios: strings, buffers and form params go as they are; plain objects become JSON.
function encodeBody(data: unknown, headers: Headers): RequestInit['body'] {
  if (data === undefined || data === null) return undefined;
  if (typeof data === 'string' || data instanceof URLSearchParams || data instanceof Uint8Array) return data as RequestInit['body'];
  if (!headers.has('content-type')) headers.set('content-type', 'application/json');
  return JSON.stringify(data);
}

function parseData(text: string): unknown {
  if (text === '') return text;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function noAnswerCode(error: unknown): string {
  const cause = (error as { cause?: { code?: string } }).cause;
  return cause?.code ?? 'ERR_NETWORK';
}

export function createFetchAxios(fetchImpl: typeof fetch = fetch) {
  async function request(config: AxiosLikeConfig): Promise<AxiosLikeResponse> {
    const method = (config.method ?? 'GET').toUpperCase();
    const headers = new Headers(config.headers ?? {});
    const body = method === 'GET' || method === 'HEAD' ? undefined : encodeBody(config.data, headers);
    let answer: Response;
    try {
      answer = await fetchImpl(buildUrl(config), {
        method,
        headers,
        body,
        signal: config.timeout ? AbortSignal.timeout(config.timeout) : undefined,
      });
    } catch (error) {
      if (error instanceof DOMException && error.name === 'TimeoutError') {
        throw new AxiosLikeError(`timeout of ${config.timeout}ms exceeded`, 'ECONNABORTED', config);
      }
      const cause = (error as { cause?: Error }).cause;
      throw new AxiosLikeError(cause?.message ?? (error as Error).message, noAnswerCode(error), config);
    }
    const text = await answer.text();
    const response: AxiosLikeResponse = {
      status: answer.status,
      statusText: answer.statusText,
      headers: Object.fromEntries(answer.headers),
      data: parseData(text),
      config,
    };
    const accepted = config.validateStatus ? config.validateStatus(answer.status) : answer.status >= 200 && answer.status < 300;
    if (!accepted) {
      const code = answer.status >= 500 ? 'ERR_BAD_RESPONSE' : 'ERR_BAD_REQUEST';
      throw new AxiosLikeError(`Request failed with status code ${answer.status}`, code, config, response);
    }
    return response;
  }

  return Object.assign((config: AxiosLikeConfig) => request(config), {
    request,
    get: (url: string, config: AxiosLikeConfig = {}) => request({ ...config, url, method: 'GET' }),
    delete: (url: string, config: AxiosLikeConfig = {}) => request({ ...config, url, method: 'DELETE' }),
    post: (url: string, data?: unknown, config: AxiosLikeConfig = {}) => request({ ...config, url, data, method: 'POST' }),
    put: (url: string, data?: unknown, config: AxiosLikeConfig = {}) => request({ ...config, url, data, method: 'PUT' }),
  });
}
