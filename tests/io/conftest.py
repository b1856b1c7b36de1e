"""Fixtures of the delivery tests; the real parts they use are in ``delivery_helpers``."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from delivery_helpers import _RECEIVERS, SCHEMA, Broker, Endpoint, _schema_errors


@pytest.fixture(autouse=True)
def _every_message_matches_the_schema():
    """After each test: every alarm any subscriber or endpoint received was schema-valid."""
    _RECEIVERS.clear()
    yield
    bad = [
        (m.get("id"), errs)
        for r in _RECEIVERS
        for m in r.all_messages()
        if (errs := _schema_errors(m))
    ]
    _RECEIVERS.clear()
    assert not bad, f"messages not matching docs/alarm-message.schema.json: {bad}"


@pytest.fixture
def broker(tmp_path):
    b = Broker(tmp_path / "broker").start()
    yield b
    b.kill()


@pytest.fixture
def endpoint():
    ep = Endpoint().start()
    yield ep
    ep.stop()


@pytest.fixture(scope="session")
def tls_cert(tmp_path_factory) -> Path:
    """A self-signed certificate for 127.0.0.1 (it is its own CA)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    d = tmp_path_factory.mktemp("tls")
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(d / "key.pem"),
            "-out",
            str(d / "cert.pem"),
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    return d / "cert.pem"


@pytest.fixture(scope="session")
def validate():
    """Validates one message against docs/alarm-message.schema.json (raises if invalid)."""
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    v = jsonschema.Draft202012Validator(schema)

    def check(msg: dict) -> None:
        errors = sorted(v.iter_errors(msg), key=str)
        assert not errors, [e.message for e in errors]

    return check
