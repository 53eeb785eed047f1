"""Russian Post emulator as a tracking load target: numbers per second through the batch
ticket method (getTicket + getResponseByTicket, 3000 numbers per ticket), raw SOAP and through
the adapter (building the requests and parsing the answers included). The emulator runs in its
own process, with tickets answered at once."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

import httpx

from _setup import result

PORT = int(os.environ.get("BENCH_RUSSIAN_POST_PORT", "18150"))
ROUNDS = 5
TICKET = 3000


def main() -> None:
    from shipdesk.carriers.russian_post import barcodes
    from shipdesk.carriers.russian_post.adapter import Adapter

    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "shipdesk.carriers.russian_post.emulator",
            "--port",
            str(PORT),
            "--speed",
            "1",
            "--ticket-delay",
            "0",  # answers ready at once: this measures the protocol, not the wait
        ],
        stdout=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{PORT}"
    try:
        for _ in range(100):
            try:
                httpx.get(f"{url}/fc?wsdl", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        numbers = [barcodes.rp14_make(f"8008474{i:06d}") for i in range(ROUNDS * TICKET)]
        adapter = Adapter(
            credentials={"token": "test-token", "login": "test", "password": "test"},
            base_url=url,
            settings={"ticket_poll_interval": 0.01},
            http=httpx.Client(timeout=60),
        )
        # raw protocol: envelopes built once, the emulator's work measured
        client = httpx.Client(timeout=60)
        headers = {"Content-Type": "text/xml;charset=UTF-8"}
        started = time.perf_counter()
        events = 0
        for r in range(ROUNDS):
            items = "".join(f'<ns1:Item Barcode="{n}"/>' for n in numbers[r * TICKET : (r + 1) * TICKET])
            ticket_body = (
                '<?xml version="1.0"?><S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Body>'
                '<ns0:ticketRequest xmlns:ns0="http://fclient.russianpost.org/postserver" '
                f'xmlns:ns1="http://fclient.russianpost.org"><ns0:request>{items}</ns0:request>'
                "<ns0:login>test</ns0:login><ns0:password>test</ns0:password><ns0:language>RUS</ns0:language>"
                "</ns0:ticketRequest></S:Body></S:Envelope>"
            )
            reply = client.post(f"{url}/fc", content=ticket_body, headers=headers).text
            ticket = reply.split("<ns2:value>")[1].split("</ns2:value>")[0]
            answer_body = (
                '<?xml version="1.0"?><S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Body>'
                '<ns0:answerByTicketRequest xmlns:ns0="http://fclient.russianpost.org/postserver">'
                f"<ns0:ticket>{ticket}</ns0:ticket><ns0:login>test</ns0:login><ns0:password>test</ns0:password>"
                "</ns0:answerByTicketRequest></S:Body></S:Envelope>"
            )
            events += client.post(f"{url}/fc", content=answer_body, headers=headers).text.count(
                "<ns3:Operation "
            )
        raw_rate = ROUNDS * TICKET / (time.perf_counter() - started)
        result(
            "russian_post_emulator_ticket_numbers_per_s",
            raw_rate,
            "numbers/s",
            ">=",
            2000,
            f"({events} events, {ROUNDS}x{TICKET} numbers)",
        )

        started = time.perf_counter()
        tracked = adapter.track(numbers)
        adapter_rate = len(numbers) / (time.perf_counter() - started)
        assert len(tracked.events) == events, (len(tracked.events), events)
        result(
            "russian_post_adapter_track_numbers_per_s",
            adapter_rate,
            "numbers/s",
            ">=",
            1000,
            f"({len(tracked.events)} events; requests written directly, answers read with lxml)",
        )
    finally:
        proc.terminate()
        proc.wait(timeout=10)


if __name__ == "__main__":
    main()
