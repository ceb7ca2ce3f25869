"""An independent client: Debian's Python grpcio against the real server.

Stubs are generated at test time from the repository's .proto files with
protoc and grpc_python_plugin, so this client shares no code with the C++
one. Environment: QF_SERVER_BINARY (the server), QF_PROTO_DIR (proto/).
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

import grpc

HERE = os.path.dirname(os.path.abspath(__file__))
SERVICES = [
    "quantface.v1.QuantizationService",
    "quantface.v1.ModelRegistry",
    "quantface.v1.VerificationService",
    "quantface.v1.GalleryService",
]


def generate_stubs(out_dir):
    proto_dir = os.environ["QF_PROTO_DIR"]
    own = os.path.join(HERE, "proto")
    files = [os.path.join("quantface/v1", f)
             for f in sorted(os.listdir(os.path.join(proto_dir, "quantface/v1")))]
    subprocess.run(
        ["protoc", f"--proto_path={proto_dir}", f"--proto_path={own}",
         f"--python_out={out_dir}", f"--grpc_out={out_dir}",
         "--plugin=protoc-gen-grpc=" + shutil.which("grpc_python_plugin"),
         *files, "qf_health/health.proto"],
        check=True)
    for package in ["quantface", "quantface/v1", "qf_health"]:
        open(os.path.join(out_dir, package, "__init__.py"), "a").close()


class PythonClientTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.work = tempfile.mkdtemp(prefix="qf-py-")
        stubs = os.path.join(cls.work, "stubs")
        os.makedirs(stubs)
        generate_stubs(stubs)
        sys.path.insert(0, stubs)
        from qf_health import health_pb2, health_pb2_grpc
        cls.health_pb2 = health_pb2
        cls.health_pb2_grpc = health_pb2_grpc
        from quantface.v1 import verification_pb2, verification_pb2_grpc
        cls.verification_pb2 = verification_pb2
        cls.verification_pb2_grpc = verification_pb2_grpc

        port_file = os.path.join(cls.work, "ports.json")
        cls.log = open(os.path.join(cls.work, "server.log"), "w")
        cls.server = subprocess.Popen(
            [os.environ["QF_SERVER_BINARY"], "--grpc-address=127.0.0.1:0",
             "--metrics-address=127.0.0.1:0", f"--data-dir={cls.work}/data",
             f"--port-file={port_file}", "--torch-threads=1"],
            stdout=cls.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 60
        while not os.path.exists(port_file):
            if cls.server.poll() is not None or time.time() > deadline:
                raise RuntimeError("server did not start: " +
                                   open(os.path.join(cls.work, "server.log")).read())
            time.sleep(0.05)
        with open(port_file) as f:
            ports = json.load(f)
        cls.metrics_port = ports["metrics_port"]
        cls.channel = grpc.insecure_channel(f"127.0.0.1:{ports['grpc_port']}")

    @classmethod
    def tearDownClass(cls):
        cls.channel.close()
        cls.server.send_signal(signal.SIGTERM)
        cls.server.wait(timeout=30)
        cls.log.close()
        shutil.rmtree(cls.work, ignore_errors=True)

    def test_health_is_serving(self):
        stub = self.health_pb2_grpc.HealthStub(self.channel)
        serving = self.health_pb2.HealthCheckResponse.SERVING
        reply = stub.Check(self.health_pb2.HealthCheckRequest(), timeout=10)
        self.assertEqual(reply.status, serving)
        for service in SERVICES:
            reply = stub.Check(self.health_pb2.HealthCheckRequest(service=service), timeout=10)
            self.assertEqual(reply.status, serving, service)

    def test_bad_request_names_the_field(self):
        stub = self.verification_pb2_grpc.VerificationServiceStub(self.channel)
        request = self.verification_pb2.IdentifyRequest(gallery="galleries/nowhere")
        request.probe.embedding.values.extend([1.0])
        with self.assertRaises(grpc.RpcError) as caught:
            stub.Identify(request, timeout=10)
        self.assertEqual(caught.exception.code(), grpc.StatusCode.NOT_FOUND)
        self.assertIn("galleries/nowhere", caught.exception.details())

    def test_reflection_lists_every_service(self):
        # ServerReflectionRequest{list_services: ""} is field 7 (tag 0x3a),
        # empty; sent as raw bytes, so no reflection stubs are needed.
        call = self.channel.stream_stream(
            "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo")
        replies = list(call(iter([b"\x3a\x00"]), timeout=10))
        self.assertEqual(len(replies), 1)
        for service in SERVICES:
            self.assertIn(service.encode(), replies[0])

    def test_metrics_pass_promtool(self):
        stub = self.verification_pb2_grpc.VerificationServiceStub(self.channel)
        with self.assertRaises(grpc.RpcError):
            stub.BatchIdentify(self.verification_pb2.BatchIdentifyRequest(), timeout=10)
        body = urllib.request.urlopen(
            f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=10).read()
        check = subprocess.run(["promtool", "check", "metrics"], input=body,
                               capture_output=True)
        self.assertEqual(check.returncode, 0, check.stdout + check.stderr)
        self.assertIn(b'quantface_rpc_requests_total{code="INVALID_ARGUMENT",'
                      b'method="quantface.v1.VerificationService/BatchIdentify"} 1', body)


if __name__ == "__main__":
    unittest.main(verbosity=2)
