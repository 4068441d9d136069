"""Checked now, not as recorded: can the commit still be fetched, can each data version still be
retrieved, is the image a run ran in still present or pullable? Reads only (a fetch goes into a
temporary bare repository; an image is looked up, never pulled)."""

from __future__ import annotations

import configparser
import tempfile
from dataclasses import dataclass
from pathlib import Path

from mlflow_repro import process
from mlflow_repro.manifest import Code, Container, Data, DataFile
from mlflow_repro.replay.data import cache_dir
from mlflow_repro.secrets import strip_url_credentials

FETCH_TIMEOUT = 120.0
REGISTRY_TIMEOUT = 20.0
# What a registry may answer for a manifest by digest (Docker and OCI, single and multi-platform)
MANIFEST_TYPES = ", ".join(
    [
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    ]
)


@dataclass(frozen=True)
class Found:
    where: str | None  # the source that has it (credential-free), None when none does
    kind: str  # "remote", "local", "cache", "registry", "unchecked" or "none"
    tried: list[str]


def _local_path(source: str) -> Path | None:
    if source.startswith("file://"):
        return Path(source.removeprefix("file://"))
    if "://" in source or (":" in source.split("/")[0] and not source.startswith("/")):
        return None  # a URL or scp-like host:path
    return Path(source)


def _has_commit(repository: Path, commit: str) -> bool:
    done = process.run(["git", "-C", str(repository), "cat-file", "-e", f"{commit}^{{commit}}"])
    return done.ok


def _fetchable(url: str, commit: str) -> tuple[bool, str]:
    """Fetch just `commit` (depth 1) from `url` into a throwaway bare repository."""
    with tempfile.TemporaryDirectory(prefix="mlflow-repro-audit-") as tmp:
        if not process.run(["git", "init", "--quiet", "--bare", tmp]).ok:
            return False, "git init failed"
        done = process.run(
            ["git", "-C", tmp, "fetch", "--quiet", "--depth=1", "--no-tags", url, commit],
            timeout=FETCH_TIMEOUT,
        )
        return done.ok, done.reason[:200]


def find_commit(code: Code, repo_root: str | None = None) -> Found:
    """The first source holding `code.commit`: the recorded remote, then the local repository
    (`repo_root`: where this machine has it, a container run's on its launching side)."""
    commit = code.commit or ""
    repo_root = repo_root or code.repo_root
    tried: list[str] = []
    if code.remote_url:
        shown = strip_url_credentials(code.remote_url)
        local = _local_path(code.remote_url)
        if local is not None:
            if local.exists() and _has_commit(local, commit):
                return Found(shown, "remote", tried)
            tried.append(f"{shown} (no such commit there)" if local.exists() else f"{shown} (gone)")
        else:
            ok, why = _fetchable(code.remote_url, commit)
            if ok:
                return Found(shown, "remote", tried)
            tried.append(f"{shown} (fetch failed: {why or 'not found'})")
    if repo_root:
        root = Path(repo_root)
        if (root / ".git").exists() and _has_commit(root, commit):
            return Found(str(root), "local", tried)
        tried.append(f"{root} (gone)" if not root.exists() else f"{root} (no such commit)")
    return Found(None, "none", tried)


def _remotes(dvc_root: Path) -> list[tuple[str, str]]:
    """(name, url) of the repository's DVC remotes, relative local paths resolved against .dvc/."""
    found: dict[str, str] = {}
    for name in ("config", "config.local"):
        parser = configparser.ConfigParser(interpolation=None)
        try:
            parser.read(dvc_root / ".dvc" / name, encoding="utf-8")
        except (configparser.Error, UnicodeDecodeError):
            continue
        for section in parser.sections():
            label = section.strip("'")
            if label.startswith('remote "') and parser.has_option(section, "url"):
                url = parser.get(section, "url").strip()
                if "://" not in url and not Path(url).is_absolute():
                    url = str((dvc_root / ".dvc" / url).resolve())
                found[label.removeprefix('remote "').rstrip('"')] = url
    return sorted(found.items())


def _in_store(store: Path, md5: str) -> bool:
    """A DVC cache or local remote holds the object (DVC 3 `files/md5/` or DVC 2 layout); for a
    directory, its listing and every file the listing names."""
    import json

    def has(digest: str) -> Path | None:
        for path in (
            store / "files" / "md5" / digest[:2] / digest[2:],
            store / digest[:2] / digest[2:],
        ):
            if path.is_file():
                return path
        return None

    listing = has(md5)
    if not md5.endswith(".dir"):
        return listing is not None
    if listing is None:
        return False
    try:
        entries = json.loads(listing.read_text("utf-8"))
    except (OSError, ValueError):
        return False
    return all(has(str(entry.get("md5", ""))) is not None for entry in entries)


def find_data(data: Data, file: DataFile, dvc_root: str | None = None) -> Found:
    """Where the recorded version of `file` can be retrieved from now. `dvc_root`: the DVC
    root where this machine has it (a container run's, on its launching side), else the one
    recorded."""
    tried: list[str] = []
    dvc_root = dvc_root or data.dvc_root
    if not dvc_root:
        return Found(None, "none", ["no DVC repository recorded"])
    root = Path(dvc_root)
    if not root.exists():
        return Found(None, "none", [f"{root} (gone): its cache and remote settings with it"])
    cache = cache_dir(root)
    if _in_store(cache, file.md5):
        return Found(str(cache), "cache", tried)
    tried.append(f"cache {cache}")
    unchecked = []
    for name, url in _remotes(root):
        local = _local_path(url)
        if local is None:
            unchecked.append(f"{name} ({strip_url_credentials(url)})")
            continue
        if _in_store(local, file.md5):
            return Found(f"remote {name} ({local})", "remote", tried)
        tried.append(f"remote {name} ({local})")
    if unchecked:
        return Found(", ".join(unchecked), "unchecked", tried)
    return Found(None, "none", tried)


def _registry_url(repo_digest: str) -> tuple[str, str, str] | None:
    """(base URL, repository path, digest) of `repository@sha256:...` as Docker resolves it: a
    first component with a dot, a colon or `localhost` names the registry (loopback ones speak
    http, as Docker allows them without TLS), else Docker Hub (`library/` for one component)."""
    name, sep, digest = repo_digest.partition("@")
    if not sep or not digest.startswith("sha256:") or not name:
        return None
    first, slash, rest = name.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        host, path = first, rest
    else:
        host, path = "registry-1.docker.io", name if "/" in name else f"library/{name}"
    bare = host.rsplit(":", 1)[0] if not host.startswith("[") else host.split("]")[0] + "]"
    loopback = bare in ("localhost", "[::1]") or bare.startswith("127.")
    return f"{'http' if loopback else 'https'}://{host}", path, digest


def _http_head(url: str, headers: dict[str, str]) -> tuple[int | None, dict[str, str], str]:
    """The status and headers of a HEAD request (None and why when no answer came)."""
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, method="HEAD", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=REGISTRY_TIMEOUT) as answer:
            return answer.status, dict(answer.headers.items()), ""
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers.items()) if exc.headers else {}, str(exc.reason)
    except (OSError, ValueError) as exc:  # URLError, timeouts, refused connections, TLS
        return None, {}, str(getattr(exc, "reason", exc))[:200]


def _anonymous_token(challenge: str) -> str | None:
    """A pull token for a registry's `Bearer realm=...,service=...,scope=...` challenge, asked
    for without credentials (public images on Docker Hub and most registries)."""
    import json
    import re
    import urllib.parse
    import urllib.request

    fields = dict(re.findall(r'(\w+)="([^"]*)"', challenge))
    realm = fields.pop("realm", "")
    if not challenge.lower().startswith("bearer") or not realm.startswith("https://"):
        return None
    try:
        url = realm + "?" + urllib.parse.urlencode(fields)
        with urllib.request.urlopen(url, timeout=REGISTRY_TIMEOUT) as answer:
            data = json.loads(answer.read(65536))
        token = data.get("token") or data.get("access_token")
        return str(token) if token else None
    except (OSError, ValueError, AttributeError):
        return None


def registry_has(repo_digest: str) -> tuple[bool | None, str]:
    """Whether the registry `repo_digest` names serves that manifest now, without pulling the
    image: a registry v2 HEAD on /v2/<name>/manifests/<digest> (with an anonymous pull token
    where it asks for one), then, when that gives no answer either way, `docker manifest inspect
    --insecure` (with the Docker client's own credentials). (True, the registry): pullable;
    (False, why): the registry says it has no such manifest; (None, why): no answer
    (unreachable, credentials needed)."""
    located = _registry_url(repo_digest)
    if located is None:
        return False, f"not a repository@sha256 digest: {repo_digest!r}"
    base, path, digest = located
    registry = base.split("://", 1)[1]
    url = f"{base}/v2/{path}/manifests/{digest}"
    headers = {"Accept": MANIFEST_TYPES}
    status, answer, why = _http_head(url, headers)
    if status == 401:
        challenge = next((v for k, v in answer.items() if k.lower() == "www-authenticate"), "")
        token = _anonymous_token(challenge)
        if token is not None:
            status, answer, why = _http_head(url, {**headers, "Authorization": f"Bearer {token}"})
    if status == 200:
        return True, registry
    if status == 404:
        return False, f"registry {registry} has no such manifest (HTTP 404)"
    said = f"registry {registry}: " + (
        f"HTTP {status}" if status is not None else why or "no answer"
    )
    from mlflow_repro.container import docker

    client = docker.binary()
    if client is None:
        return None, said
    done = process.run(
        [client, "manifest", "inspect", "--insecure", repo_digest], timeout=REGISTRY_TIMEOUT * 2
    )
    if done.ok:
        return True, registry
    return None, f"{said}; docker manifest inspect: {done.reason[-200:] or 'failed'}"


def find_image(container: Container) -> Found:
    """Where the image `container` records can be had now: the local Docker engine holding its
    id, else the registry its repository digest names (checked, not pulled). "unchecked" when no
    Docker daemon answers and no registry confirms it (nothing here can say it is gone)."""
    from mlflow_repro.container import docker

    tried: list[str] = []
    short = container.image_id[:19]
    problem = docker.daemon_problem()
    if problem is None:
        info = docker.inspect_image(container.image_id) if container.image_id else None
        if info is not None and info.id == container.image_id:
            return Found("the local Docker engine", "local", tried)
        tried.append(f"the local Docker engine (no image {short or container.image})")
    else:
        tried.append(f"the local Docker engine: {problem}")
    if container.repo_digest:
        has, said = registry_has(container.repo_digest)
        if has:
            return Found(f"registry {said}", "registry", tried)
        tried.append(said)  # it names the registry
    else:
        tried.append("no registry: the image has no repository digest (never pushed or pulled)")
    return Found(None, "unchecked" if problem is not None else "none", tried)
