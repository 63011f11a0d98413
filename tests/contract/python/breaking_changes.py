"""Breaking-change guard: compares the current OpenAPI document with the released one.

    breaking_changes.py RELEASED CURRENT     exit 1 when CURRENT breaks clients of RELEASED
    breaking_changes.py --self-test RELEASED  prove the guard catches each kind of break

A change breaks existing clients when it removes an operation or a documented success
status, removes a response property or makes it optional, removes an enum value, adds a
required request property, header or parameter (a header required through an API-key
security scheme counts as a required header), makes an optional request body required, or
changes a type (a request may only accept more types, a response only return fewer). Such a
change passes only when the major number of `info.version` is raised.
"""

from __future__ import annotations

import copy
import json
import sys
from typing import Any

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def load(path: str) -> dict:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


class Side:
    """One document, with `$ref` resolution."""

    def __init__(self, doc: dict):
        self.doc = doc

    def resolve(self, node: Any) -> Any:
        seen = set()
        while isinstance(node, dict) and "$ref" in node:
            ref = node["$ref"]
            if ref in seen or not ref.startswith("#/"):
                break
            seen.add(ref)
            target: Any = self.doc
            for part in ref[2:].split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            # OpenAPI 3.1 allows siblings beside $ref (description, ...): keep them.
            node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
        return node


def types_of(schema: dict) -> set[str] | None:
    declared = schema.get("type")
    if declared is None:
        return None
    return {declared} if isinstance(declared, str) else set(declared)


class Guard:
    def __init__(self, old: dict, new: dict):
        self.old, self.new = Side(old), Side(new)
        self.breaks: list[str] = []

    def flag(self, where: str, what: str) -> None:
        self.breaks.append(f"{where}: {what}")

    # ---- schemas -------------------------------------------------------------------------

    def schema(self, where: str, old: Any, new: Any, direction: str, depth: int = 0) -> None:
        """direction: 'request' (what clients send) or 'response' (what clients read)."""
        old, new = self.old.resolve(old), self.new.resolve(new)
        if not isinstance(old, dict) or not isinstance(new, dict) or depth > 32:
            return
        old_types, new_types = types_of(old), types_of(new)
        if old_types is not None and new_types is not None:
            if direction == "request" and not old_types <= new_types:
                self.flag(where, f"type changed from {sorted(old_types)} to {sorted(new_types)}")
            if direction == "response" and not new_types <= old_types:
                self.flag(where, f"type changed from {sorted(old_types)} to {sorted(new_types)}")
        elif old_types != new_types and (old_types or new_types):
            self.flag(where, f"type changed from {old_types} to {new_types}")
        if "enum" in old:
            removed = [v for v in old["enum"] if v not in new.get("enum", old["enum"])]
            if removed:
                self.flag(where, f"enum value(s) removed: {removed}")
        if "items" in old and "items" in new:
            self.schema(f"{where}[]", old["items"], new["items"], direction, depth + 1)
        old_props, new_props = old.get("properties", {}), new.get("properties", {})
        old_required, new_required = set(old.get("required", [])), set(new.get("required", []))
        if direction == "request":
            for name in sorted(new_required - old_required):
                self.flag(where, f"request property '{name}' is now required")
        else:
            for name in sorted(old_props):
                if name not in new_props:
                    self.flag(where, f"response property '{name}' removed")
            for name in sorted(old_required - new_required):
                if name in new_props:
                    self.flag(where, f"response property '{name}' is no longer always present")
        for name in sorted(set(old_props) & set(new_props)):
            self.schema(f"{where}.{name}", old_props[name], new_props[name], direction, depth + 1)

    # ---- operations ----------------------------------------------------------------------

    def required_headers(self, side: Side, op: dict, path_item: dict) -> dict[str, dict]:
        """Required header and other parameters, keyed `in:name`; API-key schemes included."""
        found: dict[str, dict] = {}
        for param in path_item.get("parameters", []) + op.get("parameters", []):
            param = side.resolve(param)
            if param.get("required") or param.get("in") == "path":
                name = param["name"].lower() if param["in"] == "header" else param["name"]
                found[f"{param['in']}:{name}"] = param.get("schema", {})
        requirements = op.get("security", side.doc.get("security", []))
        schemes = side.doc.get("components", {}).get("securitySchemes", {})
        if requirements:
            # A scheme is required when every alternative needs it.
            needed = set.intersection(*(set(r) for r in requirements))
            for scheme_name in needed:
                scheme = side.resolve(schemes.get(scheme_name, {}))
                if scheme.get("type") == "apiKey":
                    name = scheme["name"].lower() if scheme["in"] == "header" else scheme["name"]
                    found.setdefault(f"{scheme['in']}:{name}", {"type": "string"})
                elif scheme.get("type") == "http":
                    found.setdefault("header:authorization", {"type": "string"})
        return found

    def all_parameters(self, side: Side, op: dict, path_item: dict) -> dict[str, dict]:
        params = {}
        for param in path_item.get("parameters", []) + op.get("parameters", []):
            param = side.resolve(param)
            name = param["name"].lower() if param["in"] == "header" else param["name"]
            params[f"{param['in']}:{name}"] = param.get("schema", {})
        return params

    def operation(self, where: str, old_op: dict, new_op: dict, old_item: dict, new_item: dict) -> None:
        old_required = self.required_headers(self.old, old_op, old_item)
        new_required = self.required_headers(self.new, new_op, new_item)
        for key in sorted(set(new_required) - set(old_required)):
            self.flag(where, f"new required parameter or header {key}")
        old_params = self.all_parameters(self.old, old_op, old_item)
        new_params = self.all_parameters(self.new, new_op, new_item)
        for key in sorted(set(old_params) & set(new_params)):
            self.schema(f"{where} {key}", old_params[key], new_params[key], "request")

        old_body = self.old.resolve(old_op.get("requestBody")) or {}
        new_body = self.new.resolve(new_op.get("requestBody")) or {}
        if new_body.get("required") and old_body and not old_body.get("required"):
            self.flag(where, "request body is now required")
        if new_body.get("required") and not old_body:
            self.flag(where, "a required request body was added")
        for media, content in old_body.get("content", {}).items():
            if media not in new_body.get("content", {}):
                if new_body:
                    self.flag(where, f"request media type {media} no longer accepted")
                continue
            self.schema(
                f"{where} request", content.get("schema"), new_body["content"][media].get("schema"), "request"
            )

        old_responses, new_responses = old_op.get("responses", {}), new_op.get("responses", {})
        for status, old_response in old_responses.items():
            if status not in new_responses:
                if status.startswith("2"):
                    self.flag(where, f"response {status} removed")
                continue
            old_response = self.old.resolve(old_response)
            new_response = self.new.resolve(new_responses[status])
            for media, content in old_response.get("content", {}).items():
                new_content = new_response.get("content", {}).get(media)
                if new_content is None:
                    self.flag(where, f"response {status} no longer {media}")
                    continue
                self.schema(f"{where} {status}", content.get("schema"), new_content.get("schema"), "response")

    def run(self) -> list[str]:
        old_paths, new_paths = self.old.doc.get("paths", {}), self.new.doc.get("paths", {})
        for path, old_item in old_paths.items():
            new_item = new_paths.get(path, {})
            for method in METHODS:
                if method not in old_item:
                    continue
                where = f"{method.upper()} {path}"
                if method not in new_item:
                    self.flag(where, "operation removed")
                    continue
                self.operation(where, old_item[method], new_item[method], old_item, new_item)
        return self.breaks


def major(doc: dict) -> int:
    return int(str(doc.get("info", {}).get("version", "0")).split(".")[0])


def check(old: dict, new: dict) -> tuple[list[str], bool]:
    """The breaking changes, and whether a raised major version allows them."""
    return Guard(old, new).run(), major(new) > major(old)


def main(released_path: str, current_path: str) -> int:
    released, current = load(released_path), load(current_path)
    breaks, allowed = check(released, current)
    if not breaks:
        print(f"no breaking change against {released_path} (version {released['info']['version']})")
        return 0
    for line in breaks:
        print(f"breaking: {line}", file=sys.stderr)
    if allowed:
        print(f"{len(breaks)} breaking change(s), allowed by the new major version {current['info']['version']}")
        return 0
    print(
        f"{len(breaks)} breaking change(s) against the released contract {released_path}; "
        "keep the API compatible, or raise the major number of info.version and release a new contract",
        file=sys.stderr,
    )
    return 1


# ---- self-test -------------------------------------------------------------------------------


def schemas(doc: dict) -> dict:
    return doc["components"]["schemas"]


def _mutations() -> dict[str, Any]:
    def remove_operation(d):
        del d["paths"]["/v1/obie/tokens/revocation"]["post"]

    def remove_response_property(d):
        del schemas(d)["AccessToken"]["properties"]["access_token"]
        schemas(d)["AccessToken"]["required"].remove("access_token")

    def make_response_property_optional(d):
        schemas(d)["AuthCode"]["required"].remove("redirect_to")

    def remove_enum_value(d):
        schemas(d)["ApiVersion"]["enum"].remove("latest")

    def add_required_request_field(d):
        schemas(d)["TokenRequest"]["properties"]["nonce"] = {"type": "string"}
        schemas(d)["TokenRequest"]["required"].append("nonce")

    def add_required_header(d):
        d["paths"]["/v1/obie/tokens/introspection"]["post"].setdefault("parameters", []).append(
            {"name": "x-psu-ip", "in": "header", "required": True, "schema": {"type": "string"}}
        )

    def require_api_key_scheme(d):
        d["paths"]["/v1/obie/tokens/introspection"]["post"]["security"] = [
            {**r, "ccg_token": []} for r in d["paths"]["/v1/obie/tokens/introspection"]["post"]["security"]
        ]

    def change_type(d):
        schemas(d)["AccessToken"]["properties"]["expires_in"]["type"] = "string"

    def narrow_request_type(d):
        schemas(d)["AuthCodeRequest"]["properties"]["state"]["type"] = "integer"

    def remove_success_response(d):
        del d["paths"]["/v1/oauth2/tokens"]["post"]["responses"]["201"]

    return {
        "remove an operation": remove_operation,
        "remove a response property": remove_response_property,
        "make a response property optional": make_response_property_optional,
        "remove an enum value": remove_enum_value,
        "add a required request field": add_required_request_field,
        "add a required header": add_required_header,
        "require a header through an API-key scheme": require_api_key_scheme,
        "change a response type": change_type,
        "change a request type": narrow_request_type,
        "remove a success response": remove_success_response,
    }


def _compatible_changes() -> dict[str, Any]:
    def add_optional_response_property(d):
        schemas(d)["AccessToken"]["properties"]["refresh_hint"] = {"type": "string"}

    def add_optional_request_field(d):
        schemas(d)["TokenRequest"]["properties"]["nonce"] = {"type": "string"}

    def add_enum_value_and_describe(d):
        schemas(d)["ApiVersion"]["enum"].append("2")
        d["info"]["description"] = "reworded"

    return {
        "add an optional response property": add_optional_response_property,
        "add an optional request field": add_optional_request_field,
        "add an enum value and reword": add_enum_value_and_describe,
    }


def self_test(released_path: str) -> int:
    released = load(released_path)
    failures = []
    if check(released, released)[0]:
        failures.append("the released document breaks itself")
    for name, mutate in _mutations().items():
        mutated = copy.deepcopy(released)
        mutate(mutated)
        breaks, allowed = check(released, mutated)
        if not breaks or allowed:
            failures.append(f"not caught: {name}")
        bumped = copy.deepcopy(mutated)
        bumped["info"]["version"] = f"{major(released) + 1}.0.0"
        if not check(released, bumped)[1]:
            failures.append(f"a new major version does not allow: {name}")
    for name, mutate in _compatible_changes().items():
        changed = copy.deepcopy(released)
        mutate(changed)
        breaks, _ = check(released, changed)
        if breaks:
            failures.append(f"false alarm on '{name}': {breaks}")
    for failure in failures:
        print(f"guard self-test: {failure}", file=sys.stderr)
    if failures:
        return 1
    print(f"guard self-test: {len(_mutations())} breaking mutations caught, {len(_compatible_changes())} compatible ones passed")
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--self-test":
        sys.exit(self_test(sys.argv[2]))
    if len(sys.argv) == 3:
        sys.exit(main(sys.argv[1], sys.argv[2]))
    print(__doc__, file=sys.stderr)
    sys.exit(2)
