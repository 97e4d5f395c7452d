"""Answers: an OpenAI-compatible chat client, the grounding prompt, and the extractive fallback."""
