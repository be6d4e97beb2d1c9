#!/usr/bin/python3
"""Writes ONNX's official backend node test cases (the installed onnx package's own case definitions) to a folder.

Each case becomes DIR/<case name>/model.onnx plus test_data_set_N/input_K.pb and output_K.pb, the layout of
`backend-test-tools generate-data` and of onnx/backend/test/data/node, so `twicing conformance --cases DIR` reads
them. Cases are written the way onnx.backend.test.cmd_tools.generate_data writes them; this script differs only
in that it survives case modules that no longer run under the installed numpy:

- NumPy 1.24 removed the aliases np.float, np.int, np.bool, np.object (and friends) that some case definitions
  of onnx 1.12 still use; they are restored here as the builtins they always were.
- One failing `export*` function no longer aborts its whole module: each export runs on its own, and every
  failure is printed with its reason (and counted in the summary line) instead of being silently dropped.

Each case folder also gets tolerance.json with the rtol/atol the onnx backend runner would use for it.

With --upgrade-to-opset N, a case whose model imports an older default-domain opset (ONNX writes each case at its
op's since_version, often 7 to 12) has its model converted to opset N by ONNX's own onnx.version_converter; the
original is kept as original_model.onnx and adaptation.txt says what was done, so the conformance report can say
it too. The test data are untouched (the converter preserves semantics). Cases it cannot convert stay as they are.

Usage: /usr/bin/python3 generate_onnx_node_cases.py --out DIR [--op-type OP] [--upgrade-to-opset N]
The last line printed is `generated G cases from D definitions, F not generated (onnx X, numpy Y)` (also written
to DIR/generation.txt with every problem); exit status 1 when nothing at
all could be generated (a missing onnx package included).
"""

import argparse
import builtins
import importlib
import json
import os
import pkgutil
import shutil
import sys
import traceback

import numpy as np

# Restore the aliases NumPy 1.20 deprecated and 1.24 removed; they were the Python builtins.
for _alias, _builtin in (("float", float), ("int", int), ("bool", bool), ("object", object),
                         ("complex", complex), ("str", str), ("long", int), ("unicode", str)):
    if _alias not in np.__dict__:
        setattr(np, _alias, _builtin)

import onnx  # noqa: E402  (after the shim: onnx.mapping reads np.object at import in some versions)
from onnx import numpy_helper  # noqa: E402
import onnx.backend.test.case.base as case_base  # noqa: E402
import onnx.backend.test.case.node as node_cases  # noqa: E402
from onnx import version_converter  # noqa: E402

FAILED_EXPORTS = []
NOTES = []


def _exporter_init(cls, name, bases, dct):
    """Runs each export of a case class on its own, recording the failures instead of raising the first one."""
    for key, value in dct.items():
        if not key.startswith("export"):
            continue
        if not isinstance(value, staticmethod):
            FAILED_EXPORTS.append((f"{name}.{key}", "export is not a staticmethod"))
            continue
        export = getattr(cls, key)
        try:
            case_base.Snippets[name].append(case_base.process_snippet(name, key, export))
        except Exception:  # the snippet only documents the case; a failure there must not lose it
            pass
        np.random.seed(seed=0)  # as onnx does before every export, so generated data match onnx's own
        try:
            export()
        except Exception as e:  # noqa: BLE001  (every failure is reported below)
            FAILED_EXPORTS.append((f"{name}.{key}", f"{type(e).__name__}: {e}".splitlines()[0]))
    type.__init__(cls, name, bases, dct)


def collect(op_type):
    """Imports every node case module (each on its own) and returns onnx's list of collected TestCases."""
    case_base._Exporter.__init__ = _exporter_init
    node_cases._TargetOpType = op_type
    for _loader, mod_name, _ispkg in pkgutil.iter_modules(node_cases.__path__):
        full = f"{node_cases.__name__}.{mod_name}"
        try:
            importlib.import_module(full)
        except Exception as e:  # noqa: BLE001
            FAILED_EXPORTS.append((full, f"{type(e).__name__}: {e}".splitlines()[0]))
    return node_cases._NodeTestCases


def _proto(value, type_proto, name):
    """The serialised proto for one input or output value, as cmd_tools.generate_data writes it."""
    if type_proto.HasField("sequence_type"):
        return numpy_helper.from_list(value, name).SerializeToString()
    if type_proto.HasField("optional_type"):
        return numpy_helper.from_optional(value, name).SerializeToString()
    if type_proto.HasField("map_type"):
        return numpy_helper.from_dict(value, name).SerializeToString()
    return numpy_helper.from_array(value, name).SerializeToString()


def default_opset(model):
    """The default-domain opset the model imports, or None."""
    versions = [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")]
    return max(versions) if versions else None


def upgraded(model, target):
    """(model converted to opset `target` by onnx.version_converter, note) or (None, reason it was not)."""
    opset = default_opset(model)
    if opset is None or opset >= target:
        return None, None
    try:
        converted = version_converter.convert_version(model, target)
        onnx.checker.check_model(converted)
    except Exception as e:  # noqa: BLE001
        return None, f"opset {opset} kept: onnx.version_converter could not convert it to {target}: " \
            f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
    return converted, f"model converted from opset {opset} to {target} by onnx.version_converter"


def write_case(case, out_dir, upgrade_to=None):
    """Writes one case folder (model, data sets, tolerances); a failure leaves no partial folder behind."""
    final = os.path.join(out_dir, case.name)
    tmp = final + ".partial"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    graph = case.model.graph
    model, note = upgraded(case.model, upgrade_to) if upgrade_to else (None, None)
    with open(os.path.join(tmp, "model.onnx"), "wb") as f:
        f.write((model or case.model).SerializeToString())
    if model is not None:
        with open(os.path.join(tmp, "original_model.onnx"), "wb") as f:
            f.write(case.model.SerializeToString())
    if note:
        with open(os.path.join(tmp, "adaptation.txt"), "w") as f:
            f.write(note + "\n")
    for i, (inputs, outputs) in enumerate(case.data_sets):
        ds = os.path.join(tmp, f"test_data_set_{i}")
        os.makedirs(ds)
        for j, value in enumerate(inputs):
            with open(os.path.join(ds, f"input_{j}.pb"), "wb") as f:
                f.write(_proto(value, graph.input[j].type, graph.input[j].name))
        for j, value in enumerate(outputs):
            with open(os.path.join(ds, f"output_{j}.pb"), "wb") as f:
                f.write(_proto(value, graph.output[j].type, graph.output[j].name))
    with open(os.path.join(tmp, "tolerance.json"), "w") as f:
        json.dump({"rtol": case.rtol, "atol": case.atol}, f, sort_keys=True)
    shutil.rmtree(final, ignore_errors=True)
    os.rename(tmp, final)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="folder to write the case folders into (created)")
    parser.add_argument("--op-type", default=None, help="only cases whose tested node has this op type")
    parser.add_argument("--upgrade-to-opset", type=int, default=None, metavar="N",
                        help="convert models of older opsets to opset N with onnx.version_converter")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    cases = collect(args.op_type)
    written = 0
    seen = set()
    for case in cases:
        if case.name in seen:
            # onnx itself defines a few names twice; its generate-data also keeps only the last definition.
            NOTES.append(f"{case.name} is defined twice by onnx; the later definition is the one written "
                         f"(as onnx's own generate-data does)")
        seen.add(case.name)
        try:
            write_case(case, args.out, args.upgrade_to_opset)
            written += 1
        except Exception as e:  # noqa: BLE001
            FAILED_EXPORTS.append((case.name, f"could not write: {type(e).__name__}: {e}".splitlines()[0]))
            traceback.print_exc(file=sys.stderr)
    lines = ["command: " + " ".join(["/usr/bin/python3"] + sys.argv)]
    lines += [f"note: {n}" for n in NOTES]
    lines += [f"not generated: {where}: {why}" for where, why in FAILED_EXPORTS]
    lines.append(f"generated {len(seen)} cases from {len(cases)} definitions, {len(FAILED_EXPORTS)} not generated "
                 f"(onnx {onnx.__version__}, numpy {np.__version__})")
    # The log goes next to the cases too, so the conformance report can list what was not generated.
    log = os.path.join(args.out, "generation.txt")
    with open(log + ".tmp", "w") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(log + ".tmp", log)
    print("\n".join(lines))
    return 0 if written > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
