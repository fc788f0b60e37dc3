#!/usr/bin/python3
# The app behind deploy/gateway/lighttpd.conf.example in tests/gateway/run.sh:
# a CGI program that knows nothing about sgID and takes the identity from the
# SGID_* variables lighttpd puts in its environment after the FastCGI
# authorizer (sgid-fcgi) said 200 with Variable-SGID_* headers.
#
# It answers JSON (when Accept names application/json before text/html) or an
# HTML page showing what it received:
#   identity  SGID_SUB, SGID_MYINFO_NAME, SGID_MYINFO_NRIC_NUMBER: raw and
#             percent-decoded, null when not set
#   env       every SGID_* variable, and every variable the client could
#             have made with its own headers that looks like one:
#             HTTP_X_SGID_*, HTTP_VARIABLE_*, HTTP_SGID_* (never trusted)
#   cookie    the Cookie header (HTTP_COOKIE) as received: [value], or []
# and, when a file requests.log exists next to it and is writable, one JSON
# line per request there (the test creates it to see which requests
# reached the app).
import html
import json
import os
import sys
import urllib.parse

FIELDS = {"sub": "SGID_SUB", "name": "SGID_MYINFO_NAME", "nric_number": "SGID_MYINFO_NRIC_NUMBER"}
SHOWN = ("SGID_", "HTTP_X_SGID_", "HTTP_VARIABLE_", "HTTP_SGID_")


def decode(value):
    try:
        return urllib.parse.unquote(value, errors="strict")
    except UnicodeDecodeError:
        return None


def wants_json(accept):
    j, h = accept.find("application/json"), accept.find("text/html")
    return j >= 0 and (h < 0 or j < h)


def main():
    env = os.environ
    identity = {
        key: ({"raw": env[var], "value": decode(env[var])} if var in env else None)
        for key, var in FIELDS.items()
    }
    info = {
        "app": "cgi",
        "method": env.get("REQUEST_METHOD", ""),
        "uri": env.get("REQUEST_URI", ""),
        "identity": identity,
        "env": {k: v for k, v in sorted(env.items()) if k.startswith(SHOWN)},
        "cookie": [env["HTTP_COOKIE"]] if "HTTP_COOKIE" in env else [],
    }
    log = os.path.join(os.path.dirname(os.path.abspath(__file__)), "requests.log")
    if os.access(log, os.W_OK):
        with open(log, "a", encoding="utf-8") as f:
            f.write(json.dumps(info) + "\n")
    if wants_json(env.get("HTTP_ACCEPT", "")):
        ctype, body = "application/json", json.dumps(info) + "\n"
    else:
        name = identity["name"] and identity["name"]["value"]
        greeting = "Hello, " + html.escape(name) if name else "Hello, anonymous visitor"
        ctype = "text/html; charset=utf-8"
        body = (
            "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<title>Gateway test app (CGI)</title></head><body>\n"
            f"<h1 id=\"greeting\">{greeting}</h1>\n"
            f"<p>Path: <code id=\"uri\">{html.escape(info['uri'])}</code></p>\n"
            "<p><a id=\"logout\" href=\"/api/logout?rd=/public/bye\">Log out</a></p>\n"
            f"<pre id=\"identity\">{html.escape(json.dumps(info, indent=2))}</pre>\n"
            "</body></html>\n"
        )
    out = sys.stdout.buffer
    out.write(f"Status: 200 OK\r\nContent-Type: {ctype}\r\nCache-Control: no-store\r\n\r\n".encode())
    if info["method"] != "HEAD":
        out.write(body.encode("utf-8"))


main()
