// The one HTTP client: openapi-fetch typed by the generated paths with the hand-typed ones laid
// over them. It adds the bearer token, renews it once on a 401 and turns error bodies into
// `ApiError`. Components never call `fetch`; they call the per-resource modules beside this one.
import createClient, { type Middleware } from "openapi-fetch";
import type { paths as GeneratedPaths } from "./schema.gen";
import type { ManualPaths } from "./paths.manual";
import type { ApiErrorBody, LoginResponse } from "./types";
import { tokens } from "./tokens";

export type ApiPaths = Omit<GeneratedPaths, keyof ManualPaths> & ManualPaths;

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: ApiErrorBody,
  ) {
    super(body.message || body.error);
  }
}

const auth: Middleware = {
  onRequest({ request }) {
    const token = tokens.access();
    if (token && !request.headers.has("Authorization")) {
      request.headers.set("Authorization", `Bearer ${token}`);
    }
    return request;
  },
};

export const http = createClient<ApiPaths>({ baseUrl: location.origin });
http.use(auth);

type Result<T> = { data?: T; error?: unknown; response: Response };

/** Runs one typed call; on 401 renews the access token once and retries; errors throw. */
export async function call<T>(run: () => Promise<Result<T>>): Promise<T> {
  let result = await run();
  if (result.response.status === 401 && (await renew())) {
    result = await run();
  }
  if (result.response.ok) return result.data as T;
  throw new ApiError(result.response.status, toErrorBody(result.error, result.response));
}

function toErrorBody(error: unknown, response: Response): ApiErrorBody {
  if (error && typeof error === "object" && "error" in error) return error as ApiErrorBody;
  return { error: `http_${response.status}`, message: response.statusText };
}

let renewing: Promise<boolean> | null = null;

/** Exchanges the refresh token (single use) for a new pair; concurrent callers share one try. */
export function renew(): Promise<boolean> {
  renewing ??= (async () => {
    const refresh = tokens.refresh();
    if (!refresh) return false;
    const res = await fetch("/api/auth/refresh", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ refresh_token: refresh }),
    });
    if (!res.ok) {
      tokens.clear();
      return false;
    }
    tokens.store((await res.json()) as LoginResponse);
    return true;
  })().finally(() => {
    renewing = null;
  });
  return renewing;
}
