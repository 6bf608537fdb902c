#!/usr/bin/env python3
"""An ESME built on smpplib (https://github.com/python-smpplib/python-smpplib), an SMPP
implementation this project did not write, for the interoperability tests
(e2e/tests/interop.rs).

Usage: smpplib-esme.py --host H --port P --system-id ID --password PW TEXT...

Binds as a transceiver, submits every TEXT (smpplib encodes it as GSM-7 or UCS-2 and splits
a long one into concatenated parts with a UDH) with a receipt requested, queries the first
message with query_sm, waits for a receipt for every part, sends enquire_link, unbinds, and
prints a JSON summary on stdout. Exits 1 with a message on stderr when a step fails.
"""
import argparse
import json
import sys
import time

import smpplib.client
import smpplib.consts
import smpplib.gsm
import smpplib.smpp


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--system-id", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--timeout", type=float, default=20.0)
    ap.add_argument("texts", nargs="+")
    a = ap.parse_args()

    summary = {"submits": [], "receipts": [], "query": None, "enquire_link": None, "unbind": None}
    client = smpplib.client.Client(a.host, a.port, timeout=a.timeout, allow_unknown_opt_params=True)

    def sent(pdu, **_):
        summary["submits"].append({
            "sequence": pdu.sequence,
            "status": pdu.status,
            "message_id": pdu.message_id.decode() if isinstance(pdu.message_id, bytes) else pdu.message_id,
        })

    def received(pdu, **_):
        def text(v):
            return v.decode("latin-1") if isinstance(v, bytes) else v
        summary["receipts"].append({
            "esm_class": pdu.esm_class,
            "short_message": text(pdu.short_message),
            "receipted_message_id": text(getattr(pdu, "receipted_message_id", None)),
            "message_state": getattr(pdu, "message_state", None),
        })
        return smpplib.consts.SMPP_ESME_ROK

    def query(pdu, **_):
        summary["query"] = {
            "status": pdu.status,
            "message_id": pdu.message_id.decode() if isinstance(pdu.message_id, bytes) else pdu.message_id,
            "message_state": pdu.message_state,
        }

    client.set_message_sent_handler(sent)
    client.set_message_received_handler(received)
    client.set_query_resp_handler(query)
    client.connect()
    bind = client.bind_transceiver(system_id=a.system_id, password=a.password)
    summary["bind"] = {"status": bind.status, "system_id": bind.system_id.decode()}

    parts_total = 0
    for i, t in enumerate(a.texts):
        parts, coding, esm_class = smpplib.gsm.make_parts(t)
        for part in parts:
            pdu = client.send_message(
                source_addr_ton=smpplib.consts.SMPP_TON_ALNUM,
                source_addr_npi=smpplib.consts.SMPP_NPI_UNK,
                source_addr="Interop",
                dest_addr_ton=smpplib.consts.SMPP_TON_INTL,
                dest_addr_npi=smpplib.consts.SMPP_NPI_ISDN,
                destination_addr="233241234567",
                short_message=part,
                data_coding=coding,
                esm_class=esm_class,
                registered_delivery=True,
            )
            summary.setdefault("sequences", []).append({"text": i, "sequence": pdu.sequence,
                                                      "data_coding": coding, "esm_class": esm_class})
            parts_total += 1

    deadline = time.monotonic() + a.timeout
    while len(summary["submits"]) < parts_total and time.monotonic() < deadline:
        client.read_once()
    if not summary["submits"]:
        sys.exit("no submit_sm_resp")
    client.query_message(message_id=summary["submits"][0]["message_id"],
                         source_addr_ton=smpplib.consts.SMPP_TON_ALNUM,
                         source_addr_npi=smpplib.consts.SMPP_NPI_UNK,
                         source_addr="Interop")
    while (len(summary["receipts"]) < parts_total or summary["query"] is None) \
            and time.monotonic() < deadline:
        client.read_once()

    client.send_pdu(smpplib.smpp.make_pdu("enquire_link", client=client))
    while summary["enquire_link"] is None and time.monotonic() < deadline:
        pdu = client.read_pdu()
        if pdu.command == "enquire_link_resp":
            summary["enquire_link"] = pdu.status
        elif pdu.command == "deliver_sm":
            client._message_received(pdu)
    unbind = client.unbind()
    summary["unbind"] = unbind.status if unbind is not None else None
    client.disconnect()
    json.dump(summary, sys.stdout)


if __name__ == "__main__":
    main()
