"""
http_api.py - one request to slnf-orch's REST API as the tests make it:
JSON in, (status, parsed JSON or None) out, with a bearer token when given.
Error statuses are answers, not exceptions: tests assert on them.
"""

import json
import urllib.error
import urllib.request


def call(url, method, path, body=None, token=None, raw=None, timeout=10):
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None
                                        else None)
    req = urllib.request.Request(url + path, data=data, method=method)
    if token is not None:
        req.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            status, text = r.status, r.read()
    except urllib.error.HTTPError as e:
        status, text = e.code, e.read()
    return status, (json.loads(text) if text.strip() else None)
