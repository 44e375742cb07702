"""A flowctl client built with grpcio-tools from the flowctl proto, checked
against SPEC section 2.1's field numbers, that registers, heartbeats, lists
and queries status against a running control plane.

usage: flowctl_client.py PROTO_DIR HOST:PORT
Prints one JSON line with what it observed; exits non-zero on any mismatch.
With FLOWCTL_TEST_CA set (a PEM file) it connects over TLS, and with
FLOWCTL_TEST_TOKEN it sends `authorization: Bearer <token>` on every call
(and reports what a call without it gets).
"""
import json
import os
import sys
import tempfile

import grpc
import grpc_tools
from grpc_tools import protoc
from google.protobuf import empty_pb2

# SPEC 2.1: message -> {field: number}. The wire contract with real flowctl.
SPEC_FIELDS = {
    "ServiceInfo": {"service_id": 1, "service_type": 2, "input_event_types": 3,
                    "output_event_types": 4, "health_endpoint": 5, "max_inflight": 6,
                    "metadata": 7, "component_id": 8},
    "RegistrationAck": {"service_id": 1, "topic_names": 2, "connection_info": 3},
    "ServiceHeartbeat": {"service_id": 1, "timestamp": 2, "metrics": 3},
    "ServiceStatus": {"service_id": 1, "service_type": 2, "is_healthy": 3,
                      "last_heartbeat": 4, "metrics": 5, "component_id": 6},
    "ServiceList": {"services": 1},
}
SPEC_ENUM = {"SERVICE_TYPE_UNSPECIFIED": 0, "SERVICE_TYPE_SOURCE": 1,
             "SERVICE_TYPE_PROCESSOR": 2, "SERVICE_TYPE_SINK": 3, "SERVICE_TYPE_PIPELINE": 4}


def compile_proto(proto_dir, out_dir):
    wkt = os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")
    code = protoc.main(["protoc", f"-I{proto_dir}", f"-I{wkt}", f"--python_out={out_dir}",
                        f"--grpc_python_out={out_dir}", "flowctl/control_plane.proto"])
    if code != 0:
        sys.exit(f"protoc failed with {code}")
    sys.path.insert(0, out_dir)


def check_spec(pb2):
    for message, fields in SPEC_FIELDS.items():
        descriptor = getattr(pb2, message).DESCRIPTOR
        for name, number in fields.items():
            actual = descriptor.fields_by_name[name].number
            if actual != number:
                sys.exit(f"{message}.{name} is field {actual}, SPEC says {number}")
    for name, number in SPEC_ENUM.items():
        if pb2.ServiceType.Value(name) != number:
            sys.exit(f"ServiceType.{name} is {pb2.ServiceType.Value(name)}, SPEC says {number}")


def main():
    proto_dir, endpoint = sys.argv[1], sys.argv[2]
    with tempfile.TemporaryDirectory() as out:
        compile_proto(proto_dir, out)
        from flowctl import control_plane_pb2 as pb2
        from flowctl import control_plane_pb2_grpc as pb2_grpc
        check_spec(pb2)
        ca, token = os.environ.get("FLOWCTL_TEST_CA"), os.environ.get("FLOWCTL_TEST_TOKEN")
        if ca:
            with open(ca, "rb") as f:
                credentials = grpc.ssl_channel_credentials(root_certificates=f.read())
            channel = grpc.secure_channel(endpoint, credentials)
        else:
            channel = grpc.insecure_channel(endpoint)
        stub = pb2_grpc.ControlPlaneStub(channel)
        md = [("authorization", f"Bearer {token}")] if token else None
        try:
            stub.ListServices(empty_pb2.Empty(), timeout=5)
            without_token = "OK"
        except grpc.RpcError as e:
            without_token = e.code().name
        ack = stub.Register(pb2.ServiceInfo(
            service_type=pb2.SERVICE_TYPE_PROCESSOR,
            input_event_types=["stellar_ledger_service.StellarLedger"],
            output_event_types=["ttp_event_service.TTPEvent"],
            health_endpoint="http://127.0.0.1:9999/health",
            max_inflight=10,
            metadata={"flight_endpoint": "127.0.0.1:9816"},
            component_id="python-client"), timeout=10, metadata=md)
        stub.Heartbeat(pb2.ServiceHeartbeat(service_id=ack.service_id,
                                            metrics={"events_processed_total": 7.0}),
                       timeout=5, metadata=md)
        listed = stub.ListServices(empty_pb2.Empty(), timeout=5, metadata=md)
        status = stub.GetServiceStatus(pb2.ServiceInfo(service_id=ack.service_id), timeout=5,
                                       metadata=md)
        try:
            stub.Heartbeat(pb2.ServiceHeartbeat(service_id="no-such-service"), timeout=5,
                           metadata=md)
            unknown_code = "OK"
        except grpc.RpcError as e:
            unknown_code = e.code().name
        print(json.dumps({
            "service_id": ack.service_id,
            "topic_names": list(ack.topic_names),
            "control_plane_endpoint": ack.connection_info.get("control_plane_endpoint", ""),
            "listed": [s.service_id for s in listed.services],
            "healthy": status.is_healthy,
            "component_id": status.component_id,
            "metric": status.metrics.get("events_processed_total"),
            "unknown_heartbeat": unknown_code,
            "without_token": without_token,
        }))


if __name__ == "__main__":
    main()
