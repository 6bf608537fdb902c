#!/usr/bin/env python3
"""Validates custom resources against the openAPIV3Schema of their CustomResourceDefinition.

kubernetes-validate knows only the built-in kinds. This checks the documents whose group and
version a given CRD serves, strictly: an object schema that lists `properties` and has no escape hatch
(`additionalProperties`, `x-kubernetes-preserve-unknown-fields`) rejects unknown fields, as the
API server does with `--validate=strict`. CEL rules (x-kubernetes-validations) are not evaluated
here; the controller's tests do that.

Usage: validate_custom_resources.py --crd CRD.yaml [--crd ...] MANIFEST.yaml...
Exit status 1 when a document does not validate or a file cannot be read.
"""
import argparse
import copy
import sys

import jsonschema
import yaml

K8S_EXTENSIONS = ("x-kubernetes-preserve-unknown-fields", "x-kubernetes-int-or-string", "x-kubernetes-embedded-resource")


def strict(schema):
    """Copy of an OpenAPI v3 schema where objects with properties reject unknown fields."""
    schema = copy.deepcopy(schema)

    def walk(node):
        if isinstance(node, dict):
            if node.get("x-kubernetes-int-or-string"):
                node.pop("type", None)
                node["anyOf"] = [{"type": "integer"}, {"type": "string"}]
            if node.get("nullable"):
                t = node.get("type")
                if isinstance(t, str):
                    node["type"] = [t, "null"]
            if (
                node.get("type") == "object"
                and "properties" in node
                and "additionalProperties" not in node
                and not any(node.get(k) for k in K8S_EXTENSIONS)
            ):
                node["additionalProperties"] = False
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)
    # The API server adds these to every CRD schema.
    props = schema.setdefault("properties", {})
    props.setdefault("apiVersion", {"type": "string"})
    props.setdefault("kind", {"type": "string"})
    props.setdefault("metadata", {"type": "object"})
    return schema


def load_all(path):
    with open(path, encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--crd", action="append", required=True, help="CRD YAML file")
    parser.add_argument("manifests", nargs="+")
    args = parser.parse_args()

    schemas = {}
    for path in args.crd:
        for crd in load_all(path):
            if crd.get("kind") != "CustomResourceDefinition":
                continue
            spec = crd["spec"]
            for version in spec["versions"]:
                key = (f"{spec['group']}/{version['name']}", spec["names"]["kind"])
                schemas[key] = strict(version["schema"]["openAPIV3Schema"])
    if not schemas:
        print("ERROR no CustomResourceDefinition found in", args.crd)
        return 1

    failed = 0
    checked = 0
    for path in args.manifests:
        for doc in load_all(path):
            key = (doc.get("apiVersion"), doc.get("kind"))
            if key not in schemas:
                continue
            checked += 1
            name = f"{doc['kind'].lower()}/{doc.get('metadata', {}).get('name', '?')}"
            validator = jsonschema.Draft7Validator(schemas[key])
            errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.path))
            for error in errors:
                where = ".".join(str(p) for p in error.path) or "<root>"
                print(f"ERROR {path} {name}: {where}: {error.message}")
            if errors:
                failed += 1
            else:
                print(f"INFO {path} passed for resource {name} against its CRD")
    print(f"validate_custom_resources: {checked} custom resources checked, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
