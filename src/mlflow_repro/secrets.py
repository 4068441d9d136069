"""Keep secrets out of what capture records: URLs, command lines, file names and file contents.

Conservative on purpose: a false positive withholds a payload (and names it in the manifest);
a false negative would leak a credential into the tracking store.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
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
    rb"|sk-(?=[A-Za-z0-9_\-]*\d)[A-Za-z0-9_\-]{20,}"  # OpenAI/Anthropic-style keys (a digit)
    rb"|hf_[A-Za-z0-9]{30,}"  # Hugging Face
    rb"|(?:A3T[A-Z0-9]|ASIA|AGPA|AIDA|AROA|ANPA|ANVA)[0-9A-Z]{16}"  # other AWS key ids
    rb"|AIza[0-9A-Za-z_\-]{35}"  # Google API key
    rb"|ya29\.[0-9A-Za-z_\-]{20,}"  # Google OAuth access token
    rb"|(?:sk|rk|pk)_(?:live|test)_[0-9A-Za-z]{16,}"  # Stripe
    rb"|whsec_[0-9A-Za-z]{20,}"  # Stripe webhook secret
    rb"|npm_[A-Za-z0-9]{36}"  # npm
    rb"|pypi-AgE[A-Za-z0-9_\-]{40,}"  # PyPI upload token
    rb"|SG\.[A-Za-z0-9_\-]{16,}\.[A-Za-z0-9_\-]{16,}"  # SendGrid
    rb"|dop_v1_[a-f0-9]{64}"  # DigitalOcean
    rb"|dapi[a-f0-9]{32}"  # Databricks
    rb"|shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}"  # Shopify
    rb"|sq0(?:atp|csp)-[0-9A-Za-z_\-]{22,}"  # Square
    rb"|glc_[A-Za-z0-9+/]{32,}={0,2}"  # Grafana Cloud
    rb"|lin_api_[A-Za-z0-9]{40}"  # Linear
    rb"|xapp-\d-[A-Z0-9]+-\d+-[a-z0-9]+"  # Slack app token
    rb"|hooks\.slack\.com/services/T[A-Za-z0-9_]+/B[A-Za-z0-9_]+/[A-Za-z0-9_]+"  # Slack webhook
    rb"|discord(?:app)?\.com/api/webhooks/\d+/[A-Za-z0-9_\-]{20,}"  # Discord webhook
    rb"|(?i:AccountKey=[A-Za-z0-9+/=]{40,})"  # Azure storage connection string
    rb"|(?i:SharedAccessSignature=[A-Za-z0-9%+/=&]{20,}|[?&]sig=[A-Za-z0-9%]{20,})"  # Azure SAS
    rb"|(?i:aws_secret_access_key\s*[=:]\s*[\"']?[A-Za-z0-9/+=]{40})"  # AWS secret key
    rb"|eyJ[A-Za-z0-9_\-]{10,}\.eyJ[A-Za-z0-9_\-]{10,}\."  # JWT
    # scheme://user:password@host, not a placeholder (password, ***, <pw>, ${VAR}, xxx). The
    # user may be empty (`redis://:<password>@cache`); the password may hold a raw `/`, `?` or
    # `#` unless what follows the colon is a port (`https://host:8443/org/pkg@v1`).
    rb"|[A-Za-z][A-Za-z0-9+.\-]*://[^/\s:@]*:(?!\d*[/?#])"
    rb"(?!(?i:password|passwd|pass|passphrase|pwd|secret|token|x+|\*+|<[^>@]*>|\$\{?[A-Za-z_]+\}?)@)"
    rb"[^@\s]+@"
    rb"|(?i:\bbearer\s+[A-Za-z0-9._~+/\-]{8,})"  # Authorization: Bearer <token>
    rb"|(?im:^\s*(?:machine\s+\S+\s+)?(?:login\s+\S+\s+)?password\s+[^\s=:]+\s*$)"  # .netrc
    # A keyword, then a literal value holding a digit, of token-like characters only: code such
    # as `token = uuid.uuid4().hex`, `token=page_token`, `tokens: TokenDetails` or
    # `SECRET = re.compile(` has no digit, or dots, parentheses, brackets; an upper-case name
    # with underscores (`TOKEN_VAR = "MLFLOW_REPRO_TOKEN"`) names a variable. Passwords with no
    # digit are left to the token formats above (false positives: measured, see _CANDIDATE).
    rb"|(?i:(?:api[_-]?key|secret|token|passw(?:or)?d|pwd|credential|auth)[A-Za-z0-9_\-]*)"
    rb"[\"']?\s*[:=]\s*[\"']?"
    rb"(?![A-Z]+(?:_[A-Z0-9]+)+[\"'\s,;])"
    rb"(?=[^\s\"'.(),;\[\]{}<>]*\d)(?=[^\s\"'.(),;\[\]{}<>]*[A-Za-z])"
    rb"[^\s\"'.(),;\[\]{}<>]{8,}+(?![.(\[])"
    # A password key with a quoted literal, or an unquoted value ending the line (YAML, INI)
    # that holds a digit or a symbol (a Python name on the right would hold neither); also in
    # prose (`Your new password is: ...`).
    rb"|(?i:(?:passw(?:or)?d|pwd)(?:\s+is)?[\"']?\s*[:=]\s*)"
    rb"(?:[\"'](?![A-Z]+(?:_[A-Z0-9]+)+[\"'])[^\s\"']{4,}[\"']"
    rb"|(?=[^\s\"'.(),;\[\]{}<>]*[\d\-!@#$%^&*~+])[^\s\"'.(),;\[\]{}<>]{4,}+"
    rb"(?=[ \t]*(?:\r?\n|\Z)))"
    # `pass` as a whole key (`pass:`, `db_pass =`; not `bypass`), quoted or not, with a digit or
    # a symbol in the value: enum members (`PASS = "pass"`) and words (`'pass': 'bandpass'`) are
    # not passwords.
    rb"|(?i:(?<![A-Za-z])pass[\"']?\s*[:=]\s*)[\"']?"
    rb"(?=[^\s\"'.(),;\[\]{}<>]*[\d\-!@#$%^&*~+])[^\s\"'.(),;\[\]{}<>]{4,}+"
    rb"(?=[\"']|[ \t]*(?:\r?\n|\Z))"
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
_SECRET_OPTION = re.compile(
    r"(?i)^--?[a-z0-9_\-]*"
    r"(?:token|secret|passw|pwd|passphrase|key|auth|cred|bearer|cookie|signature|jwt|sas)"
    r"|^--?pass(?:=|$)"
    # Short spellings: `-p <value>` (mysql and many CLIs; lower case only: `-P` is `mlflow run`'s
    # parameters; a port or a path after `-p` is withheld too, and replay then refuses the script,
    # saying why) and `--pw`, `--db-pw`.
    r"|^(?-i:-p)(?:=|$)|^--?(?:[a-z0-9]+[_\-])*pw(?:=|$)"
)


def is_secret_name(path: str) -> bool:
    """True when a file's name says it holds a secret (`.env`, `id_rsa`, `*.pem`, ...)."""
    return bool(_SECRET_NAMES.match(PurePosixPath(path).name))


# Entropy: a run of 20-100 token characters (no known prefix needed) with upper case, lower case
# and digits, few word-like runs (CamelCase identifiers such as `UpsamplingBilinear2d` have many),
# and a Shannon entropy near that of random text. Not preceded by `.`, `/`, `:`, `@`, ... so URL
# paths and host names are not taken for keys; 80 % of random 20-40 character base62 strings are
# caught. False positives of the whole screen (has_secret_content on each line of every `*.py`
# of the installed libraries): 42 lines in 3.0 M (0.14 per 10,000) when first measured; in the
# environment `just install-frameworks` makes (PyTorch, TensorFlow, ...: 9.1 M lines) 728 lines
# (0.80) before the rules for issue 23 and 796 (0.87) after: 71 more, 67 of them sha256 digests
# quoted on lines that do not say so (Keras weights, NumPy test vectors), 4 URL passwords in
# docs' examples; 3 fewer (`:TOKEN@` placeholders).
_CANDIDATE = re.compile(
    rb"(?<![A-Za-z0-9+/=_\-.:@%#?&\\])[A-Za-z0-9+/_\-]{20,100}={0,2}(?![A-Za-z0-9+/=_\-])"
)
_WORDY = re.compile(rb"[a-z]{4,}|[A-Z]{4,}")


def _random_looking(token: bytes) -> bool:
    import math
    from collections import Counter

    if not (
        re.search(rb"[a-z]", token) and re.search(rb"[A-Z]", token) and re.search(rb"\d", token)
    ):
        return False
    if sum(len(w) for w in _WORDY.findall(token)) >= 0.3 * len(token):
        return False
    counts, n = Counter(token), len(token)
    entropy = -sum(c / n * math.log2(c / n) for c in counts.values())
    return entropy >= min(4.3, 0.85 * math.log2(n))


@dataclass(frozen=True)
class Allowlist:
    """False positives a team marks, in the form of gitleaks' `[allowlist]` (`.gitleaks.toml` at
    the repository root): `regexes` matched against what was found, `stopwords` contained in it,
    `paths` matched against the file's path (its content is then not screened; a secret-looking
    file name still is)."""

    regexes: tuple[re.Pattern[bytes], ...] = ()
    stopwords: tuple[bytes, ...] = ()
    paths: tuple[re.Pattern[str], ...] = ()

    def allows(self, found: bytes) -> bool:
        return any(r.search(found) for r in self.regexes) or any(
            w in found.lower() for w in self.stopwords
        )

    def allows_path(self, path: str) -> bool:
        return any(r.search(path) for r in self.paths)


NO_ALLOWLIST = Allowlist()


def load_allowlist(root: Path | None) -> tuple[Allowlist, str | None]:
    """The `[allowlist]` of `<root>/.gitleaks.toml`, and an error when it cannot be used."""
    file = root / ".gitleaks.toml" if root is not None else None
    if file is None or not file.is_file():
        return NO_ALLOWLIST, None
    import tomllib

    try:
        table = tomllib.loads(file.read_text("utf-8")).get("allowlist", {})
        return Allowlist(
            regexes=tuple(re.compile(str(r).encode()) for r in table.get("regexes", [])),
            stopwords=tuple(str(w).lower().encode() for w in table.get("stopwords", [])),
            paths=tuple(re.compile(str(r)) for r in table.get("paths", [])),
        ), None
    except (OSError, ValueError, re.error, AttributeError, TypeError) as exc:
        return NO_ALLOWLIST, f"{file.name} not used: {exc}"


# A PEM block base64-encoded once more (a key in a YAML or JSON value, kubeconfig's
# `client-key-data`): an encoding of "-----BEGIN" at one of its three alignments (the characters
# that do not depend on the bytes before it). The text around it is decoded and withheld unless
# every block it begins is public (certificates, public keys, parameters).
_BASE64_PEM = re.compile(rb"LS0tLS1CRUdJT|0tLS0tQkVHSU|tLS0tLUJFR0lO")
_BASE64_RUN = re.compile(rb"[A-Za-z0-9+/_\-]{0,96}")
_BASE64_BYTES = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/_-")
_PUBLIC_PEM = re.compile(rb"[A-Z0-9 ]*(?:CERTIFICATE|PUBLIC KEY|PARAMETERS|X509 CRL)[A-Z ]*-----")


def _encoded_private_key(data: bytes, match: re.Match[bytes]) -> bytes | None:
    """The base64 text around `match` when it encodes a private key's block."""
    import binascii

    start = match.start()  # back to the start of its group of four: at most three characters
    while start > max(0, match.start() - 3) and data[start - 1] in _BASE64_BYTES:
        start -= 1
    end = _BASE64_RUN.match(data, match.end())
    run = data[start : end.end() if end else match.end()]
    standard = run.replace(b"-", b"+").replace(b"_", b"/")
    for offset in range(4):
        chunk = standard[offset:]
        try:
            decoded = binascii.a2b_base64(chunk[: len(chunk) // 4 * 4])
        except binascii.Error:
            continue
        blocks = decoded.split(b"-----BEGIN ")[1:]
        if blocks:  # one alignment decodes to the header; a cut-off header is not public
            return None if all(_PUBLIC_PEM.match(block) for block in blocks) else run
    return None  # not a header after all (the prefix alone, as in this file)


# A 64-digit hex literal in quotes (`secrets.token_hex(32)`, an HMAC key), keyword or not. The
# same form is a sha256 digest, so not on a line that says so (`sha256`, `hash`, `checksum`,
# ...; `shared_key` does not): lock files write `sha256:<hex>` and dvc files `md5: <hex>`,
# outside quotes. Shorter hex (MD5s, run ids, git commits) is left to the keyword rules.
_HEX_LITERAL = re.compile(
    rb"[\"'](?=(?:[0-9]*[a-fA-F]){8})(?=(?:[a-fA-F]*[0-9]){8})(?:[0-9a-f]{64}|[0-9A-F]{64})[\"']"
)
_HASH_WORDS = re.compile(
    rb"(?i)sha[-_]?(?:1|224|256|384|512|3)|\bsha\b|hash|digest|checksum|md5|blake|fingerprint"
    rb"|\bsum\b|\betag\b"
)


def _hex_key(data: bytes, match: re.Match[bytes]) -> bool:
    start = data.rfind(b"\n", 0, match.start()) + 1
    end = data.find(b"\n", match.end())
    return not _HASH_WORDS.search(data[start : end if end >= 0 else len(data)])


def has_secret_content(data: bytes, allow: Allowlist = NO_ALLOWLIST) -> bool:
    """A known credential format or keyword assignment, an encoded private key, a quoted 64-digit
    hex key, or a random-looking token, that the allowlist does not allow."""
    for match in SECRET_CONTENT.finditer(data):
        if not allow.allows(match.group(0)):
            return True
    for match in _BASE64_PEM.finditer(data):
        encoded = _encoded_private_key(data, match)
        if encoded and not allow.allows(encoded):
            return True
    for match in _HEX_LITERAL.finditer(data):
        if _hex_key(data, match) and not allow.allows(match.group(0)):
            return True
    for match in _CANDIDATE.finditer(data):
        token = match.group(0)
        if _random_looking(token) and not allow.allows(token):
            return True
    return False


def has_secret_in_file(path: str, data: bytes, allow: Allowlist = NO_ALLOWLIST) -> bool:
    """has_secret_content, and for a notebook (`.ipynb`) also its text as the cells hold it: in
    the JSON a quote is `\\"` and a line break `\\n`, which hide `TOKEN = \\"...\\"` from the
    keyword rules and a key printed on a line of its own from the entropy rule. Each string is
    screened decoded (cell sources and outputs, one cell's lines joined); bytes that do not decode
    as JSON (a diff chunk of a notebook) are screened with the JSON escapes undone."""
    if has_secret_content(data, allow):
        return True
    if not path.lower().endswith(".ipynb"):
        return False
    import json

    try:
        texts = list(_strings(json.loads(data)))
    except (ValueError, RecursionError):
        texts = [_JSON_ESCAPE.sub(_unescape, data)]
    return any(has_secret_content(text, allow) for text in texts)


def _strings(value: object) -> Iterator[bytes]:
    """Every string in a decoded JSON value; a list of strings (a cell's source or output lines)
    joined into one."""
    if isinstance(value, str):
        yield value.encode("utf-8", "surrogatepass")
    elif isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        yield "".join(value).encode("utf-8", "surrogatepass")
    elif isinstance(value, (list, dict)):
        for item in value.values() if isinstance(value, dict) else value:
            yield from _strings(item)


_JSON_ESCAPE = re.compile(rb'\\(?:u([0-9a-fA-F]{4})|(["\\/bfnrt]))')
_SIMPLE_ESCAPES = {b"b": b"\b", b"f": b"\f", b"n": b"\n", b"r": b"\r", b"t": b"\t"}


def _unescape(match: re.Match[bytes]) -> bytes:
    if match.group(1):
        return chr(int(match.group(1), 16)).encode("utf-8", "surrogatepass")
    return _SIMPLE_ESCAPES.get(match.group(2), match.group(2))


def redact_path(path: str) -> str:
    """`path` as capture may record it: each part whose name holds a credential (an untracked
    `notes-ghp_<...>.txt`) replaced by `<withheld-sha256:<16 hex digits of the name's sha256>>`,
    which tells two withheld names apart without showing either; the whole path so when no one
    part does but the path as a whole does. A clean path comes back unchanged."""
    import hashlib

    def hidden(name: str) -> str:
        digest = hashlib.sha256(name.encode("utf-8", "surrogateescape")).hexdigest()[:16]
        return f"<withheld-sha256:{digest}>"

    if not has_secret_content(path.encode("utf-8", "surrogateescape")):
        return path
    parts = [
        hidden(part) if has_secret_content(part.encode("utf-8", "surrogateescape")) else part
        for part in path.split("/")
    ]
    shown = "/".join(parts)
    return shown if shown != path else hidden(path)


_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>]+")


def redact_urls(text: str) -> str:
    """`text` with every URL in it stripped of credentials, query and fragment (for messages that
    quote a tool's output or a tracking URI)."""
    return _URL.sub(lambda match: strip_url_credentials(match.group(0)), text)


# A fragment that says what to build from a requirement's URL (`#subdirectory=pkg`); any other
# may hold a token.
_BUILD_FRAGMENT = re.compile(
    r"#(?:subdirectory|egg)=[A-Za-z0-9._\-/]+(?:&(?:subdirectory|egg)=[A-Za-z0-9._\-/]+)*$"
)


# Where strip_url_credentials could change a URL: a user (`@`), a query or a fragment, or a host
# urlsplit refuses (brackets, non-ASCII). Text with none of them has no URL to redact; a lock
# export is thousands of index URLs with none (pylock.toml: 0.9 MB, ~50 ms URL by URL).
_BRACKETED_HOST = re.compile(r"://[^/\s'\"<>]*[\[\]]")


def _no_url_to_redact(text: str) -> bool:
    return (
        text.isascii()
        and "@" not in text
        and "?" not in text
        and "#" not in text
        and not _BRACKETED_HOST.search(text)
    )


def redact_requirement_urls(text: str) -> str:
    """Requirements text (or a `pylock.toml`) with every URL in it stripped of credentials and
    query, as strip_url_credentials does, keeping a `#subdirectory=` or `#egg=` fragment (the
    line still names what to install; at replay a private index may need the user's own
    credentials)."""
    return text if _no_url_to_redact(text) else _URL.sub(_redact_requirement_url, text)


def _redact_requirement_url(match: re.Match[str]) -> str:
    url = match.group(0)
    kept = strip_url_credentials(url)
    fragment = _BUILD_FRAGMENT.search(url)
    return kept + fragment.group(0) if fragment and kept != WITHHELD else kept


def strip_url_credentials(url: str) -> str:
    """Drop user, password, query and fragment from a URL (`https://tok@host/x?sig=..` ->
    `https://host/x`): presigned and token URLs carry their secrets in either place.

    scp-like git URLs (`git@host:org/repo.git`) and ssh users keep their user name, which is not
    a secret. A URL that cannot be parsed is withheld whole, and so is one that cannot be told
    from a password holding a raw `/`, `?` or `#` (`https://host:8443/org/pkg@v1`, which could
    be user `host` and password `8443/org/pkg`).
    """
    if "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    head = re.split(r"[/?#]", rest, maxsplit=1)[0]
    if ":" in head and "@" not in head and "@" in rest and not head.startswith("["):
        # `u:pa#ss@host/x`: urlsplit would end the netloc at the `#` and keep `u:pa`.
        after = rest.split("@", 1)[1]
        if head.split(":", 1)[1].isdigit() or head.endswith(":") or "@" in after:
            return WITHHELD  # a port, or where the password ends: cannot tell
        return strip_url_credentials(f"{scheme}://{after}")
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
