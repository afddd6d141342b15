"""The weekly digest: rendering, messages and delivery (issue 3, in progress).

So far: signed tokens for the links in every message (`emails.tokens`).
"""
