"""Autofill: model metadata from Hugging Face and GitHub, previewed (never saved) until the user confirms.

We never fetch the URL a user typed: it is parsed against an exact-host allowlist into a repository id, and
only the fixed API of that service (``Settings.hf_endpoint`` / ``Settings.github_api_url``) is called for
it, with a timeout and a response-size cap.
"""
