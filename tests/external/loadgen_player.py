#!/usr/bin/env python3
"""A stand-in for an external inference harness (a vendor's, MLCommons' reference): it runs MLCommons LoadGen
itself on an ONNX image classifier and imports nothing from benchwright.

    loadgen_player.py --scenario Offline --mode PerformanceOnly --user-conf user.conf --output DIR
                      --model model.onnx --data DATA_DIR --loadgen-model resnet50 [--class-offset -1]

It loads LoadGen's mlperf.conf and the given user.conf (TestSettings.FromConfig), reads the samples LoadGen asks
for from DATA_DIR/val_x.npy, answers each with its class as a little-endian int32 (MLCommons' resnet response),
and writes LoadGen's logs to DIR. LoadGen reads audit.config from the working directory, as for any harness.
``--write-no-log`` plays a broken harness: it exits 0 without running LoadGen.
"""

from __future__ import annotations

import argparse
import sys

import mlperf_loadgen as lg
import numpy as np
import onnxruntime as ort

BATCH = 32


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--scenario", required=True)
    p.add_argument("--mode", required=True, choices=["PerformanceOnly", "AccuracyOnly"])
    p.add_argument("--user-conf", required=True)
    p.add_argument("--output", required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--loadgen-model", required=True)
    p.add_argument("--class-offset", type=int, default=0)
    p.add_argument("--write-no-log", action="store_true")
    args = p.parse_args(argv)
    if args.write_no_log:
        print("loadgen_player: --write-no-log: exiting without running LoadGen", file=sys.stderr)
        return 0

    x = np.load(f"{args.data}/val_x.npy", mmap_mode="r")
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(args.model, sess_options=options, providers=["CPUExecutionProvider"])
    input_name = session.get_inputs()[0].name
    loaded: dict[int, np.ndarray] = {}

    def load(indices):
        for i in indices:
            loaded[i] = np.ascontiguousarray(x[i])

    def unload(indices):
        for i in indices:
            loaded.pop(i, None)

    def issue(samples):
        for start in range(0, len(samples), BATCH):
            chunk = samples[start:start + BATCH]
            batch = np.stack([loaded[s.index] for s in chunk])
            scores = session.run(None, {input_name: batch})[0]
            classes = (scores.argmax(axis=1).astype(np.int64) + args.class_offset).astype("<i4")
            responses = [lg.QuerySampleResponse(s.id, classes[k:k + 1].ctypes.data, 4) for k, s in enumerate(chunk)]
            lg.QuerySamplesComplete(responses)  # LoadGen copies what it logs before returning

    def flush():
        pass

    settings = lg.TestSettings()
    settings.FromConfig(args.user_conf, args.loadgen_model, args.scenario)
    settings.scenario = getattr(lg.TestScenario, args.scenario)
    settings.mode = getattr(lg.TestMode, args.mode)
    log = lg.LogSettings()
    log.log_output.outdir = args.output
    log.log_output.copy_summary_to_stdout = False
    log.enable_trace = False
    count = len(x)
    sut = lg.ConstructSUT(issue, flush)
    qsl = lg.ConstructQSL(count, count, load, unload)
    lg.StartTestWithLogSettings(sut, qsl, settings, log)
    lg.DestroyQSL(qsl)
    lg.DestroySUT(sut)
    return 0


if __name__ == "__main__":
    sys.exit(main())
