"""Decodes every object of a data lake with the Python stellar-sdk (an
independent XDR implementation) and checks what stellarflow's generator
promises: consecutive ledgers, a header hash chain, and tx hashes that match
the envelopes under the network passphrase.

usage: decode_lake.py LAKE_DIR
Prints one JSON line of findings; exits non-zero on the first broken promise.
"""
import glob
import hashlib
import json
import os
import sys

import zstandard
from stellar_sdk import xdr
from stellar_sdk import TransactionBuilder


def envelopes(meta):
    if meta.v == 0:
        return list(meta.v0.tx_set.txs)
    tx_set = (meta.v1 or meta.v2).tx_set.v1_tx_set
    out = []
    for phase in tx_set.phases:
        if phase.v == 0:
            for component in phase.v0_components:
                out.extend(component.txs_maybe_discounted_fee.txs)
        else:
            for stage in phase.parallel_txs_component.execution_stages:
                for cluster in stage.parallel_tx_execution_stage:
                    out.extend(cluster.dependent_tx_cluster)
    return out


def main():
    lake = sys.argv[1]
    manifest = json.load(open(os.path.join(lake, ".config.json")))
    passphrase = manifest["networkPassphrase"]
    paths = glob.glob(os.path.join(lake, "**", "*.xdr.zst*"), recursive=True)
    ledgers = []
    for path in paths:
        raw = zstandard.ZstdDecompressor().stream_reader(open(path, "rb")).read()
        batch = xdr.LedgerCloseMetaBatch.from_xdr_bytes(raw)
        for meta in batch.ledger_close_metas:
            ledgers.append(meta)
    ledgers.sort(key=lambda m: (m.v0 or m.v1 or m.v2).ledger_header.header.ledger_seq.uint32)
    previous = None
    txs = 0
    for meta in ledgers:
        body = meta.v0 or meta.v1 or meta.v2
        header = body.ledger_header.header
        seq = header.ledger_seq.uint32
        digest = hashlib.sha256(header.to_xdr_bytes()).digest()
        if digest != body.ledger_header.hash.hash:
            sys.exit(f"ledger {seq}: stored hash differs from sha256(header)")
        if previous is not None and header.previous_ledger_hash.hash != previous:
            sys.exit(f"ledger {seq}: previous_ledger_hash breaks the chain")
        previous = digest
        hashes = {tx.result.transaction_hash.hash.hex() for tx in body.tx_processing}
        for env in envelopes(meta):
            parsed = TransactionBuilder.from_xdr(env.to_xdr(), passphrase)
            if parsed.hash_hex() not in hashes:
                sys.exit(f"ledger {seq}: envelope hash {parsed.hash_hex()} has no result")
            txs += 1
        if txs and len(hashes) != len(envelopes(meta)):
            sys.exit(f"ledger {seq}: {len(envelopes(meta))} envelopes but {len(hashes)} results")
    seqs = [(m.v0 or m.v1 or m.v2).ledger_header.header.ledger_seq.uint32 for m in ledgers]
    print(json.dumps({"objects": len(paths), "ledgers": len(ledgers), "first": seqs[0],
                      "last": seqs[-1], "transactions": txs, "meta_versions": sorted({m.v for m in ledgers})}))


if __name__ == "__main__":
    main()
