// File uploads with byte progress: fetch cannot report an upload's progress, XMLHttpRequest can.
import { ApiError, authHeaders, errorOf } from "./client";

/** POST a multipart form to `url`, reporting the percent sent; resolves to the JSON answer or throws an ApiError
 *  (the service's {code, message}, or code `network`). */
export function postForm<T>(url: string, form: FormData, onProgress: (percent: number) => void): Promise<T> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", url);
    for (const [k, v] of Object.entries(authHeaders())) xhr.setRequestHeader(k, v);
    xhr.upload.onprogress = (e) => e.lengthComputable && onProgress(Math.floor((100 * e.loaded) / e.total));
    xhr.onerror = () => reject(new ApiError(0, "network", "upload failed"));
    xhr.onload = () => {
      const response = new Response(xhr.responseText, { status: xhr.status, statusText: xhr.statusText });
      if (xhr.status >= 200 && xhr.status < 300) resolve(JSON.parse(xhr.responseText) as T);
      else void errorOf(response).then(reject);
    };
    xhr.send(form);
  });
}
