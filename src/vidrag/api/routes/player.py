"""The service's own player: /media/{document_id}#t=START,END plays the media from START, transcript beside it."""

from __future__ import annotations

import html
import json

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from vidrag.api.deps import KnowledgeDep
from vidrag.api.schemas.library import TranscriptLine

router = APIRouter(tags=["player"])

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · vidrag</title>
<link rel="icon" href="data:,">
<style>
 body {{ font-family: system-ui, sans-serif; margin: 0 auto; max-width: 960px; padding: 1rem; color: #222; }}
 video, audio {{ width: 100%; max-height: 60vh; background: #000; }}
 #transcript p {{ margin: .2rem 0; padding: .2rem .4rem; cursor: pointer; border-radius: 4px; }}
 #transcript p:hover {{ background: #eef; }}
 #transcript p.current {{ background: #ffe58a; }}
 #transcript p.cited {{ outline: 2px solid #e8a400; }}
 time {{ color: #666; font-variant-numeric: tabular-nums; margin-right: .5rem; }}
</style></head>
<body>
<h1>{title}</h1>
<{tag} id="player" controls preload="metadata" src="{src}"></{tag}>
<div id="transcript"></div>
<script>
const segments = {segments};
const player = document.getElementById("player");
const box = document.getElementById("transcript");
const key = new URLSearchParams(location.search).get("api_key");
if (key) player.src = player.getAttribute("src") + "?api_key=" + encodeURIComponent(key);
const clock = s => new Date(s * 1000).toISOString().substring(s >= 3600 ? 11 : 14, 19);
segments.forEach((s, i) => {{
  const p = document.createElement("p");
  p.dataset.i = i;
  p.innerHTML = "<time>" + clock(s.start) + "</time>";
  p.append(document.createTextNode(s.text));
  p.onclick = () => {{ player.currentTime = s.start; player.play(); }};
  box.append(p);
}});
function fromHash() {{
  const m = /t=([\\d.]+)(?:,([\\d.]+))?/.exec(location.hash);
  if (!m) return;
  const start = parseFloat(m[1]), end = m[2] ? parseFloat(m[2]) : start;
  box.querySelectorAll("p").forEach(p => {{
    const s = segments[p.dataset.i];
    p.classList.toggle("cited", s.end > start && s.start < Math.max(end, start + 0.01));
  }});
  const seek = () => {{ player.currentTime = start; }};
  if (player.readyState >= 1) seek(); else player.addEventListener("loadedmetadata", seek, {{ once: true }});
  box.querySelector("p.cited")?.scrollIntoView({{ block: "center" }});
}}
player.addEventListener("timeupdate", () => {{
  const t = player.currentTime;
  box.querySelectorAll("p").forEach(p => {{
    const s = segments[p.dataset.i];
    p.classList.toggle("current", t >= s.start && t < s.end);
  }});
}});
window.addEventListener("hashchange", fromHash);
fromHash();
</script>
</body></html>
"""


@router.get("/media/{document_id}", response_class=HTMLResponse)
def media_page(document_id: str, kb: KnowledgeDep) -> HTMLResponse:
    """A player page for a media document; `#t=START,END` seeks to START and marks the cited lines."""
    doc, name, content_type, transcript = kb.player(document_id)
    tag = "audio" if content_type.startswith("audio/") else "video"
    title = html.escape((doc.doc_metadata or {}).get("title") or doc.name)
    data = json.dumps([line.model_dump() for line in TranscriptLine.lines_of(transcript)]).replace("</", "<\\/")
    return HTMLResponse(PAGE.format(title=title, tag=tag, src=f"/api/v1/files/{html.escape(name)}", segments=data))
