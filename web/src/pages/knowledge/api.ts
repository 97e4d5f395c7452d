// `unwrap` plus the error body openapi-fetch has already read: openapi-fetch consumes a failed response's body into
// `result.error`, so client.ts's errorOf (which reads response.clone()) falls back to the status text and the
// service's stable code (e.g. dataset_name_taken) is lost. This keeps it. Once client.ts uses result.error itself,
// this is a no-op and can go.
import { ApiError, unwrap } from "../../api/client";

export async function call<T>(request: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  let body: unknown;
  try {
    return await unwrap(
      request.then((r) => {
        body = r.error;
        return r;
      }),
    );
  } catch (exc) {
    if (exc instanceof ApiError && body && typeof body === "object") {
      const b = body as { code?: unknown; message?: unknown; detail?: unknown };
      if (typeof b.code === "string" && b.code !== exc.code) {
        const message = typeof b.message === "string" ? b.message : typeof b.detail === "string" ? b.detail : exc.message;
        throw new ApiError(exc.status, b.code, message);
      }
    }
    throw exc;
  }
}
