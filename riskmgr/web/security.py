"""Security headers on every answer: pages, the JSON API, static files, errors, /health, /metrics and /login.

The Content-Security-Policy allows only this origin's own files: no inline script, no inline style attribute, no
eval, no plugins, no framing. `img-src data:` is the one widening: Bootstrap's CSS draws the select arrow, the
check marks and the close button as `data:` SVG images. Scripts may still set `element.style.x` through the CSSOM
(progress bars, Chart.js canvas sizes, Bootstrap modals): the policy governs markup, not the CSSOM.
"""

from __future__ import annotations

from flask import Flask, Response, current_app

CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "font-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
))

# Features the console never uses, switched off for this page and anything it might embed.
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"

HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": PERMISSIONS_POLICY,
}

# Only sent when the session cookie is HTTPS-only: a browser that saw it over plain HTTP would ignore it anyway, and
# a deployment without TLS must not be pinned to HTTPS for a year by mistake.
HSTS = "max-age=31536000; includeSubDomains"


def add_security_headers(response: Response) -> Response:
    """Set the headers on one answer, leaving any a view chose itself in place."""
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    if current_app.config.get("SESSION_COOKIE_SECURE"):
        response.headers.setdefault("Strict-Transport-Security", HSTS)
    return response


def init_app(app: Flask) -> None:
    """Register the hook; it runs for error answers too (Flask finalizes those through after_request)."""
    app.after_request(add_security_headers)
