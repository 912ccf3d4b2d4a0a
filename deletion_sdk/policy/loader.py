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

__all__ = ["BUILTIN_POLICY_DIR", "list_policies", "load_policy", "load_policy_file", "policy_dirs"]

BUILTIN_POLICY_DIR = Path(__file__).resolve().parent / "builtin"


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


def _parse(text: str, source: str) -> tuple[Any, yaml.Node | None]:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise PolicyError(f"{source}:{line}: not valid YAML: {problem}") from e
    if not isinstance(data, dict):
        raise PolicyError(
            f"{source}:1: a policy must be a YAML mapping of fields. Got {type(data).__name__}."
        )
    return data, root


def load_policy_file(path: Path | str) -> Policy:
    """Parse and validate one policy file; its ``digest`` is the SHA-256 of the file's bytes.

    Raises:
        PolicyError: the file is unreadable, not YAML, or a field is missing or invalid
            (the message names the file, line and field).
    """
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as e:
        raise PolicyError(f"{p}: cannot read policy file: {e.strerror}") from e
    data, root = _parse(raw.decode("utf-8", errors="replace"), str(p))
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
