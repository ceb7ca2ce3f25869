#!/usr/bin/env python3
"""Match or Identify latency over gRPC on loopback, from an independent client
(Debian's python3-grpcio), at a given concurrency. Bounded: stops after
--requests calls or --seconds, whichever comes first.

Usage: bench/match_latency.py --server 127.0.0.1:50051 --lfw ../shared/data/lfw
           [--concurrency 1] [--requests 200] [--seconds 60] [--model models/dlib-resnet]
           [--rpc match|identify] [--gallery latency-bench] [--flip]
With --rpc identify the script (re)creates the gallery, enrols the second face
of each of the 64 pairs used as one identity each, and identifies the first
faces against it (top 5, explicit threshold). With --flip every face is
mirror-averaged: Match sets flip_average, Identify uses a gallery created
with flip_average.
Stubs are generated into a temporary folder with protoc + grpc_python_plugin.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def stubs():
    out = tempfile.mkdtemp(prefix="qf-bench-")
    proto = os.path.join(HERE, "..", "proto")
    files = [f"quantface/v1/{f}" for f in os.listdir(os.path.join(proto, "quantface/v1"))]
    subprocess.run(["protoc", f"--proto_path={proto}", f"--python_out={out}", f"--grpc_out={out}",
                    "--plugin=protoc-gen-grpc=" + shutil.which("grpc_python_plugin"), *files],
                   check=True)
    for package in ["quantface", "quantface/v1"]:
        open(os.path.join(out, package, "__init__.py"), "a").close()
    sys.path.insert(0, out)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", default="127.0.0.1:50051")
    parser.add_argument("--lfw", required=True)
    parser.add_argument("--model", default="")
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--rpc", choices=["match", "identify"], default="match")
    parser.add_argument("--gallery", default="latency-bench")
    parser.add_argument("--flip", action="store_true",
                        help="mirror-averaged faces (Match flip_average, a flip_average gallery)")
    args = parser.parse_args()
    stubs()
    import grpc
    from quantface.v1 import common_pb2, verification_pb2, verification_pb2_grpc
    from quantface.v1 import gallery_pb2, gallery_pb2_grpc

    landmarks = {}
    with open(os.path.join(args.lfw, "landmarks5.tsv")) as f:
        for line in f:
            parts = line.split()
            landmarks[parts[0]] = [float(v) for v in parts[1:]]
    pairs = []
    with open(os.path.join(args.lfw, "pairs.txt")) as f:
        next(f)
        for line in f:
            p = line.split()
            a, b = ((p[0], int(p[1])), (p[0], int(p[2]))) if len(p) == 3 else \
                ((p[0], int(p[1])), (p[2], int(p[3])))
            pairs.append((a, b))
            if len(pairs) == 64:
                break

    def face(person):
        key = f"{person[0]}/{person[0]}_{person[1]:04d}.jpg"
        with open(os.path.join(args.lfw, "images", key), "rb") as f:
            image = f.read()
        pts = landmarks[key]
        return common_pb2.FaceInput(landmarked_image=common_pb2.LandmarkedImage(
            image=image, landmarks=[common_pb2.Point(x=pts[i], y=pts[i + 1])
                                    for i in range(0, 10, 2)]))

    requests = [verification_pb2.MatchRequest(
        model=args.model, probe=face(a), reference_face=face(b),
        decision=verification_pb2.DecisionPolicy(threshold=0.9),
        flip_average=args.flip) for a, b in pairs]
    channel = grpc.insecure_channel(args.server)
    stub = verification_pb2_grpc.VerificationServiceStub(channel)
    call = stub.Match
    if args.rpc == "identify":
        galleries = gallery_pb2_grpc.GalleryServiceStub(channel)
        name = f"galleries/{args.gallery}"
        try:
            galleries.DeleteGallery(gallery_pb2.DeleteGalleryRequest(name=name), timeout=60)
        except grpc.RpcError as e:
            if e.code() != grpc.StatusCode.NOT_FOUND:
                raise
        galleries.CreateGallery(gallery_pb2.CreateGalleryRequest(
            gallery_id=args.gallery, gallery=gallery_pb2.Gallery(
                model=args.model or "models/dlib-resnet", flip_average=args.flip)), timeout=60)
        for i, (_, b) in enumerate(pairs):
            galleries.Enroll(gallery_pb2.EnrollRequest(
                gallery=name, identity_id=f"p{i}", faces=[face(b)]), timeout=60)
        requests = [verification_pb2.IdentifyRequest(
            gallery=name, probe=face(a), top_k=5,
            decision=verification_pb2.DecisionPolicy(threshold=0.9)) for a, _ in pairs]
        call = stub.Identify
    call(requests[0], timeout=60)  # Loads the model.

    latencies, errors, lock = [], [], threading.Lock()
    deadline = time.time() + args.seconds
    counter = iter(range(args.requests))

    def worker():
        while time.time() < deadline:
            with lock:
                i = next(counter, None)
            if i is None:
                return
            start = time.perf_counter()
            try:
                call(requests[i % len(requests)], timeout=30)
                with lock:
                    latencies.append(time.perf_counter() - start)
            except grpc.RpcError as e:
                with lock:
                    errors.append(e.code())

    start = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(args.concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    latencies.sort()
    pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1e3
    print(f"rpc={args.rpc} concurrency={args.concurrency} requests={len(latencies)} errors={len(errors)} "
          f"p50={pick(0.5):.1f}ms p99={pick(0.99):.1f}ms throughput={len(latencies) / wall:.1f}/s")


if __name__ == "__main__":
    main()
