// The OpenAI error envelope {error: {message, type, param, code}} (interfaces.md §1.2, §2.1), one class for
// every 4xx/5xx the server sends on purpose. Messages name the offending field.

export type ErrorType = 'invalid_request_error' | 'not_found_error' | 'server_error' | 'unavailable_error';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly param: string | null = null,
    readonly code: string | null = null,
    readonly type: ErrorType = status >= 500 ? 'server_error' : 'invalid_request_error',
  ) {
    super(message);
  }

  get body(): { error: { message: string; type: ErrorType; param: string | null; code: string | null } } {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

/** 400 naming a field */
export const invalid = (param: string, message: string, code = 'invalid_value'): ApiError => new ApiError(400, message, param, code);

/** the client went away: its work stops, nothing is sent */
export class Cancelled extends Error {
  constructor() {
    super('the client disconnected');
  }
}

/** a framework error (fastify's own 4xx) or anything unexpected → an ApiError */
export function toApiError(e: unknown): ApiError {
  if (e instanceof ApiError) return e;
  const err = e as { statusCode?: number; code?: string; message?: string };
  const status = typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500;
  if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE')
    return new ApiError(413, `request body is larger than the server's limit (${err.message ?? ''})`, null, 'request_too_large');
  if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE')
    return new ApiError(415, `unsupported content type: send application/json`, null, 'unsupported_media_type');
  if (status < 500) return new ApiError(status, err.message ?? 'bad request', null, err.code ?? null);
  return new ApiError(500, `internal error: ${err.message ?? String(e)}`, null, 'internal_error');
}
