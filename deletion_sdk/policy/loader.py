"""Finding, parsing and validating policy files.

Policies are looked up by id in, first, an explicit directory (the ``policy_dir`` argument; the
deployment's :class:`~deletion_sdk.policy.resolver.PolicyResolver` passes its own) and then the built-in
``policies/`` shipped with the SDK. Nothing here reads the environment. A malformed file raises
:class:`PolicyError` naming the file, the line and the field.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from deletion_sdk.errors import PolicyError, UnknownPolicyError
from deletion_sdk.policy.schema import Policy

__all__ = [
    "BUILTIN_POLICY_DIR",
    "MAX_DEPTH",
    "MAX_POLICY_BYTES",
    "list_policies",
    "load_policy",
    "load_policy_file",
    "policy_dirs",
]

BUILTIN_POLICY_DIR = Path(__file__).resolve().parent / "builtin"
MAX_POLICY_BYTES = 256 * 1024
MAX_DEPTH = 16  # the schema needs 4; anything deeper is not a policy


def policy_dirs(policy_dir: Path | None = None) -> list[Path]:
    """Directories searched for policies, highest precedence first: ``policy_dir``, then the built-ins."""
    dirs: list[Path] = []
    if policy_dir is not None:
        dirs.append(Path(policy_dir))
    dirs.append(BUILTIN_POLICY_DIR)
    return dirs


def _node_line(root: yaml.Node | None, loc: Sequence[int | str]) -> int:
    """1-based line of the YAML node at ``loc`` (or of its nearest existing parent)."""
    node = root
    line = (root.start_mark.line + 1) if root is not None else 1
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            match = next((v for k, v in node.value if getattr(k, "value", None) == key), None)
            if match is None:
                return line
            key_node = next(k for k, v in node.value if v is match)
            line, node = key_node.start_mark.line + 1, match
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def _problem(e: yaml.YAMLError) -> tuple[int, str]:
    mark = getattr(e, "problem_mark", None)
    line = mark.line + 1 if mark is not None else 1
    return line, getattr(e, "problem", None) or str(e).splitlines()[0]


def _check_shape(text: str, source: str) -> None:
    """Refuse, before anything is built from them, nesting deeper than MAX_DEPTH and anchors or aliases.

    PyYAML's parser is iterative, so this scan cannot itself recurse too deep; the composer that runs after
    it is recursive, and aliases could make a small file expand into a huge document.
    """
    depth = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        line = event.start_mark.line + 1 if event.start_mark is not None else 1
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise PolicyError(f"{source}:{line}: YAML anchors and aliases are not allowed in a policy")
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                raise PolicyError(f"{source}:{line}: nested deeper than {MAX_DEPTH} levels")
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def _check_duplicate_keys(root: yaml.Node | None, source: str) -> None:
    """Refuse a mapping that repeats a key at any level (YAML would silently keep the last one)."""
    stack = [(root, "")]
    while stack:
        node, where = stack.pop()
        if isinstance(node, yaml.MappingNode):
            seen: dict[object, int] = {}
            for key, value in node.value:
                name = key.value if isinstance(key, yaml.ScalarNode) else repr(key.value)
                line = key.start_mark.line + 1
                path = f"{where}.{name}" if where else str(name)
                if name in seen:
                    raise PolicyError(
                        f"{source}:{line}: duplicate key '{path}' (first at line {seen[name]}); "
                        "a repeated key would silently replace the first"
                    )
                seen[name] = line
                stack.append((value, path))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((item, f"{where}[{i}]") for i, item in enumerate(node.value))


def _parse(text: str, source: str) -> tuple[Any, yaml.Node | None]:
    try:
        _check_shape(text, source)
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        _check_duplicate_keys(root, source)
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        line, problem = _problem(e)
        raise PolicyError(f"{source}:{line}: not valid YAML: {problem}") from e
    except RecursionError as e:  # defence in depth: the shape check above should make this unreachable
        raise PolicyError(f"{source}:1: nested too deeply") from e
    if not isinstance(data, dict):
        raise PolicyError(
            f"{source}:1: a policy must be a YAML mapping of fields. Got {type(data).__name__}."
        )
    return data, root


def _check_methods(policy: Policy, root: yaml.Node | None, source: str) -> None:
    """Every method the policy names must be a registered unlearner (built-in or plugin).

    Raises:
        PolicyError: naming the file, the line, the unknown method and what is registered.
    """
    from deletion_sdk.unlearning.registry import list_unlearners  # torch only when a policy is loaded

    known = set(list_unlearners())
    for i, method in enumerate(policy.unlearning.methods):
        if method not in known:
            line = _node_line(root, ("unlearning", "methods", i))
            raise PolicyError(
                f"{source}:{line}: field 'unlearning.methods': unknown unlearner {method!r}; "
                f"registered: {', '.join(sorted(known)) or 'none'}"
            )


def load_policy_file(path: Path | str, *, check_methods: bool = True) -> Policy:
    """Parse and validate one policy file; its ``digest`` is the SHA-256 of the file's bytes.

    Strict: a key repeated at any level, nesting deeper than :data:`MAX_DEPTH`, anchors or aliases, a file
    over :data:`MAX_POLICY_BYTES` or not UTF-8, and (with ``check_methods``) a method that is not a
    registered unlearner are all refused.

    Args:
        path: the policy file.
        check_methods: refuse methods that are not registered unlearners (built-in or plugin).

    Raises:
        PolicyError: the file is unreadable, not YAML, or a field is missing or invalid
            (the message names the file, line and field).
    """
    p = Path(path)
    try:
        with p.open("rb") as fh:
            raw = fh.read(MAX_POLICY_BYTES + 1)
    except OSError as e:
        raise PolicyError(f"{p}: cannot read policy file: {e.strerror or e}") from e
    if len(raw) > MAX_POLICY_BYTES:
        raise PolicyError(f"{p}: a policy file must be at most {MAX_POLICY_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise PolicyError(f"{p}:{line}: a policy file must be UTF-8 text") from e
    data, root = _parse(text, str(p))
    try:
        policy = Policy.model_validate({**data, "digest": hashlib.sha256(raw).hexdigest()})
    except ValidationError as e:
        err = e.errors()[0]
        loc = tuple(err["loc"])
        field = ".".join(str(part) for part in loc) or "(document)"
        line = _node_line(root, loc)
        extra = f" (and {e.error_count() - 1} more)" if e.error_count() > 1 else ""
        raise PolicyError(f"{p}:{line}: field '{field}': {err['msg']}{extra}") from e
    if p.stem != policy.id:
        raise PolicyError(
            f"{p}:{_node_line(root, ('id',))}: field 'id': must match the file name '{p.stem}'."
        )
    if check_methods:
        _check_methods(policy, root, str(p))
    return policy


def list_policies(*, policy_dir: Path | None = None) -> list[Policy]:
    """Every policy found, sorted by id; an explicit directory overrides a built-in of the same id."""
    found: dict[str, Policy] = {}
    for directory in reversed(policy_dirs(policy_dir)):
        for file in sorted(directory.glob("*.yaml")) if directory.is_dir() else []:
            policy = load_policy_file(file)
            found[policy.id] = policy
    return [found[k] for k in sorted(found)]


def load_policy(policy_id: str, *, policy_dir: Path | None = None) -> Policy:
    """The policy with id ``policy_id``.

    Raises:
        UnknownPolicyError: no such policy (the message lists the known ids).
        PolicyError: the policy file is malformed.
    """
    if not isinstance(policy_id, str) or not policy_id:
        raise UnknownPolicyError(f"The 'policy' parameter must be a policy id. Got {policy_id!r} instead.")
    for directory in policy_dirs(policy_dir):
        candidate = directory / f"{policy_id}.yaml"
        if candidate.is_file():
            return load_policy_file(candidate)
    known = sorted({f.stem for d in policy_dirs(policy_dir) if d.is_dir() for f in d.glob("*.yaml")})
    raise UnknownPolicyError(f"Unknown policy {policy_id!r}. Known policies: {', '.join(known) or 'none'}.")
