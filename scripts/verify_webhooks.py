#!/usr/bin/env python3
"""Reference verification of mlvet's webhook signatures with an independent Standard Webhooks
verifier (the `standardwebhooks` package from PyPI). Not part of CI: run it in a throwaway venv.

    python3 -m venv /tmp/venv-wh && /tmp/venv-wh/bin/pip install standardwebhooks
    cargo build -p mlvet-webhooks --example deliver_samples
    /tmp/venv-wh/bin/python scripts/verify_webhooks.py [--count 200] [--binary PATH]

A loopback receiver answers 500 to the first request of every third message (so retries are
exercised: the same webhook-id must come back with a fresh, valid signature) and 200 otherwise.
Every request, retries included, is verified with `standardwebhooks.Webhook(secret).verify`; a
tampered copy of each must fail. Prints a JSON summary; exits 1 on any failure.
"""

import argparse
import base64
import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

received = []
lock = threading.Lock()
first_seen = {}


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        length = int(self.headers.get("content-length", "0"))
        body = self.rfile.read(length)
        headers = {k.lower(): v for k, v in self.headers.items()}
        msg_id = headers.get("webhook-id", "")
        with lock:
            received.append((headers, body))
            count = first_seen.get(msg_id, 0)
            first_seen[msg_id] = count + 1
            index = len(first_seen)
        fail = count == 0 and index % 3 == 0
        self.send_response(500 if fail else 200)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=200)
    target = os.environ.get("CARGO_TARGET_DIR", "target")
    parser.add_argument("--binary", default=os.path.join(target, "debug", "examples", "deliver_samples"))
    args = parser.parse_args()

    secret = "whsec_" + base64.b64encode(os.urandom(32)).decode()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    result = subprocess.run([args.binary, url, secret, str(args.count)], capture_output=True, text=True, timeout=300)
    server.shutdown()
    if result.returncode != 0:
        print(result.stderr, file=sys.stderr)
        sys.exit(1)

    webhook = Webhook(secret)
    verified, tampered_rejected, failures = 0, 0, []
    bodies_by_id = {}
    for headers, body in received:
        wanted = {k: headers[k] for k in ("webhook-id", "webhook-timestamp", "webhook-signature")}
        try:
            payload = webhook.verify(body, wanted)
            assert payload["type"].startswith(("finding.", "advisories."))
            verified += 1
        except Exception as error:  # noqa: BLE001 - every failure is reported
            failures.append(f"{wanted['webhook-id']}: {error}")
        try:
            webhook.verify(body + b" ", wanted)
            failures.append(f"{wanted['webhook-id']}: a tampered body verified")
        except WebhookVerificationError:
            tampered_rejected += 1
        bodies_by_id.setdefault(wanted["webhook-id"], set()).add(body)
    retried = sum(1 for n in first_seen.values() if n > 1)
    stable = all(len(b) == 1 for b in bodies_by_id.values())
    summary = {
        "messages": len(first_seen),
        "requests": len(received),
        "retried_messages": retried,
        "verified": verified,
        "tampered_rejected": tampered_rejected,
        "same_id_same_body_across_retries": stable,
        "failures": failures[:10],
        "sender": json.loads(result.stdout),
    }
    print(json.dumps(summary, indent=2))
    ok = not failures and verified == len(received) and stable and len(first_seen) == args.count and retried > 0
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
