// unwrap() with the service's error kept. openapi-fetch has already read a failed response's body into `error`, so
// errorOf(response) in client.ts can no longer read it (clone() of a used body throws) and every failure came out as
// `http_<status>`. TODO(lead): fold this into unwrap in src/api/client.ts, then use unwrap here again.
import { ApiError, errorOf } from "../../api/client";

export function apiErrorOf(response: Response, body: unknown): Promise<ApiError> | ApiError {
  if (body && typeof body === "object") {
    const b = body as { code?: unknown; message?: unknown; detail?: unknown };
    const message = typeof b.message === "string" ? b.message : typeof b.detail === "string" ? b.detail : null;
    if (typeof b.code === "string") return new ApiError(response.status, b.code, message ?? response.statusText);
    if (message) return new ApiError(response.status, `http_${response.status}`, message);
  }
  if (typeof body === "string" && body) return new ApiError(response.status, `http_${response.status}`, body);
  return errorOf(response);
}

export async function call<T>(request: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  let result: { data?: T; error?: unknown; response: Response };
  try {
    result = await request;
  } catch (exc) {
    throw new ApiError(0, "network", exc instanceof Error ? exc.message : String(exc));
  }
  if (!result.response.ok) throw await apiErrorOf(result.response, result.error);
  return result.data as T;
}
