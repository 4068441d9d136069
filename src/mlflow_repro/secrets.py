"""Keep secrets out of what capture records: URLs, command lines, file names and file contents.

Conservative on purpose: a false positive withholds a payload (and names it in the manifest);
a false negative would leak a credential into the tracking store.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from urllib.parse import urlsplit, urlunsplit

WITHHELD = "<withheld>"

# Content that looks like a credential.
SECRET_CONTENT = re.compile(
    rb"-----BEGIN [A-Z ]*PRIVATE KEY-----"
    rb"|AKIA[0-9A-Z]{16}"  # AWS access key id
    rb"|gh[pousr]_[A-Za-z0-9]{30,}"  # GitHub tokens
    rb"|github_pat_[A-Za-z0-9_]{30,}"
    rb"|glpat-[A-Za-z0-9_\-]{20,}"  # GitLab
    rb"|xox[abprs]-[A-Za-z0-9\-]{10,}"  # Slack
    rb"|sk-[A-Za-z0-9_\-]{20,}"  # OpenAI-style keys
    rb"|hf_[A-Za-z0-9]{30,}"  # Hugging Face
    rb"|eyJ[A-Za-z0-9_\-]{10,}\.eyJ[A-Za-z0-9_\-]{10,}\."  # JWT
    rb"|[A-Za-z][A-Za-z0-9+.\-]*://[^/\s:@]+:[^@\s/]+@"  # scheme://user:password@host
    rb"|(?i:\bbearer\s+[A-Za-z0-9._~+/\-]{8,})"  # Authorization: Bearer <token>
    rb"|(?im:^\s*(?:machine\s+\S+\s+)?(?:login\s+\S+\s+)?password\s+\S+)"  # .netrc
    rb"|(?i:(?:passw(?:or)?d|pwd)[\"']?\s*[:=]\s*[\"']?[^\s\"']{4,})"
    rb"|(?i:(?:api[_-]?key|secret|token|passw(?:or)?d|credential|auth)[A-Za-z0-9_\-]*"
    rb"[\"']?\s*[:=]\s*[\"']?[^\s\"']{8,})"
)

# File names that hold secrets by convention: never uploaded, only named.
_SECRET_NAMES = re.compile(
    r"(?i)^(?:\.env(?:\..*)?|.*\.env|\.netrc|_netrc|\.pypirc|\.npmrc|\.git-credentials|credentials"
    r"|id_(?:rsa|dsa|ecdsa|ed25519)(?:\.pub)?|.*\.(?:pem|key|p12|pfx|jks|keystore|kdbx|ppk)"
    r"|service[-_]?account.*\.json"
    # "secret", "token", ... in a data file's name; source files such as secrets.py are code.
    r"|.*(?:secret|token|credential|passw(?:or)?d)[^.]*(?:\.(?:json|ya?ml|txt|ini|cfg|conf|toml))?)$"
)

# Command-line options whose value is a credential.
_SECRET_OPTION = re.compile(r"(?i)^--?[a-z0-9_\-]*(?:token|secret|passw|password|key|auth|cred)")


def is_secret_name(path: str) -> bool:
    """True when a file's name says it holds a secret (`.env`, `id_rsa`, `*.pem`, ...)."""
    return bool(_SECRET_NAMES.match(PurePosixPath(path).name))


def has_secret_content(data: bytes) -> bool:
    return SECRET_CONTENT.search(data) is not None


_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>]+")


def redact_urls(text: str) -> str:
    """`text` with every URL in it stripped of credentials, query and fragment (for messages that
    quote a tool's output or a tracking URI)."""
    return _URL.sub(lambda match: strip_url_credentials(match.group(0)), text)


def strip_url_credentials(url: str) -> str:
    """Drop user, password, query and fragment from a URL (`https://tok@host/x?sig=..` ->
    `https://host/x`): presigned and token URLs carry their secrets in either place.

    scp-like git URLs (`git@host:org/repo.git`) and ssh users keep their user name, which is not
    a secret. A URL that cannot be parsed is withheld whole.
    """
    if "://" not in url:
        return url
    try:
        parts = urlsplit(url)
    except ValueError:
        return WITHHELD
    netloc = parts.netloc
    if "@" not in netloc and not parts.query and not parts.fragment:
        # Nothing to strip; urlunsplit would also fold `sqlite:////abs` to `sqlite://abs`.
        return url
    if "@" in netloc:
        user, host = netloc.rsplit("@", 1)
        keep_user = parts.scheme in {"ssh", "git+ssh"} and ":" not in user
        netloc = netloc if keep_user else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def redact_argv(argv: list[str]) -> list[str]:
    """The command line with credential-like values replaced by `<withheld>`."""
    out: list[str] = []
    hide_next = False
    for arg in argv:
        if hide_next:
            out.append(WITHHELD)
            hide_next = False
            continue
        if _SECRET_OPTION.match(arg):
            if "=" in arg:
                out.append(arg.split("=", 1)[0] + "=" + WITHHELD)
            else:
                out.append(arg)
                hide_next = True
            continue
        if "://" in arg and "@" in arg:
            arg = strip_url_credentials(arg)
        if has_secret_content(arg.encode("utf-8", "surrogateescape")):
            out.append(WITHHELD)
            continue
        out.append(arg)
    return out
