// A card's picture: the video's thumbnail, or a neutral placeholder for audio, documents and images that fail.
import { useState } from "react";

import { withKey } from "../../api/client";
import { clock } from "../../lib/format";

const ICONS = {
  // simple outline glyphs; decorative (the card's title says what it is)
  video: "M4 6h11v12H4zM15 10l5-3v10l-5-3z",
  audio: "M9 18V6l10-2v12M9 18a3 3 0 1 1-3-3 3 3 0 0 1 3 3zm10-2a3 3 0 1 1-3-3 3 3 0 0 1 3 3z",
  document: "M6 3h8l4 4v14H6zM14 3v4h4M9 12h6M9 16h6",
};

export function Thumb({
  url,
  kind,
  alt,
  duration,
}: {
  url: string | null | undefined;
  kind: keyof typeof ICONS;
  alt: string;
  duration?: number | null;
}) {
  const [failed, setFailed] = useState(false);
  return (
    <div className="library-thumb">
      {url && !failed ? (
        <img className="thumb" src={withKey(url)} alt={alt} loading="lazy" onError={() => setFailed(true)} />
      ) : (
        <div className={`thumb library-placeholder ${kind}`} role="img" aria-label={alt} data-testid="thumb-placeholder">
          <svg viewBox="0 0 24 24" aria-hidden="true">
            <path d={ICONS[kind]} />
          </svg>
        </div>
      )}
      {duration != null && duration > 0 && <span className="library-duration mono">{clock(duration)}</span>}
    </div>
  );
}
